//go:build cgo && !crunch_system

/* Compiles native/bigbuf.c into package cgo (see native_gemm.c). */
#include "../native/bigbuf.c"
