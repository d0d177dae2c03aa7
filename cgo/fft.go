//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
*/
import "C"

import "unsafe"

// FFTNorm says which direction of an FFT is scaled, as NumPy's norm
// argument (crunch_fft_norm).
type FFTNorm int

// The norms of numpy.fft.
const (
	FFTBackward FFTNorm = C.CRUNCH_FFT_BACKWARD // forward unscaled, inverse by 1/n
	FFTOrtho    FFTNorm = C.CRUNCH_FFT_ORTHO    // both by 1/sqrt(n)
	FFTForward  FFTNorm = C.CRUNCH_FFT_FORWARD  // forward by 1/n, inverse unscaled
)

// fftNorms are the norms by NumPy's names.
var fftNorms = &enum[FFTNorm]{typ: "FFTNorm", what: "FFT norm",
	values: []FFTNorm{FFTBackward, FFTOrtho, FFTForward}, names: []string{"backward", "ortho", "forward"}}

// String returns NumPy's name of the norm: "backward", "ortho" or "forward".
func (n FFTNorm) String() string { return fftNorms.name(n) }

// ParseFFTNorm returns the norm NumPy calls s.
func ParseFFTNorm(s string) (FFTNorm, error) { return fftNorms.parse(s) }

// FFTC128 computes the DFT (inverse DFT when inverse) of batch rows of n
// complex numbers each, in[b*n:(b+1)*n] into out[b*n:(b+1)*n], as
// numpy.fft.fft / ifft along the last axis (crunch_fft_c128 in
// include/crunch.h). out may be in itself; otherwise they must not
// overlap. n must be at least 1; any length works.
func FFTC128(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in, out []complex128) error {
	return fft(x, inverse, norm, batch, n, in, out)
}

// FFTC64 is FFTC128 for complex64, computed in float32 (crunch_fft_c64).
func FFTC64(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in, out []complex64) error {
	return fft(x, inverse, norm, batch, n, in, out)
}

// FFTF64 is FFTC128 of real rows: in holds batch rows of n float64s and
// out receives their full complex spectra (crunch_fft_f64), faster than
// promoting in and transforming the copy. in and out must not overlap.
func FFTF64(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in []float64, out []complex128) error {
	return fft(x, inverse, norm, batch, n, in, out)
}

// FFTF32 is FFTF64 for float32 rows into complex64 (crunch_fft_f32).
func FFTF32(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in []float32, out []complex64) error {
	return fft(x, inverse, norm, batch, n, in, out)
}

// fft is FFTC128, FFTC64, FFTF64 and FFTF32: the C function for in's
// type. Out is the complex type of In's precision, as the exported
// functions pair them.
func fft[In float32 | float64 | complex64 | complex128, Out complex64 | complex128](x *Ctx,
	inverse bool, norm FFTNorm, batch, n int, in []In, out []Out) error {
	var fn string
	switch any(in).(type) {
	case []complex128:
		fn = "crunch_fft_c128"
	case []complex64:
		fn = "crunch_fft_c64"
	case []float64:
		fn = "crunch_fft_f64"
	case []float32:
		fn = "crunch_fft_f32"
	}
	if err := fftCheck(fn, batch, n, in, out); err != nil {
		return err
	}
	inv, nrm, b, nn := cbool(inverse), C.crunch_fft_norm(norm), C.size_t(batch), C.size_t(n)
	var st C.crunch_status
	// The C API takes complex numbers as interleaved (re, im) scalars.
	switch in := any(in).(type) {
	case []complex128:
		st = C.crunch_go_fft_c128(x.shadowp(), x.cptr(), inv, nrm, b, nn, cptr[C.double](in), cptr[C.double](out))
	case []complex64:
		st = C.crunch_go_fft_c64(x.shadowp(), x.cptr(), inv, nrm, b, nn, cptr[C.float](in), cptr[C.float](out))
	case []float64:
		st = C.crunch_go_fft_f64(x.shadowp(), x.cptr(), inv, nrm, b, nn, f64p(in), cptr[C.double](out))
	case []float32:
		st = C.crunch_go_fft_f32(x.shadowp(), x.cptr(), inv, nrm, b, nn, f32p(in), cptr[C.float](out))
	}
	return check(fn, st)
}

// FFTCacheClear frees the C library's cached FFT plans that no call is
// using (crunch_fft_cache_clear); later calls rebuild what they need.
func FFTCacheClear() { C.crunch_fft_cache_clear() }

// fftCheck refuses what C would accept but the slices cannot back:
// negative sizes, slices shorter than batch*n, and in and out overlapping
// (C cannot tell), unless, for complex input, they are the same slice.
// n == 0 and an unknown norm are left to C, which refuses them with its
// own status.
func fftCheck[In, Out any](fn string, batch, n int, in []In, out []Out) error {
	if batch < 0 || n < 0 {
		return invalid(fn, "negative size: batch=%d n=%d", batch, n)
	}
	if batch == 0 || n == 0 {
		return nil
	}
	if batch > (1<<62)/n {
		return invalid(fn, "batch=%d rows of n=%d overflow", batch, n)
	}
	need := batch * n
	if len(in) < need || len(out) < need {
		return invalid(fn, "in has %d and out %d elements, need %d for %d rows of %d", len(in), len(out), need, batch, n)
	}
	// Compare addresses only: nothing keeps them as pointers.
	a, b := uintptr(unsafe.Pointer(unsafe.SliceData(in))), uintptr(unsafe.Pointer(unsafe.SliceData(out)))
	sa, sb := uintptr(need)*unsafe.Sizeof(in[0]), uintptr(need)*unsafe.Sizeof(out[0])
	inPlace := a == b && sa == sb // complex input transformed in itself
	if !inPlace && a < b+sb && b < a+sa {
		if sa == sb {
			return invalid(fn, "in and out overlap without being the same slice")
		}
		return invalid(fn, "in and out overlap")
	}
	return nil
}
