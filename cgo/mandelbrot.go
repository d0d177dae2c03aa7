//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
*/
import "C"

import "math"

// MandelbrotMaxIter is the largest maxIter Mandelbrot accepts: 2^31
// (CRUNCH_MANDELBROT_MAX_ITER).
const MandelbrotMaxIter = C.CRUNCH_MANDELBROT_MAX_ITER

// Mandelbrot stores in counts[r*width+j] the escape count of the pixel in
// row r, column j, which samples c = (xMin + (xMax-xMin)*j/width) +
// i(yMin + (yMax-yMin)*r/height): the smallest k >= 1 with |z_k|^2 > 4
// (z_0 = 0, z_{k+1} = z_k^2 + c), or maxIter if there is none below it
// (crunch_mandelbrot; include/crunch.h gives the exact order of the
// floating-point operations, which every SIMD path follows).
//
// counts must hold at least width*height elements; the bounds must be
// finite and 1 <= maxIter <= MandelbrotMaxIter.
func Mandelbrot(x *Ctx, width, height int, xMin, xMax, yMin, yMax float64, maxIter int64, counts []uint32) error {
	const fn = "crunch_mandelbrot"
	if err := mandelbrotCheck(fn, width, height, xMin, xMax, yMin, yMax, maxIter, len(counts)); err != nil {
		return err
	}
	return check(fn, C.crunch_go_mandelbrot(x.shadowp(), x.cptr(), C.size_t(width), C.size_t(height),
		C.double(xMin), C.double(xMax), C.double(yMin), C.double(yMax), C.int64_t(maxIter), cptr[C.uint32_t](counts)))
}

// mandelbrotCheck refuses what C would refuse without saying why, and
// what C cannot see: negative sizes, and too short a counts slice.
func mandelbrotCheck(fn string, width, height int, xMin, xMax, yMin, yMax float64, maxIter int64, n int) error {
	if width < 0 || height < 0 {
		return invalid(fn, "negative size: width=%d height=%d", width, height)
	}
	for _, b := range []struct {
		name string
		v    float64
	}{{"x_min", xMin}, {"x_max", xMax}, {"y_min", yMin}, {"y_max", yMax}} {
		if math.IsNaN(b.v) || math.IsInf(b.v, 0) {
			return invalid(fn, "%s is %v, must be finite", b.name, b.v)
		}
	}
	if maxIter < 1 || maxIter > MandelbrotMaxIter {
		return invalid(fn, "max_iter is %d, must be in [1, %d]", maxIter, int64(MandelbrotMaxIter))
	}
	if width > 0 && height > math.MaxInt/4/width {
		return invalid(fn, "a %dx%d image of 4-byte counts overflows", width, height)
	}
	if n < width*height {
		return invalid(fn, "counts has %d elements, needs %d for %dx%d", n, width*height, width, height)
	}
	return nil
}
