package server_test

import (
	"context"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
)

// Options.Out receives the result: over TCP, over the Unix socket through
// the client's own window, and from AllocShared, where the server's
// kernel writes it in place; an Out of another shape is left alone.
func TestClientOut(t *testing.T) {
	ts, path := startUnix(t, nil)
	tcp, ux := ts.dial(t), dialUnix(t, path)
	ctx := context.Background()
	view := client.MandelbrotView{Width: 512, Height: 300, XMin: -2, XMax: 1, YMin: -1, YMax: 1, MaxIter: 40}
	want, _, err := tcp.Mandelbrot(ctx, view, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := ux.AllocShared(ctx, tensor.U32, 300, 512)
	if err != nil {
		t.Fatal(err)
	}
	defer ux.FreeShared(shared)
	plain, _ := tensor.New(tensor.U32, 300, 512)
	other, _ := tensor.New(tensor.U32, 512, 300)
	for _, tc := range []struct {
		name string
		c    *client.Client
		out  *tensor.Tensor
		same bool // the call returns out itself
	}{
		{"tcp", tcp, plain, true},
		{"unix", ux, plain, true},
		{"unix, AllocShared", ux, shared, true},
		{"tcp, another shape", tcp, other, false},
		{"unix, another shape", ux, other, false},
	} {
		for _, ex := range execNames {
			for i := range tc.out.Data {
				tc.out.Data[i] = 0xff
			}
			got, _, err := tc.c.Mandelbrot(ctx, view, &client.Options{Exec: ex, Out: tc.out})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, ex, err)
			}
			if (got == tc.out) != tc.same {
				t.Errorf("%s %s: returned Out: %v, want %v", tc.name, ex, got == tc.out, tc.same)
			}
			if !got.Equal(want) {
				t.Errorf("%s %s: wrong counts", tc.name, ex)
			}
			if !tc.same && !allOnes(tc.out.Data) {
				t.Errorf("%s %s: an Out of another shape was written", tc.name, ex)
			}
		}
	}
}
