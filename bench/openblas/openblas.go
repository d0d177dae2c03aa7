//go:build openblas

// Package openblas calls OpenBLAS's cblas_dgemm and cblas_sgemm, for
// benchmarks only: it shows how close crunch's kernels come to the best
// library on this CPU. It runs them on one thread unless SetThreads says
// otherwise. crunch itself never links OpenBLAS; this
// package builds only with the tag openblas (make bench adds it when
// Debian's libopenblas-dev is installed: make bench-deps).
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int);
*/
import "C"

import "unsafe"

// Available reports whether this build links OpenBLAS.
const Available = true

// The kernel benchmarks compare single-threaded figures: OpenBLAS would
// otherwise use every CPU.
func init() { SetThreads(1) }

// SetThreads sets how many threads OpenBLAS's calls use from now on
// (openblas_set_num_threads); a benchmark that changes it sets it back
// to 1 when it ends.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// GemmF64 computes c = a·b for n×n row-major matrices.
func GemmF64(n int, a, b, c []float64) {
	C.cblas_dgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(n), C.blasint(n), C.blasint(n),
		1, (*C.double)(unsafe.Pointer(&a[0])), C.blasint(n), (*C.double)(unsafe.Pointer(&b[0])), C.blasint(n),
		0, (*C.double)(unsafe.Pointer(&c[0])), C.blasint(n))
}

// GemmF32 computes c = a·b for n×n row-major matrices.
func GemmF32(n int, a, b, c []float32) {
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(n), C.blasint(n), C.blasint(n),
		1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(n), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(n),
		0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
}
