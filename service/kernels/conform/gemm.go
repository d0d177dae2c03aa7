package conform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// gemmCase is one product: sizes, transposes, scales, whether c is given,
// and whether a and b hold tiny, huge and -0 values.
type gemmCase struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float64
	withC, special bool
	dt             tensor.DType
}

// gemmCases: empty and 1x1 products, primes, sizes beside the micro-kernels'
// tiles, a long k; every transpose; alpha and beta, with c holding a NaN
// where beta = 0 must ignore it.
func gemmCases() []Case {
	var table []gemmCase
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		for _, s := range [][3]int{{0, 0, 0}, {1, 1, 1}, {2, 3, 1}, {4, 3, 0}, {7, 5, 3}, {13, 17, 19}, {31, 1, 64}, {65, 33, 2}, {1, 40, 97}, {17, 9, 31}} {
			m, n, k := s[0], s[1], s[2]
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				table = append(table, gemmCase{m, n, k, tr[0], tr[1], 1, 0, false, false, dt})
			}
			table = append(table,
				gemmCase{m, n, k, false, false, -0.5, 2, true, false, dt},
				gemmCase{m, n, k, true, true, 0, 3, true, false, dt},
				gemmCase{m, n, k, false, false, 1, 0, true, true, dt},
				gemmCase{m, n, k, false, true, 0, 0, true, false, dt}) // C = 0, c unread
		}
	}
	cases := make([]Case, len(table))
	for i, c := range table {
		cases[i] = Case{
			Name:  fmt.Sprintf("%s %+v", c.dt, c),
			Size:  c.m*c.n*c.k + c.m*c.n,
			Build: func() (wire.Args, Check) { return c.build(seeded(7, i)) },
		}
	}
	return append(cases, refusals("gemm", []refusal{
		{"inner dims", wire.Args{"a": zeros(2, 3), "b": zeros(2, 2)}, "inner dimensions"},
		{"trans inner dims", wire.Args{"a": zeros(2, 3), "b": zeros(3, 2), "trans_a": wire.Bool(true)}, "inner dimensions"},
		{"c shape", wire.Args{"a": zeros(2, 3), "b": zeros(3, 2), "c": zeros(3, 3)}, "c is"},
	})...)
}

// gemmHuge is a magnitude whose products stay finite in the dtype.
var gemmHuge = map[tensor.DType]float64{tensor.F64: 1e100, tensor.F32: 1e15}

func gemmMatrix(r *rand.Rand, dt tensor.DType, rows, cols int, special bool) *tensor.Tensor {
	v := make([]float64, rows*cols)
	for i := range v {
		v[i] = r.Float64()*2 - 1
		if special {
			switch i % 7 {
			case 1:
				v[i] *= 1e-300 // tiny (flushes to 0 in f32)
			case 2:
				v[i] = math.Copysign(0, -1)
			case 3:
				v[i] *= gemmHuge[dt]
			}
		}
	}
	return realTensor(dt, []int{rows, cols}, v)
}

// build makes the request and checks the result against the product by
// its definition in float64, within tol times the sum of |terms|.
func (c gemmCase) build(r *rand.Rand) (wire.Args, Check) {
	ra, ca, rb, cb := c.m, c.k, c.k, c.n
	if c.transA {
		ra, ca = ca, ra
	}
	if c.transB {
		rb, cb = cb, rb
	}
	a, b := gemmMatrix(r, c.dt, ra, ca, c.special), gemmMatrix(r, c.dt, rb, cb, c.special)
	args := wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b),
		"alpha": wire.Float(c.alpha), "beta": wire.Float(c.beta),
		"trans_a": wire.Bool(c.transA), "trans_b": wire.Bool(c.transB)}
	var cm *tensor.Tensor
	if c.withC {
		cm = gemmMatrix(r, c.dt, c.m, c.n, false)
		if c.beta == 0 && c.m*c.n > 0 { // beta = 0 must ignore NaN in c
			if c.dt == tensor.F64 {
				cm.Float64()[0] = math.NaN()
			} else {
				cm.Float32()[0] = float32(math.NaN())
			}
		}
		args["c"] = wire.TensorValue(cm)
	}
	tol := 1e-12
	if c.dt == tensor.F32 {
		tol = 1e-4
	}
	return args, ok(func(res wire.Result) error {
		out, err := resultTensor(res, "c", c.dt, c.m, c.n)
		if err != nil {
			return err
		}
		for i := range c.m {
			for j := range c.n {
				var s, mag float64
				for p := range c.k {
					ai, bi := i*ca+p, p*cb+j
					if c.transA {
						ai = p*ca + i
					}
					if c.transB {
						bi = j*cb + p
					}
					s += at(a, ai) * at(b, bi)
					mag += math.Abs(at(a, ai) * at(b, bi))
				}
				want := c.alpha * s
				if c.beta != 0 {
					want += c.beta * at(cm, i*c.n+j)
					mag += math.Abs(c.beta * at(cm, i*c.n+j))
				}
				// NaN only where the maths puts one: memory left
				// unwritten may read as NaN
				if got := at(out, i*c.n+j); math.Abs(got-want) > tol*(mag+1) || math.IsNaN(got) != math.IsNaN(want) {
					return fmt.Errorf("c[%d,%d] = %g, want %g", i, j, got, want)
				}
			}
		}
		return nil
	})
}
