package conform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// solveCase is one system: a matrix kind, its order, and the right-hand
// sides (k == 0: a vector b of shape [n]; k < 0: b of shape [n,0]).
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

// solveCases: orders around every block width of the C code (8, 32, 128)
// and of gonum's (64), primes, and 500; vector and matrix right-hand
// sides; then singular, nearly singular and non-finite systems, which are
// the protocol's numerical error; no right-hand sides (a is still
// checked); and Hilbert 8, ill-conditioned (~3e10) but solvable.
func solveCases() []Case {
	var table []solveCase
	for i, n := range []int{0, 1, 2, 3, 5, 7, 8, 13, 31, 33, 63, 64, 65, 127, 128, 129, 200, 500} {
		for j, kind := range solveGoodKinds {
			if n >= 200 && j > 1 {
				continue // two kinds at the largest orders keep the run short
			}
			for _, k := range []int{0, 1, 3, 17} {
				if (i+j+k)%2 == 1 && k == 17 && n < 200 {
					continue // a sample of the k = 17 combinations is enough
				}
				table = append(table, solveCase{kind, n, k})
			}
		}
	}
	for _, kind := range solveBadKinds {
		for _, n := range []int{1, 2, 3, 14, 65, 130} {
			if kind == "hilbert 14" && n != 14 || (n < 3 && (kind == "rank n-2" || kind == "duplicate rows" || kind == "zero row")) {
				continue
			}
			for _, k := range []int{0, 3} {
				table = append(table, solveCase{kind, n, k})
			}
		}
	}
	table = append(table, solveCase{"random", 5, -1}, solveCase{"duplicate rows", 5, -1}, solveCase{"hilbert 8", 8, 0})
	cases := make([]Case, len(table))
	for i, c := range table {
		cases[i] = Case{
			Name:  fmt.Sprintf("%s n=%d k=%d", c.kind, c.n, c.k),
			Size:  c.n*c.n*c.n/3 + c.n*c.n*max(c.k, 1),
			Build: func() (wire.Args, Check) { return c.build(seeded(3, i)) },
		}
	}
	return append(cases, refusals("solve", []refusal{
		{"non-square a", wire.Args{"a": zeros(3, 4), "b": zeros(3)}, "[3,4]"},
		{"short b", wire.Args{"a": zeros(3, 3), "b": zeros(2)}, "b must be [3] or [3,k]"},
		{"b rows", wire.Args{"a": zeros(3, 3), "b": zeros(4, 2)}, "[4,2]"},
	})...)
}

func (c solveCase) build(r *rand.Rand) (wire.Args, Check) {
	k := max(c.k, 0)
	if c.k == 0 {
		k = 1
	}
	a, b := solveMatrix(r, c.kind, c.n), solveRHS(r, c.kind, c.n, k)
	bshape := []int{c.n}
	if c.k != 0 {
		bshape = append(bshape, k)
	}
	args := wire.Args{
		"a": wire.TensorValue(tensor.FromFloat64([]int{c.n, c.n}, a)),
		"b": wire.TensorValue(tensor.FromFloat64(bshape, b)),
	}
	want, solvable := solveRef(c.n, k, a, b)
	for _, bad := range solveBadKinds {
		if c.kind == bad {
			return args, fails(wire.Numerical)
		}
	}
	if !solvable {
		panic(fmt.Sprintf("conform: %+v: the reference finds a zero pivot", c))
	}
	// Condition numbers are below about 1e4 but for Hilbert 8's 3e10.
	tol := 1e-9
	if c.kind == "hilbert 8" {
		tol = 1e-4
	}
	return args, ok(func(res wire.Result) error {
		x, err := resultTensor(res, "x", tensor.F64, bshape...)
		if err != nil {
			return err
		}
		got := x.Float64()
		for i, v := range got { // a solution that overflows is refused
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("x[%d] = %v", i, v)
			}
		}
		if res := solveResidual(c.n, k, a, b, got); !(res <= 4) { // NaN fails
			return fmt.Errorf("scaled residual %.3g", res)
		}
		diff, scale := 0.0, 0.0
		for i := range want {
			diff = max(diff, math.Abs(got[i]-want[i]))
			scale = max(scale, math.Abs(want[i]))
		}
		if diff > tol*scale || (c.kind == "perm" && diff != 0) {
			return fmt.Errorf("differs from the reference by %.3g (of %.3g)", diff, scale)
		}
		return nil
	})
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
	case "hilbert 14", "hilbert 8":
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
	switch {
	case kind == "inf in b" && len(b) > 0:
		b[len(b)-1] = math.Inf(-1)
	case kind == "hilbert 8":
		for i := range b {
			b[i] = 1
		}
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

// dot2 returns sum a_i*b_i - c nearly exactly (a compensated dot product:
// products split by FMA, sums by TwoSum), so that the residual is the
// solver's error, not the test's.
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
