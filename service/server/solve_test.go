package server_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// solveSystem returns a random n x n matrix with a heavy diagonal (well
// conditioned, but pivoting still happens off it) and an [n] or [n,k] b.
func solveSystem(r *rand.Rand, n, k int) (a, b *tensor.Tensor) {
	a = randMatrix(r, tensor.F64, n, n)
	for i := range n {
		a.Float64()[i*n+i] += 0.5 * float64(n)
	}
	if k == 0 {
		b = randMatrix(r, tensor.F64, 1, n)
		b.Shape = []int{n}
	} else {
		b = randMatrix(r, tensor.F64, n, k)
	}
	return a, b
}

// TestSolveBadArgs: refusals over the wire, with messages that say why;
// the connection keeps working afterwards.
func TestSolveBadArgs(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(16, 17))
	a, b := solveSystem(r, 4, 0)
	rect := randMatrix(r, tensor.F64, 4, 3)
	_, _, err := c.Solve(context.Background(), rect, b, nil)
	if e := wantCode(t, "non-square a", err, wire.InvalidArgument); !strings.Contains(e.Message, "square") {
		t.Errorf("message %q", e.Message)
	}
	short := randMatrix(r, tensor.F64, 3, 2)
	_, _, err = c.Solve(context.Background(), a, short, &client.Options{Text: true})
	if e := wantCode(t, "b rows", err, wire.InvalidArgument); !strings.Contains(e.Message, "[3,2]") {
		t.Errorf("message %q", e.Message)
	}
	a32 := randMatrix(r, tensor.F32, 4, 4)
	_, _, err = c.Solve(context.Background(), a32, b, nil)
	if e := wantCode(t, "f32 a", err, wire.InvalidArgument); !strings.Contains(e.Message, "f32") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Solve(context.Background(), a, b, &client.Options{Impl: "go"})
	wantCode(t, "impl go", err, wire.NotFound)
	x, _, err := c.Solve(context.Background(), a, b, &client.Options{Exec: "subprocess"})
	if err != nil || x.Len() != 4 {
		t.Fatalf("after refusals: %v, %v", x, err)
	}
}
