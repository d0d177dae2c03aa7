package kernels

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// gemm is the general matrix product C = alpha·op(A)·op(B) + beta·C.
var gemm = &Op{
	Name:    "gemm",
	Summary: "matrix product alpha*op(a)@op(b) + beta*c",
	Doc:     "general matrix product c = alpha*op(a)*op(b) + beta*c, row-major, BLAS semantics",
	Params: []Param{
		{Name: "a", Kind: "tensor", DTypes: []string{"f32", "f64"}, Ranks: []int{2}, Shape: "[m,k], or [k,m] with trans_a", Required: true, Doc: "left matrix"},
		{Name: "b", Kind: "tensor", DTypes: []string{"f32", "f64"}, SameDType: "a", Ranks: []int{2}, Shape: "[k,n], or [n,k] with trans_b", Required: true, Doc: "right matrix, same dtype as a"},
		{Name: "c", Kind: "tensor", DTypes: []string{"f32", "f64"}, SameDType: "a", Ranks: []int{2}, Shape: "[m,n]", Doc: "added to the product when beta != 0; not modified"},
		{Name: "alpha", Kind: "float", Default: 1.0, Doc: "scale of the product"},
		{Name: "beta", Kind: "float", Default: 0.0, Doc: "scale of c; 0 ignores c's contents"},
		{Name: "trans_a", Kind: "bool", Default: false, Doc: "use a transposed"},
		{Name: "trans_b", Kind: "bool", Default: false, Doc: "use b transposed"},
	},
	Results: []Param{{Name: "c", Kind: "tensor", DTypes: []string{"f32", "f64"}, Shape: "[m,n]", Doc: "the result"}},
	Impls:   []string{ImplC, ImplGonum},
	Bind:    prepareGemm,
}

func init() { defaultRegistry.Register(gemm) }

// gemmArgs is a validated gemm request.
type gemmArgs struct {
	a, b, c        *tensor.Tensor // c may be nil
	alpha, beta    float64
	transA, transB bool
	m, n, k        int
}

func prepareGemm(args Args) (*Call, error) {
	g, err := parseGemm(args)
	if err != nil {
		return nil, err
	}
	return &Call{Work: float64(g.m) * float64(g.n) * float64(g.k),
		OutElems: float64(g.m) * float64(g.n),
		run: map[string]RunFunc{
			ImplC:     g.runC,
			ImplGonum: g.runGonum,
		}}, nil
}

func parseGemm(args Args) (*gemmArgs, error) {
	g := &gemmArgs{a: args.Tensor("a"), b: args.Tensor("b"), c: args.Tensor("c"),
		alpha: args.Float("alpha"), beta: args.Float("beta"),
		transA: args.Bool("trans_a"), transB: args.Bool("trans_b")}
	g.m, g.k = g.a.Shape[0], g.a.Shape[1]
	if g.transA {
		g.m, g.k = g.k, g.m
	}
	kb, n := g.b.Shape[0], g.b.Shape[1]
	if g.transB {
		kb, n = n, kb
	}
	g.n = n
	if kb != g.k {
		return nil, invalidf("gemm: op(a) is %s but op(b) is %s: inner dimensions differ (%d != %d)",
			dims(g.m, g.k), dims(kb, n), g.k, kb)
	}
	if g.c != nil && (g.c.Shape[0] != g.m || g.c.Shape[1] != g.n) {
		return nil, invalidf("gemm: c is %v but the product is %s", g.c.Shape, dims(g.m, g.n))
	}
	return g, nil
}

func dims(r, c int) string { return fmt.Sprintf("[%d,%d]", r, c) }

// output returns the result tensor, holding c's values when beta uses them
// (otherwise its contents are undefined). The kernels read it back for
// arithmetic only, so it may lie where the reply goes.
func (g *gemmArgs) output(o Out) (*tensor.Tensor, error) {
	out, err := o.Tensor("c", g.a.DType, Exposed, g.m, g.n)
	if err != nil {
		return nil, wire.Errorf(wire.TooLarge, "gemm: result %s: %v", dims(g.m, g.n), err)
	}
	if g.c != nil && g.beta != 0 {
		copy(out.Data, g.c.Data)
	}
	return out, nil
}

// lds returns the leading dimensions of a and b as stored (row lengths).
func (g *gemmArgs) lds() (lda, ldb int) {
	return max(g.a.Shape[1], 1), max(g.b.Shape[1], 1)
}

func (g *gemmArgs) runC(x *cgo.Ctx, o Out) (wire.Result, error) {
	out, err := g.output(o)
	if err != nil {
		return nil, err
	}
	lda, ldb := g.lds()
	ldc := max(g.n, 1)
	if g.a.DType == tensor.F64 {
		err = cgo.GemmF64(x, g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a.Float64(), lda,
			g.b.Float64(), ldb, g.beta, out.Float64(), ldc)
	} else {
		err = cgo.GemmF32(x, g.transA, g.transB, g.m, g.n, g.k, float32(g.alpha), g.a.Float32(), lda,
			g.b.Float32(), ldb, float32(g.beta), out.Float32(), ldc)
	}
	if err != nil {
		return nil, fromC("gemm", err)
	}
	return wire.Result{"c": wire.TensorValue(out)}, nil
}

// gemmRowBlock is how many rows of C gonum computes between cancel polls:
// about a millisecond of work at n = 1024.
const gemmRowBlock = 16

// runGonum computes the product with gonum's BLAS, a block of C's rows at a
// time so that it can be cancelled and report progress like the C path.
func (g *gemmArgs) runGonum(x *cgo.Ctx, o Out) (wire.Result, error) {
	out, err := g.output(o)
	if err != nil {
		return nil, err
	}
	x.Begin(int64(g.m) * int64(g.n) * int64(g.k))
	if g.m == 0 || g.n == 0 {
		return wire.Result{"c": wire.TensorValue(out)}, nil
	}
	if g.k == 0 || g.alpha == 0 {
		// C = beta*C; gonum would want non-empty operands. out holds c only
		// when beta != 0; scale by 0 stores zeros without reading it, so
		// NaN never enters.
		scale(out, g.beta)
		x.Add(int64(g.m) * int64(g.n) * int64(g.k))
		return wire.Result{"c": wire.TensorValue(out)}, nil
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if g.transA {
		tA = blas.Trans
	}
	if g.transB {
		tB = blas.Trans
	}
	lda, ldb := g.lds()
	for r0 := 0; r0 < g.m; r0 += gemmRowBlock {
		if x.Canceled() {
			return nil, canceled
		}
		rows := min(gemmRowBlock, g.m-r0)
		// Rows r0.. of op(A) are rows of A, or columns of A when transposed:
		// either way a sub-matrix gonum can address by offset and stride.
		aOff, aRows, aCols := r0*lda, rows, g.k
		if g.transA {
			aOff, aRows, aCols = r0, g.k, rows
		}
		switch g.a.DType {
		case tensor.F64:
			a, b, c := g.a.Float64(), g.b.Float64(), out.Float64()
			blas64.Gemm(tA, tB, g.alpha,
				blas64.General{Rows: aRows, Cols: aCols, Stride: lda, Data: a[min(aOff, len(a)):]},
				blas64.General{Rows: g.b.Shape[0], Cols: g.b.Shape[1], Stride: ldb, Data: b},
				g.beta,
				blas64.General{Rows: rows, Cols: g.n, Stride: g.n, Data: c[r0*g.n:]})
		default:
			a, b, c := g.a.Float32(), g.b.Float32(), out.Float32()
			blas32.Gemm(tA, tB, float32(g.alpha),
				blas32.General{Rows: aRows, Cols: aCols, Stride: lda, Data: a[min(aOff, len(a)):]},
				blas32.General{Rows: g.b.Shape[0], Cols: g.b.Shape[1], Stride: ldb, Data: b},
				float32(g.beta),
				blas32.General{Rows: rows, Cols: g.n, Stride: g.n, Data: c[r0*g.n:]})
		}
		x.Add(int64(rows) * int64(g.n) * int64(g.k))
	}
	return wire.Result{"c": wire.TensorValue(out)}, nil
}

// scale multiplies every element of a float tensor by s; s = 0 stores
// zeros without reading the elements (BLAS's rule for beta = 0).
func scale(t *tensor.Tensor, s float64) {
	if s == 0 {
		clear(t.Data) // all-zero bits: +0.0
		return
	}
	switch t.DType {
	case tensor.F64:
		d := t.Float64()
		for i := range d {
			d[i] *= s
		}
	case tensor.F32:
		d := t.Float32()
		for i := range d {
			d[i] *= float32(s)
		}
	}
}
