package conform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

func init() { register("histogram", histogramCases) }

// histogramCases are inputs chosen to meet NumPy's every rule: values on
// the edges, near them by an ulp, outside the range, NaN and ±Inf with a
// range, equal values (a widened range), bins of 1 and many, f32
// arithmetic. The kernels' tests also compare them with NumPy, bit for bit.
func histogramCases() []Case {
	normal := func(r *rand.Rand, n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64() * scale
		}
		return v
	}
	// Values on and next to the edges of [0.1, 0.7] in 7 bins.
	var onEdges []float64
	for i := 0; i <= 7; i++ {
		e := 0.1 + float64(i)*(0.6/7)
		onEdges = append(onEdges, e, math.Nextafter(e, 0), math.Nextafter(e, 1),
			float64(float32(e)), float64(math.Nextafter32(float32(e), 0)), float64(math.Nextafter32(float32(e), 1)))
	}
	fixed := func(v ...float64) func(*rand.Rand) []float64 { return func(*rand.Rand) []float64 { return v } }
	gauss := func(n int, scale float64) func(*rand.Rand) []float64 {
		return func(r *rand.Rand) []float64 { return normal(r, n, scale) }
	}
	special := fixed(math.NaN(), math.Inf(1), math.Inf(-1), -0.0, 0, 1e-300, -1e300, 1e300, 0.5)
	table := []struct {
		name string
		n    int
		x    func(*rand.Rand) []float64
		bins int
		rng  []float64 // nil: no range
	}{
		{"normal 10^5, 100 bins", 100_000, gauss(100_000, 3), 100, nil},
		{"normal, 7 bins, range", 10_007, gauss(10_007, 1), 7, []float64{-1.3, 2.1}},
		{"on edges, no range", len(onEdges), fixed(onEdges...), 7, nil},
		{"on edges, range [0.1, 0.7]", len(onEdges), fixed(onEdges...), 7, []float64{0.1, 0.7}},
		// Bounds that f32 rounds inwards (0.7 down, 0.1 up): NumPy
		// compares f32 values with the rounded bounds.
		{"on edges, range [0.7, 0.9]", len(onEdges), fixed(onEdges...), 3, []float64{0.7, 0.9}},
		{"on edges, range [-0.5, 0.1]", len(onEdges), fixed(onEdges...), 3, []float64{-0.5, 0.1}},
		{"on edges, 1000 bins", len(onEdges), fixed(onEdges...), 1000, []float64{0.1, 0.7}},
		{"one bin", 1000, gauss(1000, 1), 1, nil},
		{"special with range", 9, special, 5, []float64{-1, 1}},
		{"all equal", 3, fixed(2.5, 2.5, 2.5), 4, nil},
		{"range lo == hi", 3, fixed(1, 2, 3), 3, []float64{2, 2}},
		{"empty", 0, fixed(), 5, nil},
		{"one value", 1, fixed(-7), 1, nil},
		{"huge spread", 4, fixed(-1e30, 1e30, 0, 3e29), 13, nil},
		{"tiny spread", 4, fixed(1, 1+1e-7, 1+2e-7, 1+3e-7), 3, nil},
		{"17 values, 16 bins", 17, gauss(17, 2), 16, nil},
	}
	var cases []Case
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		for i, c := range table {
			cases = append(cases, Case{
				Name: fmt.Sprintf("%s %s", dt, c.name),
				Size: c.n + c.bins,
				Build: func() (wire.Args, Check) {
					x := roundTo(dt, slices.Clone(c.x(seeded(41, i))))
					args := wire.Args{"x": wire.TensorValue(realTensor(dt, []int{len(x)}, x)), "bins": wire.Int(int64(c.bins))}
					if c.rng != nil {
						args["range"] = wire.TensorValue(tensor.FromFloat64([]int{2}, c.rng))
					}
					return args, histogramCheck(dt, x, c.bins, c.rng)
				},
			})
		}
	}
	return append(cases, refusals("histogram", []refusal{
		{"range of 3", wire.Args{"x": vector(1, 2), "range": vector(0, 1, 2)}, "[lo, hi]"},
		{"range reversed", wire.Args{"x": vector(1, 2), "range": vector(1, 0)}, "must not exceed"},
		{"range NaN", wire.Args{"x": vector(1, 2), "range": vector(math.NaN(), 1)}, "not finite"},
		{"range Inf", wire.Args{"x": vector(1, 2), "range": vector(0, math.Inf(1))}, "not finite"},
		{"NaN in x, no range", wire.Args{"x": vector(1, math.NaN())}, "give range"},
		{"Inf in x, no range", wire.Args{"x": vector(1, math.Inf(-1))}, "give range"},
	})...)
}

// histogramCheck checks a histogram of x (its values, rounded to dt)
// against the definition: the edges numpy.linspace computes over the range
// (x's min and max when rng is nil, widened by 0.5 each way when equal),
// rounded to dt; each value counted in the last bin whose left edge is not
// above it, values outside the outer edges and NaN not at all.
func histogramCheck(dt tensor.DType, x []float64, bins int, rng []float64) Check {
	var lo, hi float64
	switch {
	case rng != nil:
		lo, hi = rng[0], rng[1]
	case len(x) == 0:
		lo, hi = 0, 1
	default:
		lo, hi = slices.Min(x), slices.Max(x)
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	edges := make([]float64, bins+1)
	step := (hi - lo) / float64(bins)
	for i := range edges {
		e := float64(float64(i)*step) + lo // no fused multiply-add
		if i == bins {
			e = hi
		}
		edges[i] = roundTo(dt, []float64{e})[0]
	}
	counts := make([]int64, bins)
	for _, v := range x {
		if !(v >= edges[0] && v <= edges[bins]) {
			continue
		}
		i := bins - 1
		for i > 0 && edges[i] > v {
			i--
		}
		counts[i]++
	}
	return ok(func(res wire.Result) error {
		gotCounts, err := resultTensor(res, "counts", tensor.I64, bins)
		if err != nil {
			return err
		}
		gotEdges, err := resultTensor(res, "edges", tensor.F64, bins+1)
		if err != nil {
			return err
		}
		for i, e := range gotEdges.Float64() {
			if !sameFloat(e, edges[i]) {
				return fmt.Errorf("edge %d is %v, want %v", i, e, edges[i])
			}
		}
		if !slices.Equal(gotCounts.Int64(), counts) {
			return fmt.Errorf("counts %v, want %v", gotCounts.Int64(), counts)
		}
		return nil
	})
}
