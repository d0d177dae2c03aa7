package cgo_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// The kernels package runs the full solve table; this checks the binding
// itself: argument checks, strides, solving in place, the numerical
// status, and progress on every path.

func TestSolveBinding(t *testing.T) {
	// x = (1, 2, 1); row 0 has a zero where the first pivot would be.
	a := []float64{0, 2, 1, 1, 1, 1, 2, 1, 0}
	b := []float64{5, 4, 4}
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		x.SetISA(isa)
		out := make([]float64, 3)
		if err := cgo.SolveF64(x, 3, 1, a, 3, b, 1, out, 1); err != nil {
			t.Fatalf("%s: %v", isa, err)
		}
		for i, w := range []float64{1, 2, 1} {
			if math.Abs(out[i]-w) > 1e-15 {
				t.Errorf("%s: x = %v", isa, out)
			}
		}
		// progress: sum_{j<3} (2-j)^2 = 5 for the factorisation, n^2 k = 9
		if done, total, _ := x.Progress(); done != 14 || total != 14 {
			t.Errorf("%s: progress %d/%d", isa, done, total)
		}
	}
	// Two right-hand sides, b with a padded row stride, solved in place.
	bb := []float64{5, 10, -1, 4, 8, -1, 4, 8, -1}
	if err := cgo.SolveF64(nil, 3, 2, a, 3, bb, 3, bb, 3); err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, 2, -1, 2, 4, -1, 1, 2, -1}; !closeAll(bb, want, 1e-14) {
		t.Errorf("in place: %v, want %v", bb, want)
	}
	// n == 0 takes empty slices.
	if err := cgo.SolveF64(nil, 0, 0, nil, 1, nil, 1, nil, 1); err != nil {
		t.Errorf("empty: %v", err)
	}
}

func closeAll(got, want []float64, tol float64) bool {
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			return false
		}
	}
	return true
}

func TestSolveNumericalStatus(t *testing.T) {
	out := make([]float64, 2)
	for name, a := range map[string][]float64{
		"singular": {1, 2, 2, 4},
		"nan":      {1, math.NaN(), 0, 1},
		"cond":     {1, 0, 0, 1e-20},
	} {
		err := cgo.SolveF64(nil, 2, 1, a, 2, []float64{1, 1}, 1, out, 1)
		var ce *cgo.Error
		if !errors.Is(err, cgo.ErrNumerical) || !errors.As(err, &ce) || ce.Func != "crunch_solve_f64" ||
			!strings.Contains(err.Error(), "numerical") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSolveRefusesShortSlices(t *testing.T) {
	a, b, x := make([]float64, 9), make([]float64, 6), make([]float64, 6)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"short a", cgo.SolveF64(nil, 3, 2, a[:8], 3, b, 2, x, 2)},
		{"short b", cgo.SolveF64(nil, 3, 2, a, 3, b[:5], 2, x, 2)},
		{"short x", cgo.SolveF64(nil, 3, 2, a, 3, b, 2, x[:5], 2)},
		{"negative n", cgo.SolveF64(nil, -1, 2, a, 3, b, 2, x, 2)},
		{"negative nrhs", cgo.SolveF64(nil, 3, -2, a, 3, b, 2, x, 2)},
		{"lda < n (C checks)", cgo.SolveF64(nil, 3, 2, a, 2, b, 2, x, 2)},
		{"ldb < nrhs (C checks)", cgo.SolveF64(nil, 3, 2, a, 3, b, 1, x, 2)},
	} {
		if !errors.Is(tc.err, cgo.ErrInvalid) {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
}
