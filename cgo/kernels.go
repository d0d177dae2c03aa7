//go:build cgo

package cgo

/*
#include <crunch.h>
*/
import "C"

import (
	"math"
	"unsafe"
)

// Noop calls crunch_noop: the cost of crossing into C and back.
func Noop(x *Ctx) error {
	return check("crunch_noop", C.crunch_noop(x.cptr()))
}

// Modsum returns the sum over 0 <= i < iters of ((i*n) mod 97) with the
// non-negative modulo (crunch_modsum).
func Modsum(x *Ctx, n, iters int64) (int64, error) {
	var total C.int64_t
	err := check("crunch_modsum", C.crunch_modsum(x.cptr(), C.int64_t(n), C.int64_t(iters), &total))
	return int64(total), err
}

// Transpose tells gemm whether to use a matrix or its transpose.
type Transpose bool

// GemmF64 computes C = alpha*op(A)*op(B) + beta*C on row-major matrices,
// as crunch_gemm_f64 (see include/crunch.h). The slices must hold the
// matrices their sizes and leading dimensions describe; the binding checks
// that before calling C, which cannot.
func GemmF64(x *Ctx, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int,
	b []float64, ldb int, beta float64, c []float64, ldc int) error {
	const fn = "crunch_gemm_f64"
	if err := gemmCheck(fn, transA, transB, m, n, k, alpha, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		return err
	}
	return check(fn, C.crunch_gemm_f64(x.cptr(), cbool(transA), cbool(transB),
		C.size_t(m), C.size_t(n), C.size_t(k),
		C.double(alpha), f64p(a), C.size_t(lda), f64p(b), C.size_t(ldb),
		C.double(beta), f64p(c), C.size_t(ldc)))
}

// GemmF32 is GemmF64 for float32 (crunch_gemm_f32).
func GemmF32(x *Ctx, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) error {
	const fn = "crunch_gemm_f32"
	if err := gemmCheck(fn, transA, transB, m, n, k, float64(alpha), len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		return err
	}
	return check(fn, C.crunch_gemm_f32(x.cptr(), cbool(transA), cbool(transB),
		C.size_t(m), C.size_t(n), C.size_t(k),
		C.float(alpha), f32p(a), C.size_t(lda), f32p(b), C.size_t(ldb),
		C.float(beta), f32p(c), C.size_t(ldc)))
}

// gemmCheck refuses sizes C would accept but the slices cannot back:
// negative sizes, and slices shorter than rows*ld. Leading dimensions are
// left to C, which checks them against the sizes.
func gemmCheck(fn string, transA, transB bool, m, n, k int, alpha float64,
	lenA, lda, lenB, ldb, lenC, ldc int) error {
	if m < 0 || n < 0 || k < 0 || lda < 0 || ldb < 0 || ldc < 0 {
		return invalid(fn, "negative size: m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", m, n, k, lda, ldb, ldc)
	}
	if m == 0 || n == 0 {
		return nil
	}
	if need := span(m, n, ldc); lenC < need {
		return invalid(fn, "c has %d elements, needs %d for %dx%d with ldc=%d", lenC, need, m, n, ldc)
	}
	if k == 0 || alpha == 0 {
		return nil // A and B are not read
	}
	ra, ca := m, k
	if transA {
		ra, ca = k, m
	}
	if need := span(ra, ca, lda); lenA < need {
		return invalid(fn, "a has %d elements, needs %d for %dx%d with lda=%d", lenA, need, ra, ca, lda)
	}
	rb, cb := k, n
	if transB {
		rb, cb = n, k
	}
	if need := span(rb, cb, ldb); lenB < need {
		return invalid(fn, "b has %d elements, needs %d for %dx%d with ldb=%d", lenB, need, rb, cb, ldb)
	}
	return nil
}

// span is the number of elements a rows x cols matrix with leading
// dimension ld occupies: (rows-1)*ld + cols, saturating at MaxInt so that
// an overflow reads as "too short".
func span(rows, cols, ld int) int {
	if ld < cols {
		return cols // C rejects the ld itself, with its own status
	}
	if rows-1 > 0 && ld > (math.MaxInt-cols)/(rows-1) {
		return math.MaxInt
	}
	return (rows-1)*ld + cols
}

// f64p and f32p return a C pointer to s[0], or nil for an empty slice.
// Used in the call expression itself, so cgo keeps s alive (Go never moves
// heap memory) for the call's duration and C keeps no copy of the pointer.
func f64p(s []float64) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&s[0]))
}

func f32p(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
