package kernels

import (
	"math"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// statsOp summarises a tensor: count, sum, mean, var, std, min, max.
//
// The Go implementation is plain Go, not gonum: gonum's stat.Mean is
// floats.Sum(x)/n, a plain running sum in eight lanes whose error grows
// with n (about 2·10^-11 relative for 10^7 copies of 0.1; see
// TestGonumMeanIsNaive), and stat.Variance takes that mean. StatsGo runs
// the C library's algorithm instead, so both implementations meet the same
// accuracy contract.
var statsOp = &Op{
	Name:    "stats",
	Summary: "count, sum, mean, var, std, min and max of all elements",
	Doc: "count, sum, mean, variance, standard deviation, min and max of all elements of x " +
		"(f32 accumulated in f64); NaN in x makes every result but count NaN",
	Params: []Param{
		{Name: "x", Kind: "tensor", DTypes: []string{"f32", "f64"}, Shape: "any, taken flat", Required: true, Doc: "the values"},
		{Name: "ddof", Kind: "int", Default: int64(0), Min: bound(0), Doc: "delta degrees of freedom: var divides by count - ddof; ddof < count"},
	},
	Results: []Param{
		{Name: "count", Kind: "int", Doc: "number of elements"},
		{Name: "sum", Kind: "float", Doc: "sum, compensated pairwise: error within a few ulps of sum(|x|) for any count"},
		{Name: "mean", Kind: "float", Doc: "sum / count; NaN when x is empty"},
		{Name: "var", Kind: "float", Doc: "sum of (x - mean)^2 / (count - ddof); NaN when sum is not finite"},
		{Name: "std", Kind: "float", Doc: "square root of var"},
		{Name: "min", Kind: "float", Doc: "smallest element; -0.0 counts below +0.0"},
		{Name: "max", Kind: "float", Doc: "largest element; +0.0 counts above -0.0"},
	},
	Impls: []string{ImplC, ImplGo},
	Bind:  prepareStats,
}

func init() { defaultRegistry.Register(statsOp) }

func prepareStats(args Args) (*Call, error) {
	x, ddof := args.Tensor("x"), args.Int("ddof")
	n := x.Len()
	if n > 0 && ddof >= int64(n) {
		return nil, invalidf("stats: ddof (%d) must be less than the number of elements of x (%d)", ddof, n)
	}
	d := int(ddof) // < n, so it fits an int
	result := func(s cgo.Stats, err error) (wire.Result, error) {
		if err != nil {
			return nil, fromC("stats", err)
		}
		return wire.Result{
			"count": wire.Int(s.Count),
			"sum":   wire.Float(s.Sum), "mean": wire.Float(s.Mean),
			"var": wire.Float(s.Var), "std": wire.Float(s.Std),
			"min": wire.Float(s.Min), "max": wire.Float(s.Max),
		}, nil
	}
	run := map[string]RunFunc{}
	if x.DType == tensor.F64 {
		v := x.Float64()
		run[ImplC] = func(c *cgo.Ctx, _ Out) (wire.Result, error) { return result(cgo.StatsF64(c, v, d)) }
		run[ImplGo] = func(c *cgo.Ctx, _ Out) (wire.Result, error) { return result(StatsGo(c, v, d)) }
	} else {
		v := x.Float32()
		run[ImplC] = func(c *cgo.Ctx, _ Out) (wire.Result, error) { return result(cgo.StatsF32(c, v, d)) }
		run[ImplGo] = func(c *cgo.Ctx, _ Out) (wire.Result, error) { return result(StatsGo(c, v, d)) }
	}
	return &Call{Work: float64(n), OutElems: 7, run: run}, nil
}

// The Go twin of native/stats.c: the same blocks, passes and merges (that
// file's comment explains the numerics), written for clarity over speed.
const (
	statsBlock      = 2048 // elements per block, as CRUNCH__STATS_BLOCK
	statsPollBlocks = 128  // blocks between cancel polls
	statsLanes      = 8    // independent sums in a block, as the generic C path
)

// statsSummary is a block's or a subtree's (n, sum hi+lo, M2).
type statsSummary struct {
	n      float64 // exact: counts stay far below 2^53
	hi, lo float64
	m2     float64
}

// twoSum returns s = fl(a+b) and e with s + e = a + b exactly.
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bv := s - a
	return s, (a - (s - bv)) + (b - bv)
}

// meanDD returns the mean of s in double-double.
func (s *statsSummary) meanDD() (hi, lo float64) {
	h := s.hi / s.n
	r := math.FMA(-h, s.n, s.hi) + s.lo // hi - h*n exactly, plus lo
	return h, r / s.n
}

// mergeStats combines a (earlier elements) and b by Chan, Golub and
// LeVeque's pairwise formula, the sums in double-double.
func mergeStats(a, b *statsSummary) statsSummary {
	ah, al := a.meanDD()
	bh, bl := b.meanDD()
	delta := (bh - ah) + (bl - al)
	r := statsSummary{n: a.n + b.n}
	r.m2 = a.m2 + b.m2 + delta*delta*(a.n*(b.n/r.n))
	s, e := twoSum(a.hi, b.hi)
	if math.IsInf(s, 0) || math.IsNaN(s) {
		r.hi = s
		return r
	}
	r.hi, r.lo = twoSum(s, e+(a.lo+b.lo))
	return r
}

// statsAcc is the running state of one StatsGo call.
type statsAcc struct {
	stack          []statsSummary
	plain          float64 // plain sum of block sums: the IEEE answer when not finite
	nonfinite, nan bool
	mn, mx         float64
	orb, andb      uint64
}

func (a *statsAcc) push(s statsSummary) {
	for len(a.stack) > 0 && a.stack[len(a.stack)-1].n == s.n {
		s = mergeStats(&a.stack[len(a.stack)-1], &s)
		a.stack = a.stack[:len(a.stack)-1]
	}
	a.stack = append(a.stack, s)
}

// addBlock summarises one block in two passes, as the C kernels do.
func addBlock[T float32 | float64](a *statsAcc, x []T) {
	var s [statsLanes]float64
	mn, mx := math.Inf(1), math.Inf(-1)
	orb, andb := uint64(0), ^uint64(0)
	for i, v := range x {
		f := float64(v)
		s[i%statsLanes] += f
		if f < mn { // false for NaN: NaN is ignored
			mn = f
		}
		if f > mx {
			mx = f
		}
		b := math.Float64bits(f)
		orb |= b
		andb &= b
	}
	sum := ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
	a.mn, a.mx = min(a.mn, mn), max(a.mx, mx) // neither is NaN
	a.orb |= orb
	a.andb &= andb
	a.plain += sum
	l := float64(len(x))
	if math.IsInf(sum, 0) || math.IsNaN(sum) {
		a.nonfinite = true
		if math.IsNaN(sum) && !a.nan {
			for _, v := range x {
				a.nan = a.nan || v != v
			}
		}
		a.push(statsSummary{n: l, hi: sum, m2: math.NaN()})
		return
	}
	m := sum / l
	var c, e, q [statsLanes]float64
	for i, v := range x {
		d := float64(v) - m
		j := i % statsLanes
		// Kahan: e[j] holds what the last add to c[j] lost, negated.
		y := d - e[j]
		t := c[j] + y
		e[j] = (t - c[j]) - y
		c[j] = t
		q[j] += d * d
	}
	for j := range c {
		c[j] -= e[j]
	}
	cs := ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]))
	qs := ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]))
	if math.IsInf(cs, 0) || math.IsNaN(cs) || math.IsInf(qs, 0) {
		a.push(statsSummary{n: l, hi: sum, m2: math.Inf(1)}) // deviations overflowed
		return
	}
	h := l * m
	hi, lo := twoSum(h, math.FMA(l, m, -h)+cs)
	a.push(statsSummary{n: l, hi: hi, lo: lo, m2: max(qs-cs*(cs/l), 0)})
}

// StatsGo is the Go implementation of stats, with crunch_stats_f64's
// algorithm and contract: sum and mean by compensated pairwise summation,
// variance by per-block two-pass and pairwise Chan merging, NaN propagated,
// -0 below +0 for min and max. It polls x for cancellation every 256 Ki
// elements and reports progress in elements.
func StatsGo[T float32 | float64](x *cgo.Ctx, v []T, ddof int) (cgo.Stats, error) {
	n := len(v)
	if ddof < 0 || (n > 0 && ddof >= n) {
		return cgo.Stats{}, cgo.ErrInvalid
	}
	x.Begin(int64(n))
	nan := math.NaN()
	if n == 0 {
		return cgo.Stats{Mean: nan, Var: nan, Std: nan, Min: nan, Max: nan}, nil
	}
	a := statsAcc{mn: math.Inf(1), mx: math.Inf(-1), andb: ^uint64(0)}
	for start := 0; start < n; {
		if x.Canceled() {
			return cgo.Stats{}, canceled
		}
		end := min(n, start+statsPollBlocks*statsBlock)
		for b := start; b < end; b += statsBlock {
			addBlock(&a, v[b:min(b+statsBlock, end)])
		}
		x.Add(int64(end - start))
		start = end
	}
	t := a.stack[len(a.stack)-1]
	for i := len(a.stack) - 2; i >= 0; i-- {
		t = mergeStats(&a.stack[i], &t)
	}
	out := cgo.Stats{Count: int64(n)}
	if a.nan {
		out.Sum, out.Mean, out.Var, out.Std, out.Min, out.Max = nan, nan, nan, nan, nan, nan
		return out, nil
	}
	out.Min, out.Max = a.mn, a.mx
	negZero := math.Copysign(0, -1)
	if out.Min == 0 { // no negative element: a sign bit in the OR is a -0
		out.Min = 0
		if a.orb>>63 != 0 {
			out.Min = negZero
		}
	}
	if out.Max == 0 { // no positive element: a clear sign bit in the AND is a +0
		out.Max = 0
		if a.andb>>63 != 0 {
			out.Max = negZero
		}
	}
	if a.nonfinite || math.IsInf(t.hi, 0) || math.IsNaN(t.hi) {
		s := a.plain
		if !math.IsInf(s, 0) && !math.IsNaN(s) {
			s = t.hi
		}
		out.Sum, out.Mean, out.Var, out.Std = s, s/float64(n), nan, nan
		return out, nil
	}
	mh, ml := t.meanDD()
	out.Sum = t.hi + t.lo
	out.Mean = mh + ml
	out.Var = t.m2 / float64(n-ddof)
	out.Std = math.Sqrt(out.Var)
	return out, nil
}
