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

// HistogramF64 counts v into len(counts) equal bins spanning [lo, hi],
// count for count as NumPy's np.histogram(v, len(counts), range=(lo, hi))
// (crunch_histogram_f64; include/crunch.h states the rule): counts[b] is
// the number of elements in bin b; NaN and elements outside [lo, hi] are
// not counted, and the last bin includes hi. edges may be nil; otherwise
// it must hold len(counts)+1 elements and receives NumPy's bin edges.
// lo == hi widens the range to [lo-0.5, hi+0.5], as NumPy does. For
// np.histogram(v, bins) without a range, take lo and hi from
// HistogramRangeF64.
func HistogramF64(x *Ctx, v []float64, lo, hi float64, counts []int64, edges []float64) error {
	const fn = "crunch_histogram_f64"
	if err := histogramCheck(fn, lo, hi, len(counts), edges); err != nil {
		return err
	}
	return check(fn, C.crunch_histogram_f64(x.cptr(), f64p(v), C.size_t(len(v)), C.size_t(len(counts)),
		C.double(lo), C.double(hi), (*C.int64_t)(unsafe.Pointer(&counts[0])), f64p(edges)))
}

// HistogramF32 is HistogramF64 for float32 input, computed in float32 as
// NumPy computes it for a float32 array (crunch_histogram_f32); edges
// receives NumPy's float32 edges, as float64s.
func HistogramF32(x *Ctx, v []float32, lo, hi float64, counts []int64, edges []float64) error {
	const fn = "crunch_histogram_f32"
	if err := histogramCheck(fn, lo, hi, len(counts), edges); err != nil {
		return err
	}
	return check(fn, C.crunch_histogram_f32(x.cptr(), f32p(v), C.size_t(len(v)), C.size_t(len(counts)),
		C.double(lo), C.double(hi), (*C.int64_t)(unsafe.Pointer(&counts[0])), f64p(edges)))
}

// HistogramRangeF64 returns the range np.histogram uses when it is given
// none (crunch_histogram_range_f64): the smallest and largest element of
// v, widened by 0.5 each way when they are equal, [0, 1] for an empty v.
// NaN or ±Inf in v gives an error matching ErrNumerical.
func HistogramRangeF64(x *Ctx, v []float64) (lo, hi float64, err error) {
	var l, h C.double
	err = check("crunch_histogram_range_f64", C.crunch_histogram_range_f64(x.cptr(), f64p(v), C.size_t(len(v)), &l, &h))
	return float64(l), float64(h), err
}

// HistogramRangeF32 is HistogramRangeF64 for float32 input
// (crunch_histogram_range_f32).
func HistogramRangeF32(x *Ctx, v []float32) (lo, hi float64, err error) {
	var l, h C.double
	err = check("crunch_histogram_range_f32", C.crunch_histogram_range_f32(x.cptr(), f32p(v), C.size_t(len(v)), &l, &h))
	return float64(l), float64(h), err
}

// histogramCheck refuses what C would refuse without saying why, and what
// C cannot see: no bins, and too short an edges slice.
func histogramCheck(fn string, lo, hi float64, bins int, edges []float64) error {
	if bins < 1 {
		return invalid(fn, "counts is empty: there must be at least one bin")
	}
	if edges != nil && len(edges) < bins+1 {
		return invalid(fn, "edges has %d elements, needs %d for %d bins", len(edges), bins+1, bins)
	}
	if math.IsNaN(lo) || math.IsInf(lo, 0) || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return invalid(fn, "range [%v, %v] is not finite", lo, hi)
	}
	if lo > hi {
		return invalid(fn, "range [%v, %v]: lo is above hi", lo, hi)
	}
	return nil
}
