package server_test

import (
	"context"
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
