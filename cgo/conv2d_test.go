package cgo_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// The kernels package runs the full conv2d table; this checks the binding
// itself: modes, every path on a case by hand, argument checks.

func TestConv2DBinding(t *testing.T) {
	img := []float64{1, 2, 3, 4}
	ker := []float64{1, 1, 1, -1}
	want := map[cgo.ConvMode][]float64{
		cgo.ConvFull:  {1, 3, 2, 4, 8, 2, 3, 1, -4},
		cgo.ConvSame:  {1, 3, 4, 8},
		cgo.ConvValid: {8},
	}
	for _, isa := range cgo.ISAs() {
		for m, w := range want {
			x := cgo.NewCtx()
			x.SetISA(isa)
			out := make([]float64, len(w))
			if err := cgo.Conv2DF64(x, m, 2, 2, img, 2, 2, ker, out); err != nil {
				t.Fatalf("%s %s: %v", isa, m, err)
			}
			if fmt.Sprint(out) != fmt.Sprint(w) {
				t.Errorf("%s %s: %v, want %v", isa, m, out, w)
			}
			if done, total, _ := x.Progress(); done != int64(len(w)) || total != int64(len(w)) {
				t.Errorf("%s %s: progress %d/%d", isa, m, done, total)
			}
			out32 := make([]float32, len(w))
			if err := cgo.Conv2DF32(x, m, 2, 2, []float32{1, 2, 3, 4}, 2, 2, []float32{1, 1, 1, -1}, out32); err != nil ||
				fmt.Sprint(out32) != fmt.Sprint(w) {
				t.Errorf("%s %s f32: %v, %v", isa, m, out32, err)
			}
		}
	}
	for _, m := range []cgo.ConvMode{cgo.ConvSame, cgo.ConvValid, cgo.ConvFull} {
		if p, err := cgo.ParseConvMode(m.String()); p != m || err != nil {
			t.Errorf("%s: parsed as %v, %v", m, p, err)
		}
	}
	if _, err := cgo.ParseConvMode("circular"); err == nil {
		t.Error("mode circular parsed")
	}
	// Empty outputs need no slices; an empty image gives zeros.
	if err := cgo.Conv2DF64(nil, cgo.ConvValid, 2, 2, img, 3, 3, make([]float64, 9), nil); err != nil {
		t.Errorf("valid, kernel larger than image: %v", err)
	}
	z := []float64{5, 5}
	if err := cgo.Conv2DF64(nil, cgo.ConvFull, 0, 1, nil, 2, 2, ker, z); err != nil || z[0] != 0 || z[1] != 0 {
		t.Errorf("empty image, full: %v, %v", z, err)
	}
	// Refusals name the function and say why.
	err := cgo.Conv2DF64(nil, cgo.ConvSame, 2, 2, img, 2, 2, ker, make([]float64, 3))
	var ce *cgo.Error
	if !errors.As(err, &ce) || !errors.Is(err, cgo.ErrInvalid) || !strings.Contains(ce.Error(), "crunch_conv2d_f64") ||
		!strings.Contains(ce.Error(), "out 3") {
		t.Errorf("short out: %v", err)
	}
	x := cgo.NewCtx()
	x.Cancel()
	if err := cgo.Conv2DF32(x, cgo.ConvSame, 1, 1, []float32{1}, 1, 1, []float32{2}, make([]float32, 1)); !errors.Is(err, cgo.ErrCanceled) {
		t.Errorf("cancelled: %v", err)
	}
}
