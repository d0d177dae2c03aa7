package kernels

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// solveOp solves the linear system A X = B.
var solveOp = &Op{
	Name:    "solve",
	Summary: "solve a @ x = b (LU with partial pivoting)",
	Doc: "x solving a x = b by LU factorisation with partial pivoting; a singular or nearly " +
		"singular a (estimated 1-norm condition number above 2^52), or NaN or Inf in a or b, " +
		"is a numerical error",
	Params: []Param{
		{Name: "a", Kind: "tensor", DTypes: []string{"f64"}, Ranks: []int{2}, Shape: "[n,n]", Required: true, Doc: "the square matrix"},
		{Name: "b", Kind: "tensor", DTypes: []string{"f64"}, Ranks: []int{1, 2}, Shape: "[n] or [n,k]", Required: true, Doc: "the right-hand side(s)"},
	},
	Results: []Param{{Name: "x", Kind: "tensor", DTypes: []string{"f64"}, Shape: "b's", Doc: "the solution: a x = b"}},
	Impls:   []string{ImplC, ImplGonum},
	Bind:    prepareSolve,
}

func init() { defaultRegistry.Register(solveOp) }

func prepareSolve(args Args) (*Call, error) {
	a, b := args.Tensor("a"), args.Tensor("b")
	if a.Shape[0] != a.Shape[1] {
		return nil, invalidf("solve: a must be a square matrix [n,n], got shape %s", tensor.FormatShape(a.Shape))
	}
	n := a.Shape[0]
	if b.Shape[0] != n {
		return nil, invalidf("solve: a is %s, so b must be [%d] or [%d,k], got shape %s",
			tensor.FormatShape(a.Shape), n, n, tensor.FormatShape(b.Shape))
	}
	k := 1
	if len(b.Shape) == 2 {
		k = b.Shape[1]
	}
	run := func(impl func(*cgo.Ctx, int, int, []float64, []float64, []float64) error) RunFunc {
		return func(c *cgo.Ctx, o Out) (wire.Result, error) {
			// Both implementations factor a copy of a in memory of their
			// own (pivots are chosen there) and solve in x, reading it back
			// for arithmetic only.
			out, err := o.Tensor("x", tensor.F64, Exposed, b.Shape...)
			if err != nil {
				return nil, wire.Errorf(wire.TooLarge, "solve: result %s: %v", tensor.FormatShape(b.Shape), err)
			}
			if err := impl(c, n, k, a.Float64(), b.Float64(), out.Float64()); err != nil {
				return nil, fromC("solve", err)
			}
			return wire.Result{"x": wire.TensorValue(out)}, nil
		}
	}
	fn := float64(n)
	return &Call{Work: fn*fn*fn/3 + fn*fn*float64(k), OutElems: fn * float64(k),
		run: map[string]RunFunc{
			ImplC:     run(solveC),
			ImplGonum: run(SolveGonum),
		}}, nil
}

// solveC solves with the C library: a is n x n, b and x n x k, row-major.
func solveC(c *cgo.Ctx, n, k int, a, b, x []float64) error {
	return cgo.SolveF64(c, n, k, a, max(n, 1), b, max(k, 1), x, max(k, 1))
}

// Block sizes of SolveGonum's factorisation: gonum's own panel width
// (what its Dgetrf uses), and the most multiply-adds between two polls.
const (
	solveGonumNB    = 64
	solveGonumChunk = 1 << 23
)

// SolveGonum is the gonum implementation of solve, with crunch_solve_f64's
// contract: it writes to x (n x k, row-major) the solution of a x = b, a
// being n x n, or returns an error matching cgo.ErrNumerical when a or b
// holds NaN or Inf, a has an exactly zero pivot, its estimated 1-norm
// condition number exceeds 1/eps = 2^52, or x overflows.
//
// It is gonum's LU solve (what mat.LU and mat.Dense.Solve run: Dgetrf,
// Dgecon, Dgetrs), with Dgetrf's blocked loop written out here
// (getrfPolled) so that it polls c for cancellation between panels and
// pieces of the trailing update, and reports progress in the C kernel's
// units (multiply-adds: sum_{j<n} (n-1-j)^2 + n^2 k). Like the C kernel it
// first scales a and b by a power of two when a's entries are far from 1
// (solveScaledCopy), so that the two refuse the same systems.
func SolveGonum(c *cgo.Ctx, n, k int, a, b, x []float64) error {
	c.Begin(luWork(n) + int64(n)*int64(n)*int64(k))
	if n == 0 {
		return nil
	}
	if !allFinite(a[:n*n]) || !allFinite(b[:n*k]) {
		return cgo.ErrNumerical
	}
	lu := make([]float64, n*n)
	scale, anorm := solveScaledCopy(lu, a, n)
	impl := gonum.Implementation{}
	ipiv := make([]int, n)
	if err := getrfPolled(c, impl, n, lu, ipiv); err != nil {
		return err
	}
	if c.Canceled() {
		return canceled
	}
	rcond := impl.Dgecon(lapack.MaxColumnSum, n, lu, n, anorm, make([]float64, 4*n), make([]int, n))
	if !(rcond >= 0x1p-52) { // NaN refuses too
		return cgo.ErrNumerical
	}
	if c.Canceled() {
		return canceled
	}
	for i, v := range b[:n*k] {
		x[i] = v * scale
	}
	impl.Dgetrs(blas.NoTrans, n, k, lu, n, ipiv, x, max(k, 1))
	c.Add(int64(n) * int64(n) * int64(k))
	if !allFinite(x[:n*k]) {
		return cgo.ErrNumerical
	}
	return nil
}

// luWork is the factorisation's multiply-adds, sum_{j<n} (n-1-j)^2.
func luWork(n int) int64 {
	if n < 2 {
		return 0
	}
	m := int64(n)
	return (m - 1) * m * (2*m - 1) / 6
}

func allFinite(v []float64) bool {
	for _, f := range v {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// solveScaledCopy copies the n x n matrix a (finite) into lu and returns
// its 1-norm (largest column sum of magnitudes). When the largest
// magnitude is beyond 2^+-256, or a column sum overflows, lu is instead a
// scaled by the power of two that brings its largest magnitude into
// [0.5, 1) (within 2^+-1000), and the returned scale is that power, else 1:
// the rule of crunch_solve_f64's load().
func solveScaledCopy(lu, a []float64, n int) (scale, anorm float64) {
	copy(lu, a[:n*n])
	colsum := make([]float64, n)
	norm := func() (amax, anorm float64) {
		clear(colsum)
		for i := range n {
			for j, v := range lu[i*n : (i+1)*n] {
				av := math.Abs(v)
				colsum[j] += av
				amax = max(amax, av)
			}
		}
		for _, s := range colsum {
			anorm = max(anorm, s)
		}
		return amax, anorm
	}
	amax, anorm := norm()
	if amax == 0 || (!math.IsInf(anorm, 1) && amax <= 0x1p256 && amax >= 0x1p-256) {
		return 1, anorm
	}
	_, e := math.Frexp(amax) // amax = f * 2^e, 0.5 <= f < 1
	scale = math.Ldexp(1, -min(max(e, -1000), 1000))
	for i := range lu {
		lu[i] *= scale
	}
	_, anorm = norm()
	return scale, anorm
}

// getrfPolled is gonum's blocked Dgetrf (row-major LU with partial
// pivoting, P A = L U) on the n x n matrix lu, written out so that c can
// cancel it: panels of solveGonumNB columns factored by Dgetf2, their row
// swaps applied left and right (Dlaswp), U12 by Dtrsm, and the trailing
// update by Dgemm in pieces of about solveGonumChunk multiply-adds, polling
// c before each. It returns cgo.ErrNumerical at an exactly zero pivot.
func getrfPolled(c *cgo.Ctx, impl gonum.Implementation, n int, lu []float64, ipiv []int) error {
	bi := blas64.Implementation()
	for j := 0; j < n; j += solveGonumNB {
		if c.Canceled() {
			return canceled
		}
		jb := min(solveGonumNB, n-j)
		if !impl.Dgetf2(n-j, jb, lu[j*n+j:], n, ipiv[j:j+jb]) {
			return cgo.ErrNumerical
		}
		for i := j; i < j+jb; i++ {
			ipiv[i] += j // Dgetf2's pivots count from the panel's first row
		}
		impl.Dlaswp(j, lu, n, j, j+jb-1, ipiv[:j+jb], 1)
		var credited int64
		if rest := n - j - jb; rest > 0 {
			impl.Dlaswp(rest, lu[j+jb:], n, j, j+jb-1, ipiv[:j+jb], 1)
			bi.Dtrsm(blas.Left, blas.Lower, blas.NoTrans, blas.Unit, jb, rest, 1,
				lu[j*n+j:], n, lu[j*n+j+jb:], n)
			rows := max(64, solveGonumChunk/(rest*jb))
			for r := 0; r < rest; r += rows {
				if c.Canceled() {
					return canceled
				}
				mr := min(rows, rest-r)
				top := (j + jb + r) * n // the piece's first row
				bi.Dgemm(blas.NoTrans, blas.NoTrans, mr, rest, jb, -1,
					lu[top+j:], n, lu[j*n+j+jb:], n, 1, lu[top+j+jb:], n)
				c.Add(int64(mr) * int64(rest) * int64(jb))
				credited += int64(mr) * int64(rest) * int64(jb)
			}
		}
		// The panel's whole share of the work: sum over its columns q of
		// (n-1-q)^2, less what the pieces credited.
		c.Add(luWork(n-j) - luWork(n-j-jb) - credited)
	}
	return nil
}
