package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

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
