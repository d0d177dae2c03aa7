package kernels_test

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
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
	{"nan", func(r *rand.Rand, i, n int) float64 { return special(r, i, n, math.NaN()) }},
	{"pinf", func(r *rand.Rand, i, n int) float64 { return special(r, i, n, math.Inf(1)) }},
	{"ninf", func(r *rand.Rand, i, n int) float64 { return special(r, i, n, math.Inf(-1)) }},
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

// special puts v at one seam of the blocks (a block's last element, or the
// middle of a short input) among uniform values.
func special(r *rand.Rand, i, n int, v float64) float64 {
	at := n / 2
	if n > 2100 {
		at = 2047
	}
	if i == at {
		return v
	}
	return 2*r.Float64() - 1
}

func genStats(kind, n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, uint64(kind)))
	x := make([]float64, n)
	for i := range x {
		x[i] = statsKinds[kind].gen(r, i, n)
	}
	return x
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
		d := ddAdd(ddOf(v, 0), dd{-mh, -ml})
		q = ddAdd(q, ddMul(d, d))
	}
	want.Var = (q.hi + q.lo) / float64(n-ddof) // +Inf when too large
	want.Std = math.Sqrt(want.Var)
	return want, absSum
}

// dd is a double-double number hi + lo, |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func ddOf(hi, lo float64) dd { return dd{hi, lo} }

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

// sameFloat reports whether a and b are the same float64 bits (any NaN
// matching any NaN).
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

// near reports whether got is want within tol, non-finite values exactly.
func near(got, want, tol float64) bool {
	if math.IsInf(want, 0) || math.IsNaN(want) || math.IsInf(got, 0) || math.IsNaN(got) {
		return sameFloat(got, want)
	}
	return math.Abs(got-want) <= tol
}

// checkStats compares got with the reference for x, with crunch.h's
// accuracy promise: the sum within 2 ulps plus 4·eps·sum(|x|), the variance
// within 1e-13 relative.
func checkStats(t *testing.T, what string, got, want cgo.Stats, absSum float64) {
	t.Helper()
	const eps = 0x1p-52
	tolSum := 2*eps*math.Abs(want.Sum) + 4*eps*absSum + math.SmallestNonzeroFloat64
	n := float64(max(want.Count, 1))
	switch {
	case got.Count != want.Count:
		t.Errorf("%s: count %d, want %d", what, got.Count, want.Count)
	case !near(got.Sum, want.Sum, tolSum):
		t.Errorf("%s: sum %.17g, want %.17g (tol %g)", what, got.Sum, want.Sum, tolSum)
	case !near(got.Mean, want.Mean, tolSum/n+math.SmallestNonzeroFloat64):
		t.Errorf("%s: mean %.17g, want %.17g", what, got.Mean, want.Mean)
	case !near(got.Var, want.Var, 1e-13*math.Abs(want.Var)+1e-300):
		t.Errorf("%s: var %.17g, want %.17g", what, got.Var, want.Var)
	case !near(got.Std, want.Std, 1e-13*math.Abs(want.Std)+1e-300):
		t.Errorf("%s: std %.17g, want %.17g", what, got.Std, want.Std)
	case !sameFloat(got.Min, want.Min) || !sameFloat(got.Max, want.Max):
		t.Errorf("%s: min, max %g, %g (signbits %v, %v), want %g, %g", what, got.Min, got.Max,
			math.Signbit(got.Min), math.Signbit(got.Max), want.Min, want.Max)
	}
}

// statsFromResult reads a stats reply's result.
func statsFromResult(t *testing.T, res wire.Result) cgo.Stats {
	t.Helper()
	var s cgo.Stats
	var err error
	if s.Count, err = res.Int("count", -1); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"sum", &s.Sum}, {"mean", &s.Mean}, {"var", &s.Var}, {"std", &s.Std}, {"min", &s.Min}, {"max", &s.Max}} {
		if _, ok := res[f.name]; !ok {
			t.Fatalf("result has no %q: %v", f.name, res)
		}
		if *f.dst, err = res.Float(f.name, 0); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestStatsTable runs the shared table through the registry: C on every
// SIMD path and Go, f64 and f32, ddof 0 and 1, against statsRef.
func TestStatsTable(t *testing.T) {
	for si, n := range statsSizes {
		for k := range statsKinds {
			x := genStats(k, n, uint64(si))
			x32 := make([]float32, n)
			xd := make([]float64, n) // what the f32 call sees, as float64
			for i, v := range x {
				x32[i] = float32(v)
				xd[i] = float64(x32[i])
			}
			for ddof := 0; ddof <= min(1, max(n-1, 0)); ddof++ {
				for _, in := range []struct {
					t    *tensor.Tensor
					vals []float64
				}{
					{tensor.FromFloat64([]int{n}, x), x},
					{tensor.FromFloat32([]int{n}, x32), xd},
				} {
					what := fmt.Sprintf("%s n=%d %s ddof=%d", in.t.DType, n, statsKinds[k].name, ddof)
					want, absSum := statsRef(in.vals, ddof)
					runAll(t, "stats", wire.Args{"x": wire.TensorValue(in.t), "ddof": wire.Int(int64(ddof))},
						func(t *testing.T, impl string, res wire.Result) {
							checkStats(t, impl+" "+what, statsFromResult(t, res), want, absSum)
						})
				}
			}
		}
	}
}

// TestStatsShapes: any shape is taken flat.
func TestStatsShapes(t *testing.T) {
	vals := []float64{1, 2, 3, 4, 5, 6}
	for _, shape := range [][]int{{6}, {2, 3}, {3, 1, 2}, {1, 1, 6, 1}} {
		x := tensor.FromFloat64(shape, vals)
		runAll(t, "stats", wire.Args{"x": wire.TensorValue(x)}, func(t *testing.T, impl string, res wire.Result) {
			s := statsFromResult(t, res)
			if s.Count != 6 || s.Sum != 21 || s.Mean != 3.5 || s.Var != 17.5/6 || s.Min != 1 || s.Max != 6 {
				t.Errorf("%s shape %v: %+v", impl, shape, s)
			}
		})
	}
	scalar := tensor.FromFloat64([]int{}, []float64{-2.5})
	runAll(t, "stats", wire.Args{"x": wire.TensorValue(scalar)}, func(t *testing.T, impl string, res wire.Result) {
		if s := statsFromResult(t, res); s.Count != 1 || s.Sum != -2.5 || s.Var != 0 || s.Min != -2.5 {
			t.Errorf("%s scalar: %+v", impl, s)
		}
	})
}

// TestStatsAccuracy10e7: 10^7 values, where a running sum loses 8 digits
// (0.1 repeated) and a one-pass variance all of them (offset data). Every
// implementation must stay within 2 ulps of the exact sum and 1e-13 of the
// variance.
func TestStatsAccuracy10e7(t *testing.T) {
	if testing.Short() {
		t.Skip("10^7 elements")
	}
	const n = 10_000_000
	for _, kind := range []string{"tenth", "offset"} {
		k := statsKindIndex(t, kind)
		x := genStats(k, n, 99)
		want, _ := statsRef(x, 1)
		x64 := tensor.FromFloat64([]int{n}, x)
		runAll(t, "stats", wire.Args{"x": wire.TensorValue(x64), "ddof": wire.Int(1)}, func(t *testing.T, impl string, res wire.Result) {
			got := statsFromResult(t, res)
			ulp := math.Nextafter(math.Abs(want.Sum), math.Inf(1)) - math.Abs(want.Sum)
			if e := math.Abs(got.Sum-want.Sum) / ulp; e > 2 {
				t.Errorf("%s %s: sum %.17g, want %.17g: %.1f ulps", impl, kind, got.Sum, want.Sum, e)
			}
			if e := relErr(got.Var, want.Var); e > 1e-13 {
				t.Errorf("%s %s: var %.17g, want %.17g (relative error %.2g)", impl, kind, got.Var, want.Var, e)
			}
		})
	}
}

func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

func statsKindIndex(t *testing.T, name string) int {
	for i, k := range statsKinds {
		if k.name == name {
			return i
		}
	}
	t.Fatalf("no kind %q", name)
	return -1
}

// TestGonumMeanIsNaive documents why the Go implementation is not gonum's
// stat package: on 10^7 copies of 0.1, stat.Mean (a running sum) is off by
// about 2·10^-11 relative, StatsGo by nothing.
func TestGonumMeanIsNaive(t *testing.T) {
	if testing.Short() {
		t.Skip("10^7 elements")
	}
	x := make([]float64, 10_000_000)
	for i := range x {
		x[i] = 0.1
	}
	exact, _ := new(big.Float).SetPrec(200).Mul(big.NewFloat(0.1), big.NewFloat(float64(len(x)))).Float64()
	wantMean := exact / float64(len(x))
	ours, err := kernels.StatsGo(nil, x, 0)
	if err != nil {
		t.Fatal(err)
	}
	gonum := stat.Mean(x, nil)
	if e := relErr(ours.Mean, wantMean); e > 2e-16 {
		t.Errorf("StatsGo mean relative error %.2g", e)
	}
	if e := relErr(gonum, wantMean); e < 1e-12 {
		t.Errorf("gonum's stat.Mean is accurate now (relative error %.2g): consider using it", e)
	} else {
		t.Logf("relative error of the mean of 10^7 x 0.1: gonum stat.Mean %.2g, StatsGo %.2g",
			e, relErr(ours.Mean, wantMean))
	}
}

// TestStatsGoMatchesC: the two implementations run the same algorithm, so
// on ordinary data they agree to the last few bits.
func TestStatsGoMatchesC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 100, 5000, 1 << 20} {
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64()*3 + 1000
		}
		ddof := min(1, n-1)
		g, err := kernels.StatsGo(nil, x, ddof)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cgo.StatsF64(nil, x, ddof)
		if err != nil {
			t.Fatal(err)
		}
		if relErr(g.Sum, c.Sum) > 1e-15 || relErr(g.Var, c.Var) > 1e-14 || g.Min != c.Min || g.Max != c.Max {
			t.Errorf("n=%d: Go %+v, C %+v", n, g, c)
		}
	}
}

func TestStatsValidation(t *testing.T) {
	f64 := func(n int) wire.Value { x, _ := tensor.New(tensor.F64, n); return wire.TensorValue(x) }
	checkRefusals(t, "stats", []refusal{
		{"ddof = count", wire.Args{"x": f64(3), "ddof": wire.Int(3)}, "less than the number of elements"},
		{"ddof > count", wire.Args{"x": f64(1), "ddof": wire.Int(5)}, "ddof (5)"},
	})
	op, _ := kernels.Default().Lookup("stats")
	// An empty x takes any ddof >= 0: there is no variance to divide.
	if _, err := op.Prepare(wire.Args{"x": f64(0), "ddof": wire.Int(3)}); err != nil {
		t.Errorf("empty x: %v", err)
	}
}

// TestStatsCancelAndProgress: a cancelled Ctx stops both implementations;
// a finished call reports all its elements done.
func TestStatsCancelAndProgress(t *testing.T) {
	op, _ := kernels.Default().Lookup("stats")
	x, _ := tensor.New(tensor.F64, 1<<20)
	call, err := op.Prepare(wire.Args{"x": wire.TensorValue(x)})
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := call.Run(c, impl); err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		if done, total, _ := c.Progress(); done != 1<<20 || total != 1<<20 {
			t.Errorf("%s: progress %d/%d", impl, done, total)
		}
		c.Cancel()
		if _, err := call.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", impl, err)
		}
	}
}
