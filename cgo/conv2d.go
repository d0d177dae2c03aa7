//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
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

// convModes are the modes by SciPy's names.
var convModes = &enum[ConvMode]{typ: "ConvMode", what: "convolution mode",
	values: []ConvMode{ConvSame, ConvValid, ConvFull}, names: []string{"same", "valid", "full"}}

// String returns SciPy's name of the mode: "same", "valid" or "full".
func (m ConvMode) String() string { return convModes.name(m) }

// ParseConvMode returns the mode SciPy calls s.
func ParseConvMode(s string) (ConvMode, error) { return convModes.parse(s) }

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
	return conv2D(x, m, h, w, image, kh, kw, kernel, out)
}

// Conv2DF32 is Conv2DF64 for float32, computed in float32
// (crunch_conv2d_f32).
func Conv2DF32(x *Ctx, m ConvMode, h, w int, image []float32, kh, kw int, kernel, out []float32) error {
	return conv2D(x, m, h, w, image, kh, kw, kernel, out)
}

// conv2D is Conv2DF64 and Conv2DF32: the C function for T.
func conv2D[T float32 | float64](x *Ctx, m ConvMode, h, w int, image []T, kh, kw int, kernel, out []T) error {
	fn := "crunch_conv2d_f64"
	if _, ok := any(image).([]float32); ok {
		fn = "crunch_conv2d_f32"
	}
	if err := conv2DCheck(fn, m, h, w, kh, kw, image, kernel, out); err != nil {
		return err
	}
	mode, ch, cw, ckh, ckw := C.crunch_conv_mode(m), C.size_t(h), C.size_t(w), C.size_t(kh), C.size_t(kw)
	var st C.crunch_status
	switch image := any(image).(type) {
	case []float64:
		st = C.crunch_go_conv2d_f64(x.shadowp(), x.cptr(), mode, ch, cw, f64p(image), ckh, ckw, cptr[C.double](kernel), cptr[C.double](out))
	case []float32:
		st = C.crunch_go_conv2d_f32(x.shadowp(), x.cptr(), mode, ch, cw, f32p(image), ckh, ckw, cptr[C.float](kernel), cptr[C.float](out))
	}
	return check(fn, st)
}

// conv2DCheck refuses what C cannot check: slices shorter than their sizes
// say, and out overlapping an input.
func conv2DCheck[T any](fn string, m ConvMode, h, w, kh, kw int, image, kernel, out []T) error {
	oh, ow, _, _, bad := conv2DShape(m, h, w, kh, kw)
	if bad != "" {
		return invalid(fn, "%s", bad)
	}
	if h > 0 && w > math.MaxInt/h || kh > math.MaxInt/kw {
		return invalid(fn, "image %dx%d or kernel %dx%d overflows", h, w, kh, kw)
	}
	if len(image) < h*w || len(kernel) < kh*kw || len(out) < oh*ow {
		return invalid(fn, "image has %d, kernel %d and out %d elements; %s mode needs %d, %d and %d",
			len(image), len(kernel), len(out), m, h*w, kh*kw, oh*ow)
	}
	// Compare addresses only: nothing keeps them as pointers.
	addr := func(s []T) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(s))) }
	es := unsafe.Sizeof(*new(T))
	o, osize := addr(out), uintptr(oh*ow)*es
	for _, in := range []struct {
		a    uintptr
		size uintptr
	}{{addr(image), uintptr(h*w) * es}, {addr(kernel), uintptr(kh*kw) * es}} {
		if osize > 0 && in.size > 0 && in.a < o+osize && o < in.a+in.size {
			return invalid(fn, "out overlaps an input")
		}
	}
	return nil
}
