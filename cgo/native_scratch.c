//go:build cgo && !crunch_system

/* Compiles native/scratch.c into package cgo (see native_gemm.c). */
#include "../native/scratch.c"
