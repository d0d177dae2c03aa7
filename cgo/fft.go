//go:build cgo

package cgo

/*
#include <crunch.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// FFTNorm says which direction of an FFT is scaled, as NumPy's norm
// argument (crunch_fft_norm).
type FFTNorm int

// The norms of numpy.fft.
const (
	FFTBackward FFTNorm = C.CRUNCH_FFT_BACKWARD // forward unscaled, inverse by 1/n
	FFTOrtho    FFTNorm = C.CRUNCH_FFT_ORTHO    // both by 1/sqrt(n)
	FFTForward  FFTNorm = C.CRUNCH_FFT_FORWARD  // forward by 1/n, inverse unscaled
)

// String returns NumPy's name of the norm: "backward", "ortho" or "forward".
func (n FFTNorm) String() string {
	switch n {
	case FFTBackward:
		return "backward"
	case FFTOrtho:
		return "ortho"
	case FFTForward:
		return "forward"
	}
	return fmt.Sprintf("FFTNorm(%d)", int(n))
}

// ParseFFTNorm returns the norm NumPy calls s.
func ParseFFTNorm(s string) (FFTNorm, error) {
	for _, n := range []FFTNorm{FFTBackward, FFTOrtho, FFTForward} {
		if n.String() == s {
			return n, nil
		}
	}
	return 0, fmt.Errorf("unknown FFT norm %q (want backward, ortho or forward)", s)
}

// FFTC128 computes the DFT (inverse DFT when inverse) of batch rows of n
// complex numbers each, in[b*n:(b+1)*n] into out[b*n:(b+1)*n], as
// numpy.fft.fft / ifft along the last axis (crunch_fft_c128 in
// include/crunch.h). out may be in itself; otherwise they must not
// overlap. n must be at least 1; any length works.
func FFTC128(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in, out []complex128) error {
	const fn = "crunch_fft_c128"
	if err := fftCheck(fn, batch, n, len(in), len(out), unsafe.Pointer(unsafe.SliceData(in)),
		unsafe.Pointer(unsafe.SliceData(out)), 16); err != nil {
		return err
	}
	return check(fn, C.crunch_fft_c128(x.cptr(), cbool(inverse), C.crunch_fft_norm(norm),
		C.size_t(batch), C.size_t(n), c128p(in), c128p(out)))
}

// FFTC64 is FFTC128 for complex64, computed in float32 (crunch_fft_c64).
func FFTC64(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in, out []complex64) error {
	const fn = "crunch_fft_c64"
	if err := fftCheck(fn, batch, n, len(in), len(out), unsafe.Pointer(unsafe.SliceData(in)),
		unsafe.Pointer(unsafe.SliceData(out)), 8); err != nil {
		return err
	}
	return check(fn, C.crunch_fft_c64(x.cptr(), cbool(inverse), C.crunch_fft_norm(norm),
		C.size_t(batch), C.size_t(n), c64p(in), c64p(out)))
}

// FFTF64 is FFTC128 of real rows: in holds batch rows of n float64s and
// out receives their full complex spectra (crunch_fft_f64), faster than
// promoting in and transforming the copy. in and out must not overlap.
func FFTF64(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in []float64, out []complex128) error {
	const fn = "crunch_fft_f64"
	if err := fftRealCheck(fn, batch, n, len(in), len(out), unsafe.Pointer(unsafe.SliceData(in)),
		unsafe.Pointer(unsafe.SliceData(out)), 8); err != nil {
		return err
	}
	return check(fn, C.crunch_fft_f64(x.cptr(), cbool(inverse), C.crunch_fft_norm(norm),
		C.size_t(batch), C.size_t(n), f64p(in), c128p(out)))
}

// FFTF32 is FFTF64 for float32 rows into complex64 (crunch_fft_f32).
func FFTF32(x *Ctx, inverse bool, norm FFTNorm, batch, n int, in []float32, out []complex64) error {
	const fn = "crunch_fft_f32"
	if err := fftRealCheck(fn, batch, n, len(in), len(out), unsafe.Pointer(unsafe.SliceData(in)),
		unsafe.Pointer(unsafe.SliceData(out)), 4); err != nil {
		return err
	}
	return check(fn, C.crunch_fft_f32(x.cptr(), cbool(inverse), C.crunch_fft_norm(norm),
		C.size_t(batch), C.size_t(n), f32p(in), c64p(out)))
}

// FFTCacheClear frees the C library's cached FFT plans that no call is
// using (crunch_fft_cache_clear); later calls rebuild what they need.
func FFTCacheClear() { C.crunch_fft_cache_clear() }

// fftCheck refuses what C would accept but the slices cannot back:
// negative sizes, slices shorter than batch*n, and in and out overlapping
// without being the same slice (C cannot tell). n == 0 and an unknown
// norm are left to C, which refuses them with its own status.
func fftCheck(fn string, batch, n, lenIn, lenOut int, in, out unsafe.Pointer, es uintptr) error {
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
	if lenIn < need || lenOut < need {
		return invalid(fn, "in has %d and out %d elements, need %d for %d rows of %d", lenIn, lenOut, need, batch, n)
	}
	// Compare addresses only: nothing keeps them as pointers.
	a, b, size := uintptr(in), uintptr(out), uintptr(need)*es
	if a != b && a < b+size && b < a+size {
		return invalid(fn, "in and out overlap without being the same slice")
	}
	return nil
}

// fftRealCheck is fftCheck for real input of element size es and complex
// output of 2*es: the two must not overlap at all.
func fftRealCheck(fn string, batch, n, lenIn, lenOut int, in, out unsafe.Pointer, es uintptr) error {
	if err := fftCheck(fn, batch, n, lenIn, lenOut, nil, nil, es); err != nil || batch == 0 || n == 0 {
		return err
	}
	a, b, sa, sb := uintptr(in), uintptr(out), uintptr(batch*n)*es, uintptr(batch*n)*2*es
	if a < b+sb && b < a+sa {
		return invalid(fn, "in and out overlap")
	}
	return nil
}

// c128p and c64p return a C pointer to s[0] as the C API's interleaved
// (re, im) scalars, or nil for an empty slice; used in the call expression
// itself, like f64p.
func c128p(s []complex128) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&s[0]))
}

func c64p(s []complex64) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}
