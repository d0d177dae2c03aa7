package cgo_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// The kernels package runs the full mandelbrot table against Go and a
// reference; this checks the binding itself: known counts on every path,
// progress, cancellation, and the argument checks.

func TestMandelbrotBinding(t *testing.T) {
	// A 5x1 row over [-2, 3): c = -2, -1, 0, 1, 2 on the real axis.
	want := []uint32{50, 50, 50, 3, 2}
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		x.SetISA(isa)
		got := make([]uint32, 5)
		if err := cgo.Mandelbrot(x, 5, 1, -2, 3, 0, 1, 50, got); err != nil {
			t.Fatalf("%s: %v", isa, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: counts %v, want %v", isa, got, want)
				break
			}
		}
		if done, total, _ := x.Progress(); done != 5 || total != 5 {
			t.Errorf("%s: progress %d/%d", isa, done, total)
		}
		x.Reset()
		x.Cancel()
		if err := cgo.Mandelbrot(x, 5, 1, -2, 3, 0, 1, 50, got); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", isa, err)
		}
	}
	if err := cgo.Mandelbrot(nil, 0, 7, -2, 1, -1, 1, 1, nil); err != nil {
		t.Errorf("empty image: %v", err)
	}
	if cgo.MandelbrotMaxIter != 1<<31 {
		t.Errorf("MandelbrotMaxIter = %d", int64(cgo.MandelbrotMaxIter))
	}
}

func TestMandelbrotBindingChecks(t *testing.T) {
	buf := make([]uint32, 6)
	cases := []struct {
		name    string
		w, h    int
		bounds  [4]float64
		maxIter int64
		counts  []uint32
		mention string
	}{
		{"negative width", -1, 2, [4]float64{-2, 1, -1, 1}, 10, buf, "negative size"},
		{"negative height", 2, -3, [4]float64{-2, 1, -1, 1}, 10, buf, "negative size"},
		{"NaN x_min", 2, 3, [4]float64{math.NaN(), 1, -1, 1}, 10, buf, "x_min"},
		{"Inf y_max", 2, 3, [4]float64{-2, 1, -1, math.Inf(1)}, 10, buf, "y_max"},
		{"max_iter 0", 2, 3, [4]float64{-2, 1, -1, 1}, 0, buf, "max_iter"},
		{"max_iter 2^31+1", 2, 3, [4]float64{-2, 1, -1, 1}, 1<<31 + 1, buf, "max_iter"},
		{"short counts", 3, 3, [4]float64{-2, 1, -1, 1}, 10, buf, "counts has 6"},
		{"overflow", math.MaxInt / 2, 3, [4]float64{-2, 1, -1, 1}, 10, buf, "overflows"},
	}
	for _, tc := range cases {
		b := tc.bounds
		err := cgo.Mandelbrot(nil, tc.w, tc.h, b[0], b[1], b[2], b[3], tc.maxIter, tc.counts)
		var ce *cgo.Error
		if !errors.As(err, &ce) || !errors.Is(err, cgo.ErrInvalid) || !strings.Contains(ce.Error(), tc.mention) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
