package conform

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// statsSizes: around every seam of the code (vector widths, the 2048-element
// block, the 128-block poll chunk), primes, powers of two and neighbours.
var statsSizes = []int{0, 1, 2, 3, 5, 7, 8, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129,
	1023, 1024, 1025, 2047, 2048, 2049, 4097, 10007, 262145}

// statsKinds generate values; each is the same as a kind of
// native/test/test_stats.c.
var statsKinds = []struct {
	name string
	gen  func(r *rand.Rand, i, n int) float64
}{
	{"uniform", func(r *rand.Rand, i, n int) float64 { return 2*r.Float64() - 1 }},
	{"offset", func(r *rand.Rand, i, n int) float64 { return 1e8 + r.Float64() }},
	{"mixed", func(r *rand.Rand, i, n int) float64 {
		v := 2*r.Float64() - 1
		return [...]float64{v * 1e-310, math.Copysign(0, -1), v * 1e150, 0, v * 1e-300, v, v}[i%7]
	}},
	{"extreme", func(r *rand.Rand, i, n int) float64 { // var overflows to +Inf
		if i%97 == 5 {
			return math.Copysign(1e300, float64(i%2)-0.5)
		}
		return 2*r.Float64() - 1
	}},
	{"negzero", func(r *rand.Rand, i, n int) float64 { return math.Copysign(0, -1) }},
	{"zeros", func(r *rand.Rand, i, n int) float64 { return math.Copysign(0, float64(i%2)-0.5) }},
	{"equal", func(r *rand.Rand, i, n int) float64 { return 3.25 }},
	{"ints", func(r *rand.Rand, i, n int) float64 { return float64(i % 10) }},
	{"negints", func(r *rand.Rand, i, n int) float64 { return math.Copysign(float64(i%10), -1) }},
	{"nan", func(r *rand.Rand, i, n int) float64 { return statsSpecial(r, i, n, math.NaN()) }},
	{"pinf", func(r *rand.Rand, i, n int) float64 { return statsSpecial(r, i, n, math.Inf(1)) }},
	{"ninf", func(r *rand.Rand, i, n int) float64 { return statsSpecial(r, i, n, math.Inf(-1)) }},
	{"bothinf", func(r *rand.Rand, i, n int) float64 {
		switch i {
		case 0:
			return math.Inf(1)
		case n - 1:
			return math.Inf(-1)
		}
		return 2*r.Float64() - 1
	}},
	{"tenth", func(r *rand.Rand, i, n int) float64 { return 0.1 }},
}

// statsSpecial puts v at one seam of the blocks (a block's last element,
// or the middle of a short input) among uniform values.
func statsSpecial(r *rand.Rand, i, n int, v float64) float64 {
	at := n / 2
	if n > 2100 {
		at = 2047
	}
	if i == at {
		return v
	}
	return 2*r.Float64() - 1
}

// statsCases: every size and kind in f64 and f32, ddof 0 and 1; shapes of
// several dimensions (taken flat); and 10^7 values, where a running sum
// loses 8 digits (0.1 repeated) and a one-pass variance all of them
// (offset data).
func statsCases() []Case {
	var cases []Case
	add := func(name string, shape []int, dt tensor.DType, kind, ddof int, seed uint64) {
		n, _ := tensor.Len(shape)
		cases = append(cases, Case{
			Name: fmt.Sprintf("%s %s %s ddof=%d", dt, tensor.FormatShape(shape), name, ddof),
			Size: 2 * n, // two passes
			Build: func() (wire.Args, Check) {
				r := rand.New(rand.NewPCG(seed, uint64(kind)))
				x := make([]float64, n)
				for i := range x {
					x[i] = statsKinds[kind].gen(r, i, n)
				}
				want, absSum := statsRef(roundTo(dt, x), ddof)
				args := wire.Args{"x": wire.TensorValue(realTensor(dt, shape, x)), "ddof": wire.Int(int64(ddof))}
				return args, ok(func(res wire.Result) error {
					got, err := statsFromResult(res)
					if err != nil {
						return err
					}
					return checkStats(got, want, absSum)
				})
			},
		})
	}
	for si, n := range statsSizes {
		for k := range statsKinds {
			for ddof := 0; ddof <= min(1, max(n-1, 0)); ddof++ {
				for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
					add(statsKinds[k].name, []int{n}, dt, k, ddof, uint64(si))
				}
			}
		}
	}
	for i, shape := range [][]int{{}, {2, 3}, {3, 1, 2}, {1, 1, 6, 1}, {0, 4}, {37, 61}} {
		add("uniform", shape, tensor.F64, 0, min(1, i), 100)
	}
	add("empty, any ddof", []int{0}, tensor.F64, 0, 3, 0) // no variance to divide
	for k := range statsKinds {
		if name := statsKinds[k].name; name == "tenth" || name == "offset" {
			add(name, []int{10_000_000}, tensor.F64, k, 1, 99)
		}
	}
	return append(cases, refusals("stats", []refusal{
		{"ddof = count", wire.Args{"x": zeros(3), "ddof": wire.Int(3)}, "less than the number of elements"},
		{"ddof > count", wire.Args{"x": zeros(1), "ddof": wire.Int(5)}, "ddof (5)"},
	})...)
}

// statsRef computes the stats naively and exactly where it matters: the sum
// in math/big (exact), the variance as the two-pass sum about the exact
// mean in double-double, min and max by a plain loop. It also returns sum(|x|),
// the scale of the sum's error bound.
func statsRef(x []float64, ddof int) (want cgo.Stats, absSum float64) {
	n := len(x)
	nan := math.NaN()
	want.Count = int64(n)
	if n == 0 {
		want.Mean, want.Var, want.Std, want.Min, want.Max = nan, nan, nan, nan, nan
		return want, 0
	}
	hasNaN, pinf, ninf := false, false, false
	want.Min, want.Max = math.Inf(1), math.Inf(-1)
	exact := new(big.Float).SetPrec(2300) // every double sum of < 2^24 terms is exact at 2300 bits
	bv := new(big.Float)                  // v, exactly (SetFloat64 gives 53 bits)
	for _, v := range x {
		switch {
		case math.IsNaN(v):
			hasNaN = true
			continue
		case math.IsInf(v, 1):
			pinf = true
			continue
		case math.IsInf(v, -1):
			ninf = true
			continue
		}
		exact.Add(exact, bv.SetFloat64(v))
		absSum += math.Abs(v) // only a tolerance's scale: float64 is enough
	}
	for _, v := range x {
		if !math.IsNaN(v) {
			if v < want.Min || (v == 0 && want.Min == 0 && math.Signbit(v)) {
				want.Min = v
			}
			if v > want.Max || (v == 0 && want.Max == 0 && !math.Signbit(v)) {
				want.Max = v
			}
		}
	}
	switch {
	case hasNaN:
		want.Sum, want.Mean, want.Var, want.Std, want.Min, want.Max = nan, nan, nan, nan, nan, nan
		return want, absSum
	case pinf && ninf:
		want.Sum = nan
	case pinf:
		want.Sum = math.Inf(1)
	case ninf:
		want.Sum = math.Inf(-1)
	}
	if pinf || ninf {
		want.Mean, want.Var, want.Std = want.Sum, nan, nan
		return want, absSum
	}
	want.Sum, _ = exact.Float64()
	mean := new(big.Float).SetPrec(256).Quo(exact, new(big.Float).SetInt64(int64(n)))
	want.Mean, _ = mean.Float64()
	// The two-pass variance about the exact mean, in double-double (about
	// 32 digits: plenty, and far faster than math/big).
	mh, _ := mean.Float64()
	ml, _ := new(big.Float).Sub(mean, new(big.Float).SetFloat64(mh)).Float64()
	var q dd
	for _, v := range x {
		d := ddAdd(dd{v, 0}, dd{-mh, -ml})
		q = ddAdd(q, ddMul(d, d))
	}
	want.Var = (q.hi + q.lo) / float64(n-ddof) // +Inf when too large
	want.Std = math.Sqrt(want.Var)
	return want, absSum
}

// dd is a double-double number hi + lo, |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

// ddAdd returns a + b (Knuth's TwoSum on the high parts).
func ddAdd(a, b dd) dd {
	s := a.hi + b.hi
	if math.IsInf(s, 0) {
		return dd{s, 0}
	}
	bv := s - a.hi
	e := (a.hi - (s - bv)) + (b.hi - bv) + a.lo + b.lo
	hi := s + e
	return dd{hi, e - (hi - s)}
}

// ddMul returns a * b (the product's error by FMA).
func ddMul(a, b dd) dd {
	p := a.hi * b.hi
	if math.IsInf(p, 0) {
		return dd{p, 0}
	}
	e := math.FMA(a.hi, b.hi, -p) + (a.hi*b.lo + a.lo*b.hi)
	hi := p + e
	return dd{hi, e - (hi - p)}
}

// checkStats compares got with the reference, with crunch.h's accuracy
// promise: the sum within 2 ulps plus 4·eps·sum(|x|), the variance within
// 1e-13 relative; counts, min and max exactly, zeros' signs included.
func checkStats(got, want cgo.Stats, absSum float64) error {
	const eps = 0x1p-52
	tolSum := 2*eps*math.Abs(want.Sum) + 4*eps*absSum + math.SmallestNonzeroFloat64
	n := float64(max(want.Count, 1))
	switch {
	case got.Count != want.Count:
		return fmt.Errorf("count %d, want %d", got.Count, want.Count)
	case !near(got.Sum, want.Sum, tolSum):
		return fmt.Errorf("sum %.17g, want %.17g (tol %g)", got.Sum, want.Sum, tolSum)
	case !near(got.Mean, want.Mean, tolSum/n+math.SmallestNonzeroFloat64):
		return fmt.Errorf("mean %.17g, want %.17g", got.Mean, want.Mean)
	case !near(got.Var, want.Var, 1e-13*math.Abs(want.Var)+1e-300):
		return fmt.Errorf("var %.17g, want %.17g", got.Var, want.Var)
	case !near(got.Std, want.Std, 1e-13*math.Abs(want.Std)+1e-300):
		return fmt.Errorf("std %.17g, want %.17g", got.Std, want.Std)
	case !sameFloat(got.Min, want.Min) || !sameFloat(got.Max, want.Max):
		return fmt.Errorf("min, max %g, %g (signbits %v, %v), want %g, %g", got.Min, got.Max,
			math.Signbit(got.Min), math.Signbit(got.Max), want.Min, want.Max)
	}
	return nil
}

// statsFromResult reads a stats reply's result.
func statsFromResult(res wire.Result) (cgo.Stats, error) {
	var s cgo.Stats
	var err error
	if s.Count, err = res.Int("count", -1); err != nil {
		return s, err
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"sum", &s.Sum}, {"mean", &s.Mean}, {"var", &s.Var}, {"std", &s.Std}, {"min", &s.Min}, {"max", &s.Max}} {
		if _, ok := res[f.name]; !ok {
			return s, fmt.Errorf("result has no %q", f.name)
		}
		if *f.dst, err = res.Float(f.name, 0); err != nil {
			return s, err
		}
	}
	return s, nil
}
