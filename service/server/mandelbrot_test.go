package server_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// mandelbrotWant computes v's counts with the Go implementation, which
// both implementations match exactly (service/kernels tests that).
func mandelbrotWant(t *testing.T, v client.MandelbrotView) []uint32 {
	t.Helper()
	want := make([]uint32, v.Width*v.Height)
	if err := kernels.MandelbrotGo(nil, v.Width, v.Height, v.XMin, v.XMax, v.YMin, v.YMax, v.MaxIter, want); err != nil {
		t.Fatal(err)
	}
	return want
}

// sameCounts reports whether got is a u32 [h, w] tensor holding want.
func sameCounts(got *tensor.Tensor, h, w int, want []uint32) bool {
	if got == nil || got.DType != tensor.U32 || len(got.Shape) != 2 || got.Shape[0] != h || got.Shape[1] != w {
		return false
	}
	for i, c := range got.Uint32() {
		if c != want[i] {
			return false
		}
	}
	return true
}

// TestMandelbrotBadArgs: refusals over the wire on every executor, in
// both message forms, with messages that say why; the server goes on
// serving the same connection.
func TestMandelbrotBadArgs(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	good := client.MandelbrotView{Width: 8, Height: 4, XMin: -2, XMax: 1, YMin: -1, YMax: 1, MaxIter: 50}
	want := mandelbrotWant(t, good)
	bad := []struct {
		name    string
		edit    func(v *client.MandelbrotView)
		mention string
	}{
		{"max_iter 0", func(v *client.MandelbrotView) { v.MaxIter = 0 }, "max_iter"},
		{"max_iter 2^31+1", func(v *client.MandelbrotView) { v.MaxIter = 1<<31 + 1 }, "max_iter"},
		{"negative width", func(v *client.MandelbrotView) { v.Width = -3 }, "width"},
		{"overflow", func(v *client.MandelbrotView) { v.Width, v.Height = math.MaxInt64/2, 5 }, "overflows"},
		{"NaN x_min", func(v *client.MandelbrotView) { v.XMin = math.NaN() }, "x_min"},
	}
	for _, ex := range execNames {
		for _, text := range []bool{false, true} {
			o := &client.Options{Exec: ex, Text: text}
			for _, b := range bad {
				if b.name == "NaN x_min" && text {
					continue // a NaN travels as a tensor: only in binary form
				}
				v := good
				b.edit(&v)
				_, _, err := c.Mandelbrot(context.Background(), v, o)
				if e := wantCode(t, b.name, err, wire.InvalidArgument); !strings.Contains(e.Message, b.mention) {
					t.Errorf("%s %s: message %q does not mention %s", ex, b.name, e.Message, b.mention)
				}
			}
			got, _, err := c.Mandelbrot(context.Background(), good, o)
			if err != nil || !sameCounts(got, good.Height, good.Width, want) {
				t.Fatalf("%s text=%v: good call after bad ones: %v, %v", ex, text, got, err)
			}
		}
	}
	// A missing argument, on a raw request.
	_, err := c.Do(context.Background(), &wire.Request{Op: "mandelbrot", Args: wire.Args{"width": wire.Int(4)}}, nil)
	if e := wantCode(t, "missing args", err, wire.InvalidArgument); !strings.Contains(e.Message, "required") {
		t.Errorf("missing args: message %q", e.Message)
	}
	_, _, err = c.Mandelbrot(context.Background(), good, &client.Options{Impl: "gonum"})
	wantCode(t, "impl gonum", err, wire.NotFound)
}

// TestMandelbrotDeadline: pixels that would each iterate 2^31 times stop
// at the request's deadline on every executor (the C kernel polls its
// cancel flag inside the iteration loop), and the server goes on.
func TestMandelbrotDeadline(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	inside := client.MandelbrotView{Width: 19, Height: 2, XMin: -0.1, XMax: 0.1, YMin: -0.1, YMax: 0.1, MaxIter: 1 << 31}
	for _, ex := range runExecs {
		for _, impl := range implsOf(t, "mandelbrot") {
			start := time.Now()
			_, _, err := c.Mandelbrot(context.Background(), inside, &client.Options{Exec: ex, Impl: impl, Timeout: 100 * time.Millisecond})
			wantCode(t, ex+"/"+impl, err, wire.DeadlineExceeded)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("%s/%s: deadline took %v", ex, impl, took)
			}
		}
	}
	v := client.MandelbrotView{Width: 3, Height: 3, XMin: -2, XMax: 1, YMin: -1, YMax: 1, MaxIter: 20}
	got, _, err := c.Mandelbrot(context.Background(), v, nil)
	if err != nil || !sameCounts(got, 3, 3, mandelbrotWant(t, v)) {
		t.Fatalf("after the deadlines: %v, %v", got, err)
	}
}
