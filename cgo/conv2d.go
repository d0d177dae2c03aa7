//go:build cgo

package cgo

/*
#include <crunch.h>
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"
)

// ConvMode says which part of the full 2-D convolution Conv2D returns, as
// scipy.signal.convolve2d's mode (crunch_conv_mode).
type ConvMode int

// The modes of scipy.signal.convolve2d.
const (
	ConvSame  ConvMode = C.CRUNCH_CONV_SAME  // h x w, centred on the image
	ConvValid ConvMode = C.CRUNCH_CONV_VALID // max(h-kh+1,0) x max(w-kw+1,0)
	ConvFull  ConvMode = C.CRUNCH_CONV_FULL  // (h+kh-1) x (w+kw-1)
)

// String returns SciPy's name of the mode: "same", "valid" or "full".
func (m ConvMode) String() string {
	switch m {
	case ConvSame:
		return "same"
	case ConvValid:
		return "valid"
	case ConvFull:
		return "full"
	}
	return fmt.Sprintf("ConvMode(%d)", int(m))
}

// ParseConvMode returns the mode SciPy calls s.
func ParseConvMode(s string) (ConvMode, error) {
	for _, m := range []ConvMode{ConvSame, ConvValid, ConvFull} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown convolution mode %q (want same, valid or full)", s)
}

// Conv2DShape returns the output size of an h x w image convolved with a
// kh x kw kernel in mode m, and where that output starts in the full
// convolution (row r0, column c0): the rules of crunch_conv2d_shape. It
// refuses negative sizes, an empty kernel, an unknown mode, and outputs
// whose element count overflows an int.
func Conv2DShape(m ConvMode, h, w, kh, kw int) (oh, ow, r0, c0 int, err error) {
	oh, ow, r0, c0, bad := conv2DShape(m, h, w, kh, kw)
	if bad != "" {
		return 0, 0, 0, 0, invalid("crunch_conv2d_shape", "%s", bad)
	}
	return oh, ow, r0, c0, nil
}

// conv2DShape is Conv2DShape with the reason for a refusal as a string
// ("" when the sizes are fine).
func conv2DShape(m ConvMode, h, w, kh, kw int) (oh, ow, r0, c0 int, bad string) {
	if h < 0 || w < 0 || kh < 1 || kw < 1 {
		return 0, 0, 0, 0, fmt.Sprintf("image %dx%d, kernel %dx%d: sizes must be >= 0, the kernel's >= 1", h, w, kh, kw)
	}
	if h > math.MaxInt-kh || w > math.MaxInt-kw {
		return 0, 0, 0, 0, fmt.Sprintf("image %dx%d, kernel %dx%d: the full size overflows", h, w, kh, kw)
	}
	switch m {
	case ConvFull:
		oh, ow = h+kh-1, w+kw-1
	case ConvSame:
		oh, ow, r0, c0 = h, w, (kh-1)/2, (kw-1)/2
	case ConvValid:
		oh, ow, r0, c0 = max(h-kh+1, 0), max(w-kw+1, 0), kh-1, kw-1
	default:
		return 0, 0, 0, 0, fmt.Sprintf("unknown mode %d", int(m))
	}
	if oh > 0 && ow > math.MaxInt/oh {
		return 0, 0, 0, 0, fmt.Sprintf("output %dx%d overflows", oh, ow)
	}
	return oh, ow, r0, c0, ""
}

// Conv2DF64 stores in out the 2-D convolution (the kernel flipped) of the
// h x w image by the kh x kw kernel in mode m, as
// scipy.signal.convolve2d (crunch_conv2d_f64 in include/crunch.h). All
// three are row-major; out must hold the output Conv2DShape gives and
// overlap neither input.
func Conv2DF64(x *Ctx, m ConvMode, h, w int, image []float64, kh, kw int, kernel, out []float64) error {
	const fn = "crunch_conv2d_f64"
	if err := conv2DCheck(fn, m, h, w, kh, kw, len(image), len(kernel), len(out),
		unsafe.Pointer(unsafe.SliceData(image)), unsafe.Pointer(unsafe.SliceData(kernel)),
		unsafe.Pointer(unsafe.SliceData(out)), 8); err != nil {
		return err
	}
	return check(fn, C.crunch_conv2d_f64(x.cptr(), C.crunch_conv_mode(m), C.size_t(h), C.size_t(w),
		f64p(image), C.size_t(kh), C.size_t(kw), f64p(kernel), f64p(out)))
}

// Conv2DF32 is Conv2DF64 for float32, computed in float32
// (crunch_conv2d_f32).
func Conv2DF32(x *Ctx, m ConvMode, h, w int, image []float32, kh, kw int, kernel, out []float32) error {
	const fn = "crunch_conv2d_f32"
	if err := conv2DCheck(fn, m, h, w, kh, kw, len(image), len(kernel), len(out),
		unsafe.Pointer(unsafe.SliceData(image)), unsafe.Pointer(unsafe.SliceData(kernel)),
		unsafe.Pointer(unsafe.SliceData(out)), 4); err != nil {
		return err
	}
	return check(fn, C.crunch_conv2d_f32(x.cptr(), C.crunch_conv_mode(m), C.size_t(h), C.size_t(w),
		f32p(image), C.size_t(kh), C.size_t(kw), f32p(kernel), f32p(out)))
}

// conv2DCheck refuses what C cannot check: slices shorter than their sizes
// say, and out overlapping an input.
func conv2DCheck(fn string, m ConvMode, h, w, kh, kw, lenImg, lenKer, lenOut int,
	img, ker, out unsafe.Pointer, es uintptr) error {
	oh, ow, _, _, bad := conv2DShape(m, h, w, kh, kw)
	if bad != "" {
		return invalid(fn, "%s", bad)
	}
	if h > 0 && w > math.MaxInt/h || kh > math.MaxInt/kw {
		return invalid(fn, "image %dx%d or kernel %dx%d overflows", h, w, kh, kw)
	}
	if lenImg < h*w || lenKer < kh*kw || lenOut < oh*ow {
		return invalid(fn, "image has %d, kernel %d and out %d elements; %s mode needs %d, %d and %d",
			lenImg, lenKer, lenOut, m, h*w, kh*kw, oh*ow)
	}
	// Compare addresses only: nothing keeps them as pointers.
	o, osize := uintptr(out), uintptr(oh*ow)*es
	for _, in := range []struct {
		p    unsafe.Pointer
		size uintptr
	}{{img, uintptr(h*w) * es}, {ker, uintptr(kh*kw) * es}} {
		a := uintptr(in.p)
		if osize > 0 && in.size > 0 && a < o+osize && o < a+in.size {
			return invalid(fn, "out overlaps an input")
		}
	}
	return nil
}
