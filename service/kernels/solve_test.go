package kernels_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// solveCase is one row of the shared table: a matrix kind, its order, and
// the right-hand sides (k == 0: a vector b of shape [n]).
type solveCase struct {
	kind string
	n, k int
}

// Well-conditioned kinds, solved by every implementation and compared
// with the reference; singular kinds, refused by every implementation.
var (
	solveGoodKinds = []string{"random", "dominant", "zerodiag", "perm", "tiny", "huge"}
	solveBadKinds  = []string{"zero", "zero row", "duplicate rows", "rank n-2", "hilbert 14",
		"nan in a", "inf in b", "x overflows"}
)

// solveTable: orders around every block width of the C code (8, 32, 128)
// and of gonum's (64), primes, and 500; vector and matrix right-hand sides.
func solveTable() []solveCase {
	var cases []solveCase
	for i, n := range []int{0, 1, 2, 3, 5, 7, 8, 13, 31, 33, 63, 64, 65, 127, 128, 129, 200, 500} {
		for j, kind := range solveGoodKinds {
			if n >= 200 && j > 1 {
				continue // two kinds at the largest orders keep the run short
			}
			for _, k := range []int{0, 1, 3, 17} {
				if (i+j+k)%2 == 1 && k == 17 && n < 200 {
					continue // a sample of the k = 17 combinations is enough
				}
				cases = append(cases, solveCase{kind, n, k})
			}
		}
	}
	return cases
}

// solveMatrix returns an n x n matrix of the given kind.
func solveMatrix(r *rand.Rand, kind string, n int) []float64 {
	a := make([]float64, n*n)
	for i := range a {
		a[i] = r.Float64()*2 - 1
	}
	switch kind {
	case "dominant":
		for i := range n {
			a[i*n+i] += float64(n)
		}
	case "zerodiag":
		for i := range n {
			a[i*n+i] = 0
		}
		if n == 1 {
			a[0] = 0.5
		}
	case "perm":
		clear(a)
		for i, p := range r.Perm(n) {
			a[i*n+p] = 1
		}
	case "tiny", "huge":
		s := map[string]float64{"tiny": 1e-300, "huge": 1e306}[kind]
		for i := range a {
			a[i] *= s
		}
	case "zero":
		clear(a)
	case "zero row":
		clear(a[n/2*n : n/2*n+n])
	case "duplicate rows":
		copy(a[n/2*n:n/2*n+n], a[:n])
	case "rank n-2":
		u, v := make([]float64, n*(n-2)), make([]float64, (n-2)*n)
		for i := range u {
			u[i], v[i] = r.Float64()*2-1, r.Float64()*2-1
		}
		for i := range n {
			for j := range n {
				s := 0.0
				for p := range n - 2 {
					s += u[i*(n-2)+p] * v[p*n+j]
				}
				a[i*n+j] = s
			}
		}
	case "hilbert 14":
		for i := range n {
			for j := range n {
				a[i*n+j] = 1 / float64(i+j+1)
			}
		}
	case "nan in a":
		a[n*n/2] = math.NaN()
	case "x overflows":
		clear(a)
		for i := range n {
			a[i*n+i] = 1e-300
		}
	}
	return a
}

// solveRHS returns n*k right-hand side values scaled to the kind.
func solveRHS(r *rand.Rand, kind string, n, k int) []float64 {
	s := map[string]float64{"tiny": 1e-300, "huge": 1e306, "x overflows": 1e300}[kind]
	if s == 0 {
		s = 1
	}
	b := make([]float64, n*k)
	for i := range b {
		b[i] = (r.Float64()*2 - 1) * s
	}
	if kind == "inf in b" && len(b) > 0 {
		b[len(b)-1] = math.Inf(-1)
	}
	return b
}

// solveRef is the naive reference: unblocked Gaussian elimination with
// partial pivoting in float64, on copies. ok is false at a zero pivot.
func solveRef(n, k int, a0, b0 []float64) (x []float64, ok bool) {
	a, x := append([]float64(nil), a0...), append([]float64(nil), b0...)
	for c := range n {
		p := c
		for i := c + 1; i < n; i++ {
			if math.Abs(a[i*n+c]) > math.Abs(a[p*n+c]) {
				p = i
			}
		}
		if a[p*n+c] == 0 {
			return nil, false
		}
		for j := range n {
			a[c*n+j], a[p*n+j] = a[p*n+j], a[c*n+j]
		}
		for j := range k {
			x[c*k+j], x[p*k+j] = x[p*k+j], x[c*k+j]
		}
		for i := c + 1; i < n; i++ {
			l := a[i*n+c] / a[c*n+c]
			for j := c + 1; j < n; j++ {
				a[i*n+j] -= l * a[c*n+j]
			}
			for j := range k {
				x[i*k+j] -= l * x[c*k+j]
			}
		}
	}
	for i := n - 1; i >= 0; i-- {
		for j := range k {
			s := x[i*k+j]
			for p := i + 1; p < n; p++ {
				s -= a[i*n+p] * x[p*k+j]
			}
			x[i*k+j] = s / a[i*n+i]
		}
	}
	return x, true
}

// dot2 returns sum a_i*b_i - c nearly exactly (Ogita, Rump and Oishi's
// compensated dot product: products split by FMA, sums by TwoSum), so
// that the residual is the solver's error, not the test's.
func dot2(a, b []float64, stride int, c float64) float64 {
	s, e := -c, 0.0
	for i, av := range a {
		p := av * b[i*stride]
		pe := math.FMA(av, b[i*stride], -p)
		t := s + p
		bv := t - s
		e += (s - (t - bv)) + (p - bv) + pe
		s = t
	}
	return s + e
}

// solveResidual is max over columns of ||A x - b||_inf / (||A||_inf
// ||x||_inf n eps): a backward stable solver keeps it of order 1.
func solveResidual(n, k int, a, b, x []float64) float64 {
	anorm := 0.0
	for i := range n {
		s := 0.0
		for _, v := range a[i*n : (i+1)*n] {
			s += math.Abs(v)
		}
		anorm = max(anorm, s)
	}
	worst := 0.0
	for c := range k {
		rmax, xmax := 0.0, 0.0
		for i := range n {
			rmax = max(rmax, math.Abs(dot2(a[i*n:(i+1)*n], x[c:], k, b[i*k+c])))
			xmax = max(xmax, math.Abs(x[i*k+c]))
		}
		if rmax > 0 {
			worst = max(worst, rmax/(anorm*xmax*float64(n)*0x1p-52))
		}
	}
	return worst
}

// solveArgs builds the request: b as [n] when k == 0, else [n,k].
func solveArgs(c solveCase, a, b []float64) wire.Args {
	bshape := []int{c.n}
	if c.k > 0 {
		bshape = append(bshape, c.k)
	}
	return wire.Args{
		"a": wire.TensorValue(tensor.FromFloat64([]int{c.n, c.n}, a)),
		"b": wire.TensorValue(tensor.FromFloat64(bshape, b)),
	}
}

// solveEach runs a prepared solve with every implementation, C on every
// SIMD path, handing each outcome to check.
func solveEach(t *testing.T, args wire.Args, check func(impl string, x *tensor.Tensor, err error)) {
	t.Helper()
	eachRun(t, "solve", args, func(where string, _ *cgo.Ctx, res wire.Result, err error) {
		var out *tensor.Tensor
		if err == nil {
			if out, err = res.Tensor("x"); err != nil {
				t.Fatalf("%s: result: %v", where, err)
			}
		}
		check(where, out, err)
	})
}

// TestSolveTable runs the shared table through the registry: every
// implementation's x has a small scaled residual and agrees with the
// reference (and so with the other implementations).
func TestSolveTable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range solveTable() {
		k := max(c.k, 1)
		a, b := solveMatrix(r, c.kind, c.n), solveRHS(r, c.kind, c.n, k)
		want, ok := solveRef(c.n, k, a, b)
		if !ok {
			t.Fatalf("%+v: the reference finds a zero pivot", c)
		}
		what := fmt.Sprintf("%s n=%d k=%d", c.kind, c.n, c.k)
		solveEach(t, solveArgs(c, a, b), func(impl string, x *tensor.Tensor, err error) {
			if err != nil {
				t.Errorf("%s %s: %v", impl, what, err)
				return
			}
			wantShape := []int{c.n}
			if c.k > 0 {
				wantShape = append(wantShape, c.k)
			}
			if tensor.FormatShape(x.Shape) != tensor.FormatShape(wantShape) {
				t.Errorf("%s %s: shape %v, want %v", impl, what, x.Shape, wantShape)
				return
			}
			got := x.Float64()
			for i, v := range got { // a solution that overflows is refused
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s %s: x[%d] = %v", impl, what, i, v)
				}
			}
			if res := solveResidual(c.n, k, a, b, got); !(res <= 4) { // NaN fails
				t.Errorf("%s %s: scaled residual %.3g", impl, what, res)
			}
			// Condition numbers here are below about 1e4: 1e-9 is loose.
			diff, scale := 0.0, 0.0
			for i := range want {
				diff = max(diff, math.Abs(got[i]-want[i]))
				scale = max(scale, math.Abs(want[i]))
			}
			if diff > 1e-9*scale || (c.kind == "perm" && diff != 0) {
				t.Errorf("%s %s: differs from the reference by %.3g (of %.3g)", impl, what, diff, scale)
			}
		})
	}
}

// TestSolveNumerical: singular, nearly singular and non-finite systems
// are the protocol's numerical error in every implementation.
func TestSolveNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kind := range solveBadKinds {
		for _, n := range []int{1, 2, 3, 14, 65, 130} {
			if kind == "hilbert 14" && n != 14 || (n < 3 && (kind == "rank n-2" || kind == "duplicate rows" || kind == "zero row")) {
				continue
			}
			for _, k := range []int{0, 3} {
				c := solveCase{kind, n, k}
				a, b := solveMatrix(r, kind, n), solveRHS(r, kind, n, max(k, 1))
				solveEach(t, solveArgs(c, a, b), func(impl string, _ *tensor.Tensor, err error) {
					var e *wire.Error
					if !errors.As(err, &e) || e.Code != wire.Numerical {
						t.Errorf("%s %s n=%d k=%d: got %v, want a numerical error", impl, kind, n, k, err)
					}
				})
			}
		}
	}
}

// TestSolveNoRightHandSides: b of shape [n,0] gives x of shape [n,0], and
// a is still checked: singular is still numerical.
func TestSolveNoRightHandSides(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, kind := range []string{"random", "duplicate rows"} {
		a := solveMatrix(r, kind, 5)
		args := wire.Args{
			"a": wire.TensorValue(tensor.FromFloat64([]int{5, 5}, a)),
			"b": wire.TensorValue(tensor.FromFloat64([]int{5, 0}, nil)),
		}
		solveEach(t, args, func(impl string, x *tensor.Tensor, err error) {
			if kind == "random" && (err != nil || tensor.FormatShape(x.Shape) != "[5,0]") {
				t.Errorf("%s %s: %v, %v", impl, kind, x, err)
			}
			var e *wire.Error
			if kind != "random" && (!errors.As(err, &e) || e.Code != wire.Numerical) {
				t.Errorf("%s %s: got %v, want numerical", impl, kind, err)
			}
		})
	}
}

// TestSolveMatchesGonumMat: SolveGonum is what gonum's mat package
// computes (mat.Dense.Solve, the same LAPACK routines without the polls),
// and its threshold is stricter than mat's (a Condition error at 1e16).
func TestSolveMatchesGonumMat(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 7, 64, 65, 300} {
		a, b := solveMatrix(r, "random", n), solveRHS(r, "random", n, 3)
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

// TestSolveIllConditionedButSolvable: Hilbert 8 (condition ~ 3e10) is
// solved, to the accuracy its condition allows.
func TestSolveIllConditionedButSolvable(t *testing.T) {
	const n = 8
	a := solveMatrix(rand.New(rand.NewPCG(1, 2)), "hilbert 14", n)
	b := make([]float64, n)
	for i := range b {
		b[i] = 1
	}
	want, _ := solveRef(n, 1, a, b)
	solveEach(t, solveArgs(solveCase{"hilbert", n, 0}, a, b), func(impl string, x *tensor.Tensor, err error) {
		if err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		for i, v := range x.Float64() {
			if math.Abs(v-want[i]) > 1e-4*math.Abs(want[i]) {
				t.Errorf("%s: x[%d] = %v, want %v", impl, i, v, want[i])
			}
		}
		if res := solveResidual(n, 1, a, b, x.Float64()); res > 4 {
			t.Errorf("%s: scaled residual %.3g", impl, res)
		}
	})
}

func TestSolveValidation(t *testing.T) {
	f64 := func(shape ...int) wire.Value { x, _ := tensor.New(tensor.F64, shape...); return wire.TensorValue(x) }
	checkRefusals(t, "solve", []refusal{
		{"non-square a", wire.Args{"a": f64(3, 4), "b": f64(3)}, "[3,4]"},
		{"short b", wire.Args{"a": f64(3, 3), "b": f64(2)}, "b must be [3] or [3,k]"},
		{"b rows", wire.Args{"a": f64(3, 3), "b": f64(4, 2)}, "[4,2]"},
	})
	op, _ := kernels.Default().Lookup("solve")
	// [n,0]: no right-hand sides is a valid request (A is still checked).
	if _, err := op.Prepare(wire.Args{"a": f64(3, 3), "b": f64(3, 0)}); err != nil {
		t.Errorf("[3,0] b: %v", err)
	}
}

// TestSolveCancelAndProgress: both implementations stop on a cancelled
// Ctx and report the same total, all of it done after a finished call.
func TestSolveCancelAndProgress(t *testing.T) {
	const n, k = 300, 2
	r := rand.New(rand.NewPCG(1, 1))
	a, b := solveMatrix(r, "random", n), solveRHS(r, "random", n, k)
	op, _ := kernels.Default().Lookup("solve")
	call, err := op.Prepare(solveArgs(solveCase{"random", n, k}, a, b))
	if err != nil {
		t.Fatal(err)
	}
	want := int64((n-1)*n*(2*n-1)/6 + n*n*k)
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := call.Run(c, impl); err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		if done, total, _ := c.Progress(); done != want || total != want {
			t.Errorf("%s: progress %d/%d, want %d", impl, done, total, want)
		}
		c.Cancel()
		if _, err := call.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", impl, err)
		}
	}
}

// TestSolveCancelDuring: a call cancelled once it has reported progress
// stops early with a cancellation, in both implementations.
func TestSolveCancelDuring(t *testing.T) {
	if testing.Short() {
		t.Skip("factors 1200 x 1200 matrices")
	}
	const n = 1200
	r := rand.New(rand.NewPCG(2, 2))
	a, b := solveMatrix(r, "random", n), solveRHS(r, "random", n, 1)
	op, _ := kernels.Default().Lookup("solve")
	call, err := op.Prepare(solveArgs(solveCase{"random", n, 0}, a, b))
	if err != nil {
		t.Fatal(err)
	}
	cancelMidway(t, op, call)
}
