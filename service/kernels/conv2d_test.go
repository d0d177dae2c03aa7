package kernels_test

import (
	"errors"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestConv2DBindingChecks: the Go implementation and the C binding refuse
// the same bad calls, and agree with the C library on output shapes.
func TestConv2DBindingChecks(t *testing.T) {
	img, ker, out := make([]float64, 12), make([]float64, 4), make([]float64, 20)
	for _, bad := range []struct {
		name                           string
		m                              cgo.ConvMode
		h, w, kh, kw, nImg, nKer, nOut int
	}{
		{"empty kernel", cgo.ConvSame, 3, 4, 0, 2, 12, 4, 20},
		{"negative h", cgo.ConvSame, -3, 4, 2, 2, 12, 4, 20},
		{"unknown mode", cgo.ConvMode(9), 3, 4, 2, 2, 12, 4, 20},
		{"short image", cgo.ConvSame, 3, 4, 2, 2, 11, 4, 20},
		{"short kernel", cgo.ConvSame, 3, 4, 2, 2, 12, 3, 20},
		{"short out", cgo.ConvFull, 3, 4, 2, 2, 12, 4, 19},
	} {
		if err := kernels.Conv2DGo(nil, bad.m, bad.h, bad.w, img[:bad.nImg], bad.kh, bad.kw, ker[:bad.nKer], out[:bad.nOut]); !errors.Is(err, cgo.ErrInvalid) {
			t.Errorf("go %s: %v", bad.name, err)
		}
		if err := cgo.Conv2DF64(nil, bad.m, bad.h, bad.w, img[:bad.nImg], bad.kh, bad.kw, ker[:bad.nKer], out[:bad.nOut]); !errors.Is(err, cgo.ErrInvalid) {
			t.Errorf("c %s: %v", bad.name, err)
		}
	}
	if err := cgo.Conv2DF64(nil, cgo.ConvSame, 3, 4, img, 2, 2, ker, img); !errors.Is(err, cgo.ErrInvalid) {
		t.Errorf("out overlapping image: %v", err)
	}
	for _, s := range []struct{ m, h, w, kh, kw, oh, ow int }{
		{int(cgo.ConvFull), 4, 5, 3, 2, 6, 6}, {int(cgo.ConvSame), 4, 5, 30, 2, 4, 5},
		{int(cgo.ConvValid), 4, 5, 3, 6, 2, 0}, {int(cgo.ConvValid), 0, 5, 1, 1, 0, 5},
	} {
		oh, ow, _, _, err := cgo.Conv2DShape(cgo.ConvMode(s.m), s.h, s.w, s.kh, s.kw)
		if err != nil || oh != s.oh || ow != s.ow {
			t.Errorf("%+v: %dx%d, %v", s, oh, ow, err)
		}
	}
}

// TestConv2DCancelAndProgress: a cancelled Ctx stops both implementations;
// a finished call reports every output element done.
func TestConv2DCancelAndProgress(t *testing.T) {
	img, _ := tensor.New(tensor.F64, 300, 200)
	ker, _ := tensor.New(tensor.F64, 7, 7)
	progressThenCancel(t, "conv2d", wire.Args{"image": wire.TensorValue(img), "kernel": wire.TensorValue(ker), "mode": wire.String("full")}, 306*206)
}

// TestConv2DCancelDuring: a call cancelled once it has reported progress
// stops early, in both implementations.
func TestConv2DCancelDuring(t *testing.T) {
	if testing.Short() {
		t.Skip("convolves a 2000 x 2000 image")
	}
	op, _ := kernels.Default().Lookup("conv2d")
	img, _ := tensor.New(tensor.F64, 2000, 2000)
	ker, _ := tensor.New(tensor.F64, 15, 15)
	call, err := op.Prepare(wire.Args{"image": wire.TensorValue(img), "kernel": wire.TensorValue(ker)})
	if err != nil {
		t.Fatal(err)
	}
	cancelMidway(t, op, call)
}
