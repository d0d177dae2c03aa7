package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// dftRows is the DFT of each length-n row of x by its definition (the
// kernels package tests against a double-double one; this only has to
// tell a right answer from a wrong one through the wire).
func dftRows(x []complex128, n int, inverse bool, scale float64) []complex128 {
	sign := -1.0
	if inverse {
		sign = 1
	}
	out := make([]complex128, len(x))
	for r := 0; r < len(x)/n; r++ {
		for k := range n {
			var s complex128
			for j := range n {
				s += x[r*n+j] * cmplx.Rect(1, sign*2*math.Pi*float64(j*k%n)/float64(n))
			}
			out[r*n+k] = s * complex(scale, 0)
		}
	}
	return out
}

// fftTensor makes a [batch,n] tensor of dtype dt (c128, c64 or the real
// f64) and returns its values as complex128.
func fftTensor(r *rand.Rand, dt tensor.DType, batch, n int) (*tensor.Tensor, []complex128) {
	vals := make([]complex128, batch*n)
	for i := range vals {
		re, im := r.Float64()*2-1, r.Float64()*2-1
		switch dt {
		case tensor.F64:
			im = 0
		case tensor.C64:
			re, im = float64(float32(re)), float64(float32(im))
		}
		vals[i] = complex(re, im)
	}
	shape := []int{batch, n}
	switch dt {
	case tensor.C64:
		v := make([]complex64, len(vals))
		for i, z := range vals {
			v[i] = complex64(z)
		}
		return tensor.FromComplex64(shape, v), vals
	case tensor.F64:
		v := make([]float64, len(vals))
		for i, z := range vals {
			v[i] = real(z)
		}
		return tensor.FromFloat64(shape, v), vals
	}
	return tensor.FromComplex128(shape, vals), vals
}

func complexAt(t *tensor.Tensor, i int) complex128 {
	if t.DType == tensor.C64 {
		return complex128(t.Complex64()[i])
	}
	return t.Complex128()[i]
}

// TestFFTEveryExecImplAndForm runs fft through every executor, both
// implementations and both message forms, on a smooth length and on a
// prime one (Bluestein's algorithm in C), for complex and real input.
func TestFFTEveryExecImplAndForm(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{12, 67} {
		for _, dt := range []tensor.DType{tensor.C128, tensor.C64, tensor.F64} {
			x, vals := fftTensor(r, dt, 3, n)
			wantDT, tol := tensor.C128, 1e-12
			if dt == tensor.C64 {
				wantDT, tol = tensor.C64, 1e-4
			}
			for _, inverse := range []bool{false, true} {
				scale := 1.0
				if inverse {
					scale = 1 / float64(n)
				}
				want := dftRows(vals, n, inverse, scale)
				for _, ex := range execNames {
					for _, impl := range implsOf(t, "fft") {
						for _, text := range []bool{false, true} {
							got, stats, err := c.FFTEx(context.Background(), client.FFTArgs{X: x, Inverse: &inverse},
								&client.Options{Exec: ex, Impl: impl, Text: text})
							what := fmt.Sprintf("n=%d %s inverse=%v %s/%s text=%v", n, dt, inverse, ex, impl, text)
							if err != nil {
								t.Fatalf("%s: %v", what, err)
							}
							if got.DType != wantDT || fmt.Sprint(got.Shape) != fmt.Sprint(x.Shape) {
								t.Fatalf("%s: result %s, want %s%v", what, got, wantDT, x.Shape)
							}
							if stats == nil || (ex != "auto" && stats.Exec != ex) || stats.Impl != impl {
								t.Errorf("%s: stats %+v", what, stats)
							}
							for i, w := range want {
								if d := cmplx.Abs(complexAt(got, i) - w); d > tol*float64(n) {
									t.Fatalf("%s: y[%d] = %v, want %v", what, i, complexAt(got, i), w)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestFFTNormAndSpecialValues: NumPy's norms through the client, and a NaN
// in one row (binary form: JSON has no NaN) poisoning that row only.
func TestFFTNormAndSpecialValues(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	x := tensor.FromComplex128([]int{4}, []complex128{1, 2, 3, 4})
	for _, tc := range []struct {
		norm    string
		inverse bool
		want    []complex128
	}{
		{"", false, []complex128{10, -2 + 2i, -2, -2 - 2i}},
		{"forward", false, []complex128{2.5, -0.5 + 0.5i, -0.5, -0.5 - 0.5i}},
		{"ortho", false, []complex128{5, -1 + 1i, -1, -1 - 1i}},
		{"backward", true, []complex128{2.5, -0.5 - 0.5i, -0.5, -0.5 + 0.5i}},
		{"forward", true, []complex128{10, -2 - 2i, -2, -2 + 2i}},
	} {
		for _, impl := range implsOf(t, "fft") {
			args := client.FFTArgs{X: x, Inverse: &tc.inverse}
			if tc.norm != "" { // else the server's default
				args.Norm = &tc.norm
			}
			got, _, err := c.FFTEx(context.Background(), args, &client.Options{Impl: impl, Text: true})
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if cmplx.Abs(got.Complex128()[i]-w) > 1e-14 {
					t.Errorf("%s norm=%q inverse=%v: %v, want %v", impl, tc.norm, tc.inverse, got.Complex128(), tc.want)
					break
				}
			}
		}
	}

	bad := tensor.FromComplex128([]int{2, 3}, []complex128{1, 2, 3, 4, complex(math.NaN(), 0), 6})
	for _, ex := range runExecs {
		for _, impl := range implsOf(t, "fft") {
			got, _, err := c.FFT(context.Background(), bad, &client.Options{Exec: ex, Impl: impl})
			if err != nil {
				t.Fatalf("%s/%s: %v", ex, impl, err)
			}
			y := got.Complex128()
			if cmplx.Abs(y[0]-6) > 1e-14 || cmplx.IsNaN(y[0]) {
				t.Errorf("%s/%s: clean row spoiled: %v", ex, impl, y[:3])
			}
			for _, v := range y[3:] {
				if !cmplx.IsNaN(v) && !cmplx.IsInf(v) {
					t.Errorf("%s/%s: the NaN row came out %v", ex, impl, y[3:])
					break
				}
			}
		}
	}
}

// TestFFTErrors: bad arguments are invalid_argument with a clear message,
// over the wire, and a deadline stops a long transform on every executor.
func TestFFTErrors(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	for _, tc := range []struct {
		msg  string
		code wire.Code
	}{
		{`{"id":1,"op":"fft","args":{"x":{"dtype":"c128","shape":[0],"data":[]}}}`, wire.InvalidArgument},
		{`{"id":2,"op":"fft","args":{"x":{"dtype":"f64","shape":[2,2,2],"data":[1,2,3,4,5,6,7,8]}}}`, wire.InvalidArgument},
		{`{"id":3,"op":"fft","args":{"x":[1,2,3],"norm":"unitary"}}`, wire.InvalidArgument},
		{`{"id":4,"op":"fft","args":{"x":[1,2,3]},"impl":"go"}`, wire.NotFound},
		{`{"id":5,"op":"fft","args":{}}`, wire.InvalidArgument},
	} {
		rep := exchange(t, conn, websocket.TextMessage, []byte(tc.msg))
		if rep.OK || rep.Error == nil || rep.Error.Code != tc.code || rep.Error.Message == "" {
			t.Errorf("%s: reply %+v, want %s", tc.msg, rep.Error, tc.code)
		}
	}
	// a bare nested array is f64: promoted to c128
	rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":6,"op":"fft","args":{"x":[[1,2],[3,5]],"inverse":true}}`))
	if !rep.OK || rep.Result["y"].Tensor == nil || fmt.Sprint(rep.Result["y"].Tensor.Complex128()) != "[(1.5+0i) (-0.5+0i) (4+0i) (-1+0i)]" {
		t.Errorf("nested array: %+v", rep)
	}

	c := ts.dial(t)
	x, _ := fftTensor(rand.New(rand.NewPCG(1, 1)), tensor.C128, 16, 65537)
	for _, ex := range runExecs {
		startT := time.Now()
		_, _, err := c.FFT(context.Background(), x, &client.Options{Exec: ex, Impl: "gonum", Timeout: 30 * time.Millisecond})
		wantCode(t, ex, err, wire.DeadlineExceeded)
		if took := time.Since(startT); took > 5*time.Second {
			t.Errorf("%s: deadline reply after %v", ex, took)
		}
		if _, _, err := c.FFT(context.Background(), tensor.FromFloat64([]int{2}, []float64{1, 1}), &client.Options{Exec: ex}); err != nil {
			t.Errorf("%s after the deadline: %v", ex, err)
		}
	}
}

// TestFFTInfo: info describes fft's arguments, impls and defaults.
func TestFFTInfo(t *testing.T) {
	ts := start(t, nil)
	info, err := ts.dial(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Name    string   `json:"name"`
		Impls   []string `json:"impls"`
		Default string   `json:"default_impl"`
		Args    []struct {
			Name     string   `json:"name"`
			DTypes   []string `json:"dtypes"`
			Required bool     `json:"required"`
			Default  any      `json:"default"`
		} `json:"args"`
	}
	if err := json.Unmarshal(info["ops"], &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Name != "fft" {
			continue
		}
		if fmt.Sprint(op.Impls) != "[c gonum]" || op.Default != "c" || len(op.Args) != 3 {
			t.Fatalf("fft info: %+v", op)
		}
		if a := op.Args[0]; a.Name != "x" || !a.Required || len(a.DTypes) < 2 {
			t.Errorf("fft x: %+v", a)
		}
		if a := op.Args[2]; a.Name != "norm" || a.Default != "backward" {
			t.Errorf("fft norm: %+v", a)
		}
		return
	}
	t.Fatalf("info has no fft: %s", info["ops"])
}
