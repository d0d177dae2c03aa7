package conform

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// histogramCases are inputs chosen to meet NumPy's every rule: values on
// the edges, near them by an ulp, outside the range, NaN and ±Inf with a
// range, equal values (a widened range), bins of 1 and many, f32
// arithmetic. Each result is checked against the definition, and against
// NumPy's own output for the case, bit for bit.
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
		// numpy is NumPy 1.24's counts and edges for the f64 and the f32
		// case, digested (histogramDigest): numpy.histogram(x, bins,
		// range=rng) on x as this table builds it, bit for bit.
		numpy [2]uint64
	}{
		{"normal 10^5, 100 bins", 100_000, gauss(100_000, 3), 100, nil, [2]uint64{0x8da19d4ccafb60d5, 0xb16152ec118fd5f3}},
		{"normal, 7 bins, range", 10_007, gauss(10_007, 1), 7, []float64{-1.3, 2.1}, [2]uint64{0x708709a96845b17b, 0x0eca96810d41fc38}},
		{"on edges, no range", len(onEdges), fixed(onEdges...), 7, nil, [2]uint64{0xcc68d3b12a4c1288, 0x93c96d09d125165b}},
		{"on edges, range [0.1, 0.7]", len(onEdges), fixed(onEdges...), 7, []float64{0.1, 0.7}, [2]uint64{0x6cdc9e615013ed33, 0xddb8784883e8807b}},
		// Bounds that f32 rounds inwards (0.7 down, 0.1 up): NumPy
		// compares f32 values with the rounded bounds.
		{"on edges, range [0.7, 0.9]", len(onEdges), fixed(onEdges...), 3, []float64{0.7, 0.9}, [2]uint64{0x68c9a3b3a7957e2a, 0x603bc4b11a02f268}},
		{"on edges, range [-0.5, 0.1]", len(onEdges), fixed(onEdges...), 3, []float64{-0.5, 0.1}, [2]uint64{0x34c4815d485becb6, 0x727c22671cb253d5}},
		{"on edges, 1000 bins", len(onEdges), fixed(onEdges...), 1000, []float64{0.1, 0.7}, [2]uint64{0x7c0e4af82fd849ca, 0x1523b2be0b5cf0de}},
		{"one bin", 1000, gauss(1000, 1), 1, nil, [2]uint64{0xfc9d1f8ad21895b8, 0x3424a3a2ee406336}},
		{"special with range", 9, special, 5, []float64{-1, 1}, [2]uint64{0xb0060e656c3bff50, 0x3bcd3fb364f45bd7}},
		{"all equal", 3, fixed(2.5, 2.5, 2.5), 4, nil, [2]uint64{0xa9408e80c3fac22e, 0xa9408e80c3fac22e}},
		{"range lo == hi", 3, fixed(1, 2, 3), 3, []float64{2, 2}, [2]uint64{0xb0b9b1da9815a5e4, 0x757bd15081ceb80c}},
		{"empty", 0, fixed(), 5, nil, [2]uint64{0xa6ea0d13c26d1876, 0xed735964fa7285f6}},
		{"one value", 1, fixed(-7), 1, nil, [2]uint64{0x9e6e798364adda40, 0x9e6e798364adda40}},
		{"huge spread", 4, fixed(-1e30, 1e30, 0, 3e29), 13, nil, [2]uint64{0xa9dcf55bf6295d89, 0x3eb52fef204d27a9}},
		{"tiny spread", 4, fixed(1, 1+1e-7, 1+2e-7, 1+3e-7), 3, nil, [2]uint64{0x71f3fd33c2394723, 0x127bae536f3bf8a7}},
		{"17 values, 16 bins", 17, gauss(17, 2), 16, nil, [2]uint64{0x29d19dd41639c54b, 0xe5aff1f85a204343}},
	}
	var cases []Case
	for d, dt := range []tensor.DType{tensor.F64, tensor.F32} {
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
					return args, histogramCheck(dt, x, c.bins, c.rng, c.numpy[d])
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
		{"range too wide", wire.Args{"x": vector(1, 2), "range": vector(-1e308, 1e308)}, "too wide"},
		{"range too narrow", wire.Args{"x": vector(1, 2), "bins": wire.Int(10), "range": vector(0, 1e-320)}, "too narrow"},
	})...)
}

// histogramCheck checks a histogram of x (its values, rounded to dt)
// against the definition: the edges numpy.linspace computes over the range
// (x's min and max when rng is nil, widened by 0.5 each way when equal),
// rounded to dt; each value counted in the last bin whose left edge is not
// above it, values outside the outer edges and NaN not at all. Then against
// numpy, the digest of NumPy's counts and edges.
func histogramCheck(dt tensor.DType, x []float64, bins int, rng []float64, numpy uint64) Check {
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
		if got := histogramDigest(gotCounts.Int64(), gotEdges.Float64()); got != numpy {
			return fmt.Errorf("counts and edges digest to %#016x, NumPy's to %#016x", got, numpy)
		}
		return nil
	})
}

// histogramDigest is the FNV-1a hash of counts (little-endian int64s)
// followed by edges (little-endian float64 bits): how the table holds
// NumPy's results. To record them for a new case, digest what
// numpy.histogram returns for its x (e.g. c.tobytes() + e.tobytes() with
// c as "<i8" and e as "<f8") with the same hash.
func histogramDigest(counts []int64, edges []float64) uint64 {
	h := fnv.New64a()
	b := make([]byte, 0, 8*(len(counts)+len(edges)))
	for _, c := range counts {
		b = binary.LittleEndian.AppendUint64(b, uint64(c))
	}
	for _, e := range edges {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e))
	}
	h.Write(b)
	return h.Sum64()
}
