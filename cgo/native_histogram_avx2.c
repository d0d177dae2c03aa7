//go:build cgo && !crunch_system

/* Compiles native/histogram_avx2.c into package cgo, so that go build needs no
 * separate C build step. One wrapper per source keeps each file's static
 * names private to it, exactly as in the CMake build. */
#include "../native/histogram_avx2.c"
