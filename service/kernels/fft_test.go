package kernels_test

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestFFTRoundTrip: ifft(fft(x)) is x, for every norm and implementation.
func TestFFTRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	op, _ := kernels.Default().Lookup("fft")
	for _, n := range []int{1, 6, 97, 1024, 1031} {
		xs := make([]complex128, 2*n)
		for i := range xs {
			xs[i] = complex(r.Float64()*2-1, r.Float64()*2-1)
		}
		in := tensor.FromComplex128([]int{2, n}, slices.Clone(xs))
		for _, norm := range []string{"backward", "ortho", "forward"} {
			for _, impl := range op.Impls {
				fwd, err := op.Prepare(wire.Args{"x": wire.TensorValue(in), "norm": wire.String(norm)})
				if err != nil {
					t.Fatal(err)
				}
				res, err := fwd.Run(nil, impl)
				if err != nil {
					t.Fatal(err)
				}
				inv, _ := op.Prepare(wire.Args{"x": res["y"], "norm": wire.String(norm), "inverse": wire.Bool(true)})
				res, err = inv.Run(nil, impl)
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range xs {
					if got := res["y"].Tensor.Complex128()[i]; cmplx.Abs(got-want) > 1e-14*math.Log2(float64(n)+1) {
						t.Fatalf("%s n=%d norm=%s: x[%d] came back as %v, was %v", impl, n, norm, i, got, want)
					}
				}
			}
		}
	}
}

// TestFFTEmptyBatch: an empty batch is fine, and null means the default.
func TestFFTEmptyBatch(t *testing.T) {
	x, _ := tensor.New(tensor.F32, 0, 5)
	op, _ := kernels.Default().Lookup("fft")
	call, err := op.Prepare(wire.Args{"x": wire.TensorValue(x), "norm": wire.Null(), "inverse": wire.Null()})
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		res, err := call.Run(nil, impl)
		if err != nil || res["y"].Tensor.DType != tensor.C64 || fmt.Sprint(res["y"].Tensor.Shape) != "[0 5]" {
			t.Errorf("%s: empty batch gave %v, %v", impl, res, err)
		}
	}
}

// The C binding refuses slices that cannot back its sizes.
func TestFFTBindingChecks(t *testing.T) {
	a, b := make([]complex128, 8), make([]complex128, 8)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"short in", cgo.FFTC128(nil, false, cgo.FFTBackward, 3, 4, a, make([]complex128, 12))},
		{"short out", cgo.FFTC128(nil, false, cgo.FFTBackward, 2, 4, a, b[:7])},
		{"overlap", cgo.FFTC128(nil, false, cgo.FFTBackward, 1, 4, a[:4], a[1:5])},
		{"negative", cgo.FFTC64(nil, false, cgo.FFTBackward, -1, 4, nil, nil)},
		{"n = 0", cgo.FFTC128(nil, false, cgo.FFTBackward, 1, 0, a, b)},
		{"bad norm", cgo.FFTC128(nil, false, cgo.FFTNorm(9), 1, 4, a, b)},
		{"real short in", cgo.FFTF64(nil, false, cgo.FFTBackward, 2, 4, make([]float64, 7), b)},
		{"real short out", cgo.FFTF32(nil, false, cgo.FFTBackward, 2, 4, make([]float32, 8), make([]complex64, 7))},
		{"real overlap", cgo.FFTF64(nil, false, cgo.FFTBackward, 1, 4, realView(a[2:4]), a[:4])},
	} {
		if !errors.Is(tc.err, cgo.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid argument", tc.name, tc.err)
		}
	}
	if err := cgo.FFTF64(nil, false, cgo.FFTBackward, 2, 4, make([]float64, 8), a); err != nil {
		t.Errorf("real: %v", err)
	}
	if err := cgo.FFTC128(nil, false, cgo.FFTBackward, 2, 4, a, a); err != nil {
		t.Errorf("in place: %v", err)
	}
	cgo.FFTCacheClear()
}

// realView is c's memory as float64s (re, im, re, im, ...).
func realView(c []complex128) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(c))), 2*len(c))
}
