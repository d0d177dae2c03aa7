package kernels_test

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestSolveMatchesGonumMat: SolveGonum is what gonum's mat package
// computes (mat.Dense.Solve, the same LAPACK routines without the polls),
// and its threshold is stricter than mat's (a Condition error at 1e16).
func TestSolveMatchesGonumMat(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 7, 64, 65, 300} {
		a, b := uniform(r, n*n), uniform(r, n*3)
		x := make([]float64, n*3)
		if err := kernels.SolveGonum(nil, n, 3, a, b, x); err != nil {
			t.Fatal(err)
		}
		var want mat.Dense
		if err := want.Solve(mat.NewDense(n, n, a), mat.NewDense(n, 3, b)); err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			if w := want.RawMatrix().Data[i]; v != w {
				t.Fatalf("n=%d: x[%d] = %v, mat.Dense.Solve gives %v", n, i, v, w)
			}
		}
	}
}

// TestSolveCancelAndProgress: both implementations stop on a cancelled
// Ctx and report the same total, all of it done after a finished call.
func TestSolveCancelAndProgress(t *testing.T) {
	const n, k = 300, 2
	r := rand.New(rand.NewPCG(1, 1))
	a, b := uniform(r, n*n), uniform(r, n*k)
	progressThenCancel(t, "solve", wire.Args{"a": wire.TensorValue(tensor.FromFloat64([]int{n, n}, a)), "b": wire.TensorValue(tensor.FromFloat64([]int{n, k}, b))},
		(n-1)*n*(2*n-1)/6+n*n*k)
}

// TestSolveCancelDuring: a call cancelled once it has reported progress
// stops early with a cancellation, in both implementations.
func TestSolveCancelDuring(t *testing.T) {
	if testing.Short() {
		t.Skip("factors 1200 x 1200 matrices")
	}
	const n = 1200
	r := rand.New(rand.NewPCG(2, 2))
	a, b := uniform(r, n*n), uniform(r, n)
	op, _ := kernels.Default().Lookup("solve")
	call, err := op.Prepare(wire.Args{"a": wire.TensorValue(tensor.FromFloat64([]int{n, n}, a)), "b": wire.TensorValue(tensor.FromFloat64([]int{n}, b))})
	if err != nil {
		t.Fatal(err)
	}
	cancelMidway(t, op, call)
}

// uniform returns n values uniform in [-1, 1).
func uniform(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.Float64()*2 - 1
	}
	return v
}
