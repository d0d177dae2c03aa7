//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
*/
import "C"

import (
	"math"
	"unsafe"
)

// Noop calls crunch_noop: the cost of crossing into C and back.
func Noop(x *Ctx) error {
	return check("crunch_noop", C.crunch_go_noop(x.shadowp(), x.cptr()))
}

// Modsum returns the sum over 0 <= i < iters of ((i*n) mod 97) with the
// non-negative modulo (crunch_modsum).
func Modsum(x *Ctx, n, iters int64) (int64, error) {
	var total C.int64_t
	err := check("crunch_modsum", C.crunch_go_modsum(x.shadowp(), x.cptr(), C.int64_t(n), C.int64_t(iters), &total))
	return int64(total), err
}

// Histogram counts v into len(counts) equal bins spanning [lo, hi],
// count for count as NumPy's np.histogram(v, len(counts), range=(lo, hi))
// on a float64 or float32 array, in v's precision (crunch_histogram_f64 /
// _f32; include/crunch.h states the rule): counts[b] is the number of
// elements in bin b; NaN and elements outside [lo, hi] are not counted,
// and the last bin includes hi. edges may be nil; otherwise it must hold
// len(counts)+1 elements and receives NumPy's bin edges (for float32 v,
// its float32 edges, as float64s). lo == hi widens the range to
// [lo-0.5, hi+0.5], as NumPy does.
func Histogram[T float32 | float64](x *Ctx, v []T, lo, hi float64, counts []int64, edges []float64) error {
	fn := "crunch_histogram_f64"
	if _, ok := any(v).([]float32); ok {
		fn = "crunch_histogram_f32"
	}
	if err := histogramCheck(fn, len(counts), edges); err != nil {
		return err
	}
	var st C.crunch_status
	switch v := any(v).(type) {
	case []float64:
		st = C.crunch_go_histogram_f64(x.shadowp(), x.cptr(), f64p(v), C.size_t(len(v)), C.size_t(len(counts)),
			C.double(lo), C.double(hi), cptr[C.int64_t](counts), f64p(edges))
	case []float32:
		st = C.crunch_go_histogram_f32(x.shadowp(), x.cptr(), f32p(v), C.size_t(len(v)), C.size_t(len(counts)),
			C.double(lo), C.double(hi), cptr[C.int64_t](counts), f64p(edges))
	}
	return check(fn, st)
}

// histogramCheck refuses what C cannot see, as C would read or write
// outside the slices: no bins, and too short an edges slice. C checks the
// range itself.
func histogramCheck(fn string, bins int, edges []float64) error {
	if bins < 1 {
		return invalid(fn, "counts is empty: there must be at least one bin")
	}
	if edges != nil && len(edges) < bins+1 {
		return invalid(fn, "edges has %d elements, needs %d for %d bins", len(edges), bins+1, bins)
	}
	return nil
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
	return check(fn, C.crunch_go_gemm_f64(x.shadowp(), x.cptr(), cbool(transA), cbool(transB),
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
	return check(fn, C.crunch_go_gemm_f32(x.shadowp(), x.cptr(), cbool(transA), cbool(transB),
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

// cptr returns a C pointer of type *P to s[0], or nil for an empty slice:
// P is the C type of s's elements, or of their parts (C.double for
// complex128, which the C API takes as interleaved re, im). Used in the
// call expression itself, so cgo keeps s alive (Go never moves heap
// memory) for the call's duration and C keeps no copy of the pointer.
func cptr[P, T any](s []T) *P {
	if len(s) == 0 {
		return nil
	}
	return (*P)(unsafe.Pointer(&s[0]))
}

// f64p and f32p are cptr of the commonest slices.
func f64p(s []float64) *C.double { return cptr[C.double](s) }
func f32p(s []float32) *C.float  { return cptr[C.float](s) }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
