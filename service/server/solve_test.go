package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
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

// TestSolveEveryExecImplAndForm: vector and matrix right-hand sides
// through every executor, both implementations, text and binary messages,
// against the Go implementation run in-process.
func TestSolveEveryExecImplAndForm(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(12, 13))
	for _, k := range []int{0, 3} {
		const n = 37
		a, b := solveSystem(r, n, k)
		want := make([]float64, n*max(k, 1))
		if err := kernels.SolveGonum(nil, n, max(k, 1), a.Float64(), b.Float64(), want); err != nil {
			t.Fatal(err)
		}
		for _, ex := range execNames {
			for _, impl := range implsOf(t, "solve") {
				for _, text := range []bool{false, true} {
					got, st, err := c.Solve(context.Background(), a, b, &client.Options{Exec: ex, Impl: impl, Text: text})
					if err != nil {
						t.Fatalf("k=%d %s/%s text=%v: %v", k, ex, impl, text, err)
					}
					if tensor.FormatShape(got.Shape) != tensor.FormatShape(b.Shape) || got.DType != tensor.F64 {
						t.Fatalf("k=%d %s/%s: result %s %v, want b's shape %v", k, ex, impl, got.DType, got.Shape, b.Shape)
					}
					for i, v := range got.Float64() {
						if math.Abs(v-want[i]) > 1e-13*(1+math.Abs(want[i])) {
							t.Fatalf("k=%d %s/%s text=%v: x[%d] = %v, want %v", k, ex, impl, text, i, v, want[i])
						}
					}
					if st == nil || (ex != "auto" && st.Exec != ex) || st.Impl != impl {
						t.Errorf("k=%d %s/%s: stats %+v", k, ex, impl, st)
					}
				}
			}
		}
	}
}

// TestSolveNumericalOverTheWire: a singular matrix and NaN input come back
// as the numerical error from every executor and implementation, and the
// server goes on serving.
func TestSolveNumericalOverTheWire(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(14, 15))
	sing, b := solveSystem(r, 20, 0)
	copy(sing.Float64()[5*20:6*20], sing.Float64()[2*20:3*20]) // two equal rows
	withNaN, _ := solveSystem(r, 20, 0)
	withNaN.Float64()[77] = math.NaN()
	for _, ex := range runExecs {
		for _, impl := range implsOf(t, "solve") {
			for name, a := range map[string]*tensor.Tensor{"singular": sing, "nan": withNaN} {
				_, _, err := c.Solve(context.Background(), a, b, &client.Options{Exec: ex, Impl: impl})
				if e := wantCode(t, name+" "+ex+"/"+impl, err, wire.Numerical); !strings.Contains(e.Message, "solve") {
					t.Errorf("message %q does not name the op", e.Message)
				}
			}
		}
	}
	good, gb := solveSystem(r, 5, 0)
	if _, _, err := c.Solve(context.Background(), good, gb, nil); err != nil {
		t.Fatalf("after numerical errors: %v", err)
	}
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
