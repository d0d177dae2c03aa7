//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
*/
import "C"

// SolveF64 solves A X = B for X (crunch_solve_f64): A is n x n with row
// stride lda, B and X are n x nrhs with row strides ldb and ldx, all
// row-major. x may be b itself (the same slice, ldx == ldb) to solve in
// place; otherwise x must not share memory with a or b. A singular or
// nearly singular A, or NaN or Inf in A or B, gives an error matching
// ErrNumerical.
func SolveF64(x *Ctx, n, nrhs int, a []float64, lda int, b []float64, ldb int, out []float64, ldx int) error {
	const fn = "crunch_solve_f64"
	if n < 0 || nrhs < 0 || lda < 0 || ldb < 0 || ldx < 0 {
		return invalid(fn, "negative size: n=%d nrhs=%d lda=%d ldb=%d ldx=%d", n, nrhs, lda, ldb, ldx)
	}
	if n > 0 {
		if need := span(n, n, lda); len(a) < need {
			return invalid(fn, "a has %d elements, needs %d for %dx%d with lda=%d", len(a), need, n, n, lda)
		}
	}
	if n > 0 && nrhs > 0 {
		if need := span(n, nrhs, ldb); len(b) < need {
			return invalid(fn, "b has %d elements, needs %d for %dx%d with ldb=%d", len(b), need, n, nrhs, ldb)
		}
		if need := span(n, nrhs, ldx); len(out) < need {
			return invalid(fn, "x has %d elements, needs %d for %dx%d with ldx=%d", len(out), need, n, nrhs, ldx)
		}
	}
	return check(fn, C.crunch_go_solve_f64(x.shadowp(), x.cptr(), C.size_t(n), C.size_t(nrhs),
		f64p(a), C.size_t(lda), f64p(b), C.size_t(ldb), f64p(out), C.size_t(ldx)))
}
