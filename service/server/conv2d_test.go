package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// conv2dWant runs the Go implementation in-process: what every reply is
// compared with.
func conv2dWant(t *testing.T, mode string, img, ker *tensor.Tensor) []float64 {
	t.Helper()
	m, err := cgo.ParseConvMode(mode)
	if err != nil {
		t.Fatal(err)
	}
	h, w, kh, kw := img.Shape[0], img.Shape[1], ker.Shape[0], ker.Shape[1]
	oh, ow, _, _, err := cgo.Conv2DShape(m, h, w, kh, kw)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, oh*ow)
	if img.DType == tensor.F64 {
		err = kernels.Conv2DGo(nil, m, h, w, img.Float64(), kh, kw, ker.Float64(), out)
	} else {
		o := make([]float32, oh*ow)
		err = kernels.Conv2DGo(nil, m, h, w, img.Float32(), kh, kw, ker.Float32(), o)
		for i, v := range o {
			out[i] = float64(v)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConv2DEveryExecImplAndForm: f64 and f32, every mode, through every
// executor, both implementations, text and binary messages.
func TestConv2DEveryExecImplAndForm(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(30, 31))
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		img, ker := randMatrix(r, dt, 23, 41), randMatrix(r, dt, 5, 4)
		tol := 1e-13
		if dt == tensor.F32 {
			tol = 1e-5
		}
		for _, mode := range []string{"same", "valid", "full"} {
			want := conv2dWant(t, mode, img, ker)
			for _, ex := range execNames {
				for _, impl := range []string{"c", "go"} {
					for _, text := range []bool{false, true} {
						got, st, err := c.Conv2D(context.Background(), img, ker, mode, &client.Options{Exec: ex, Impl: impl, Text: text})
						if err != nil {
							t.Fatalf("%s %s %s/%s text=%v: %v", dt, mode, ex, impl, text, err)
						}
						if got.DType != dt || got.Len() != len(want) {
							t.Fatalf("%s %s %s/%s: got %s %v", dt, mode, ex, impl, got.DType, got.Shape)
						}
						for i, w := range want {
							if math.Abs(at(got, i)-w) > tol {
								t.Fatalf("%s %s %s/%s text=%v: out[%d] = %v, want %v", dt, mode, ex, impl, text, i, at(got, i), w)
							}
						}
						if st == nil || (ex != "auto" && st.Exec != ex) || st.Impl != impl {
							t.Errorf("%s %s/%s: stats %+v", dt, ex, impl, st)
						}
					}
				}
			}
		}
	}
}

// TestConv2DShapesOverTheWire: the default mode is same; a kernel larger
// than the image and an empty image give the protocol's shapes; NaN in the
// image comes back as NaN where it meets the kernel.
func TestConv2DShapesOverTheWire(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(32, 33))
	img, big := randMatrix(r, tensor.F64, 3, 4), randMatrix(r, tensor.F64, 5, 6)
	empty := tensor.FromFloat64([]int{0, 4}, nil)
	for _, tc := range []struct {
		mode     string
		img, ker *tensor.Tensor
		shape    string
	}{
		{"", img, big, "[3,4]"}, {"valid", img, big, "[0,0]"}, {"full", img, big, "[7,9]"},
		{"full", empty, big, "[4,9]"}, {"same", empty, big, "[0,4]"},
	} {
		for _, ex := range []string{"direct", "pool", "subprocess"} {
			got, _, err := c.Conv2D(context.Background(), tc.img, tc.ker, tc.mode, &client.Options{Exec: ex})
			if err != nil || tensor.FormatShape(got.Shape) != tc.shape {
				t.Fatalf("mode %q image %v %s: %v, %v; want %s", tc.mode, tc.img.Shape, ex, got, err, tc.shape)
			}
		}
	}
	nan := randMatrix(r, tensor.F64, 6, 6)
	nan.Float64()[0] = math.NaN()
	ker := tensor.FromFloat64([]int{1, 2}, []float64{1, 1})
	for _, impl := range []string{"c", "go"} {
		got, _, err := c.Conv2D(context.Background(), nan, ker, "valid", &client.Options{Impl: impl}) // binary: JSON has no NaN
		if err != nil {
			t.Fatal(err)
		}
		o := got.Float64() // 6x5: only out[0][0] sums image[0][0]
		if !math.IsNaN(o[0]) || math.IsNaN(o[1]) || math.IsNaN(o[5]) {
			t.Errorf("%s: NaN did not stay where it belongs: %v", impl, o[:7])
		}
	}
}

// TestConv2DBadArgs: refusals over the wire, with messages that say why;
// the server keeps serving afterwards.
func TestConv2DBadArgs(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(34, 35))
	img, ker := randMatrix(r, tensor.F64, 4, 4), randMatrix(r, tensor.F64, 2, 2)
	_, _, err := c.Conv2D(context.Background(), img, ker, "wrap", nil)
	if e := wantCode(t, "mode wrap", err, wire.InvalidArgument); !strings.Contains(e.Message, "mode") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Conv2D(context.Background(), img, randMatrix(r, tensor.F32, 2, 2), "", &client.Options{Text: true})
	if e := wantCode(t, "mixed dtypes", err, wire.InvalidArgument); !strings.Contains(e.Message, "f32") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Conv2D(context.Background(), img, tensor.FromFloat64([]int{0, 3}, nil), "full", &client.Options{Exec: "subprocess"})
	if e := wantCode(t, "empty kernel", err, wire.InvalidArgument); !strings.Contains(e.Message, "empty") {
		t.Errorf("message %q", e.Message)
	}
	vec := tensor.FromFloat64([]int{4}, []float64{1, 2, 3, 4})
	_, _, err = c.Conv2D(context.Background(), vec, ker, "", &client.Options{Exec: "pool"})
	if e := wantCode(t, "1-d image", err, wire.InvalidArgument); !strings.Contains(e.Message, "2 dimensions") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Conv2D(context.Background(), img, ker, "", &client.Options{Impl: "gonum"})
	wantCode(t, "impl gonum", err, wire.NotFound)
	for _, ex := range []string{"direct", "pool", "subprocess"} {
		got, _, err := c.Conv2D(context.Background(), img, ker, "same", &client.Options{Exec: ex})
		if err != nil || got.Len() != 16 {
			t.Fatalf("%s after refusals: %v, %v", ex, got, err)
		}
	}
}
