//go:build cgo && !crunch_system

package cgo

// The C sources are built like the CMake library's: C11 with GNU
// extensions, optimised, baseline x86-64 (SIMD paths are chosen at run time,
// never with -march=native).

/*
#cgo CFLAGS: -std=gnu11 -O2 -I${SRCDIR}/../include -I${SRCDIR}/../native
#cgo LDFLAGS: -lm
*/
import "C"
