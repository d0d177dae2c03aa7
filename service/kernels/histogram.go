package kernels

import (
	"math"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// histogramOp counts values in equal bins, as numpy.histogram does with an
// integer bins.
var histogramOp = &Op{
	Name:    "histogram",
	Summary: "counts of x in equal bins, as numpy.histogram",
	Doc: "counts of the elements of x in bins equal-width bins over range, as numpy.histogram(x, bins, range) " +
		"(NumPy 1.24's rules, to the bit): bin i holds edges[i] <= v < edges[i+1], the last also its right edge; " +
		"NaN and values outside range are not counted; without range it is [min(x), max(x)], " +
		"widened by 0.5 each way when they are equal, [0, 1] for an empty x, " +
		"and NaN or ±Inf in x is then refused; f32 input is binned in f32 arithmetic, as NumPy does",
	Params: []Param{
		{Name: "x", Kind: KindTensor, DTypes: []string{"f32", "f64"}, Shape: "any, taken flat", Required: true, Doc: "the values"},
		{Name: "bins", Kind: KindInt, Default: int64(10), Min: bound(1), Doc: "number of equal-width bins"},
		{Name: "range", Kind: KindTensor, DTypes: []string{"f64", "f32", "i64", "i32"}, Ranks: []int{1}, Shape: "[2]",
			Doc: "[lo, hi], finite, lo <= hi; absent: x's min and max"},
	},
	Results: []Param{
		{Name: "counts", Kind: KindTensor, DTypes: []string{"i64"}, Shape: "[bins]", Doc: "the number of values in each bin"},
		{Name: "edges", Kind: KindTensor, DTypes: []string{"f64"}, Shape: "[bins+1]",
			Doc: "the bins' edges, as NumPy's (for f32 x, NumPy's f32 edges, exactly)"},
	},
	Impls: []string{ImplC, ImplGo},
	Bind:  prepareHistogram,
}

func init() { defaultRegistry.Register(histogramOp) }

// histRange is where the bins lie, with the numbers NumPy derives from it
// in the types it uses.
type histRange struct {
	// first and last are the outer edges.
	first, last float64
	// span is last - first as NumPy computes it for the scale bins/span:
	// in x's dtype when the edges came from x (NumPy's scalars keep it),
	// in float64 otherwise.
	span float64
}

func prepareHistogram(args Args) (*Call, error) {
	const op = "histogram"
	x, bins := args.Tensor("x"), args.Int("bins")
	var r histRange
	if rt := args.Tensor("range"); rt != nil {
		if rt.Len() != 2 {
			return nil, invalidf("%s: range must be [lo, hi], got shape %s", op, tensor.FormatShape(rt.Shape))
		}
		lo, hi := tensorFloat(rt, 0), tensorFloat(rt, 1)
		if lo > hi {
			return nil, invalidf("%s: range [%v, %v]: lo must not exceed hi", op, lo, hi)
		}
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			return nil, invalidf("%s: range [%v, %v] is not finite", op, lo, hi)
		}
		r = histRange{lo, hi, hi - lo}
	} else {
		var err error
		if r, err = histogramAutoRange(x); err != nil {
			return nil, err
		}
	}
	if r.first == r.last { // NumPy widens an empty range, in float64
		r.first, r.last = r.first-0.5, r.last+0.5
		r.span = r.last - r.first
	}
	if !histogramFits(x.DType, r.first, r.last, bins) {
		return nil, invalidf("%s: range [%v, %v] is too wide or too narrow for %d bins: its width or bins/width overflows (NumPy fails on it)",
			op, r.first, r.last, bins)
	}
	n := x.Len()
	// Both results are only written: each implementation bins by its own
	// copy of the edges, so they may be computed in a client's window.
	run := func(impl func(c *cgo.Ctx, counts []int64, edges []float64) error) RunFunc {
		return func(c *cgo.Ctx, o Out) (wire.Result, error) {
			counts, err := o.Tensor("counts", tensor.I64, Exposed, int(bins))
			if err != nil {
				return nil, wire.Errorf(wire.TooLarge, "%s: %d bins: %v", op, bins, err)
			}
			edges, err := o.Tensor("edges", tensor.F64, Exposed, int(bins)+1)
			if err != nil {
				return nil, wire.Errorf(wire.TooLarge, "%s: %d bins: %v", op, bins, err)
			}
			if err := impl(c, counts.Int64(), edges.Float64()); err != nil {
				return nil, fromC(op, err)
			}
			return wire.Result{"counts": wire.TensorValue(counts), "edges": wire.TensorValue(edges)}, nil
		}
	}
	// The C library derives the scale bins/(hi-lo) from the bounds in
	// float64; NumPy, for f32 input without a range, from their float32
	// difference (r.span): the two can differ by an ulp, which the edge
	// corrections absorb unless a bin is narrower than a few ulps.
	var impls map[string]RunFunc
	if x.DType == tensor.F64 {
		impls = histogramImpls(x.Float64(), r, run)
	} else {
		impls = histogramImpls(x.Float32(), r, run)
	}
	// Work: a few operations per element; the bins are written once.
	return &Call{Work: 4*float64(n) + float64(bins), OutElems: 2*float64(bins) + 1, run: impls}, nil
}

// histogramImpls are histogram's implementations over v, each made a
// RunFunc by run.
func histogramImpls[T float32 | float64](v []T, r histRange, run func(func(*cgo.Ctx, []int64, []float64) error) RunFunc) map[string]RunFunc {
	return map[string]RunFunc{
		ImplC: run(func(c *cgo.Ctx, counts []int64, edges []float64) error {
			return cgo.Histogram(c, v, r.first, r.last, counts, edges)
		}),
		ImplGo: run(func(c *cgo.Ctx, counts []int64, edges []float64) error {
			return HistogramGo(c, v, r.first, r.last, r.span, counts, edges)
		}),
	}
}

// histogramFits reports whether the width of [first, last] and bins over
// it are finite, in float32 too for f32 x: the ranges NumPy (and the C
// library) can bin.
func histogramFits(dt tensor.DType, first, last float64, bins int64) bool {
	w := last - first
	norm := float64(bins) / w
	if dt == tensor.F32 {
		lo, hi := float32(first), float32(last)
		if f := float64(hi - lo); math.IsInf(f, 0) || math.IsInf(float64(float32(norm)), 0) || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
			return false
		}
	}
	return !math.IsInf(w, 0) && !math.IsInf(norm, 0)
}

// tensorFloat returns element i of a real tensor t as a float64.
func tensorFloat(t *tensor.Tensor, i int) float64 {
	switch t.DType {
	case tensor.F32:
		return float64(t.Float32()[i])
	case tensor.I64:
		return float64(t.Int64()[i])
	case tensor.I32:
		return float64(t.Int32()[i])
	}
	return t.Float64()[i]
}

// histogramAutoRange is [min(x), max(x)] with NumPy's refusal of NaN and
// ±Inf, and [0, 1] for an empty x.
func histogramAutoRange(x *tensor.Tensor) (histRange, error) {
	if x.Len() == 0 {
		return histRange{0, 1, 1}, nil
	}
	var lo, hi, span float64
	if x.DType == tensor.F64 {
		l, h := minMax(x.Float64())
		lo, hi, span = l, h, h-l
	} else {
		l, h := minMax(x.Float32())
		lo, hi, span = float64(l), float64(h), float64(h-l) // NumPy subtracts the f32 scalars in f32
	}
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return histRange{}, invalidf("histogram: the range of x, [%v, %v], is not finite; give range", lo, hi)
	}
	return histRange{lo, hi, span}, nil
}

// minMax returns the smallest and largest element of v (non-empty); NaN if
// v holds one, as NumPy's min and max.
func minMax[T float32 | float64](v []T) (T, T) {
	lo, hi := v[0], v[0]
	for _, e := range v {
		if e != e {
			return e, e
		}
		lo, hi = min(lo, e), max(hi, e)
	}
	return lo, hi
}

// HistogramGo is the Go implementation of histogram: counts (len bins)
// receives how many elements of data fall in each of the equal bins
// between first and last, edges (len bins+1) the bins' edges, by NumPy
// 1.24's algorithm in its types: the edges as numpy.linspace computes them
// in float64, rounded to T; an element v in [first, last] (compared in T)
// goes to bin int(T(v-first)·T(bins/span)), less one at the last edge,
// then one down or up when the edges say the product rounded across one.
// span is last-first as the caller's NumPy derivation has it (see
// histRange). It polls x every 2^16 elements.
func HistogramGo[T float32 | float64](x *cgo.Ctx, data []T, first, last, span float64, counts []int64, edges []float64) error {
	bins := len(counts)
	if bins < 1 || len(edges) != bins+1 || !(first < last) {
		return cgo.ErrInvalid
	}
	// numpy.linspace: start + i*step in float64, two roundings, then the
	// last edge set to stop exactly; then cast to T.
	step := (last - first) / float64(bins)
	edgesT := make([]T, bins+1)
	for i := range edgesT {
		e := float64(float64(i)*step) + first // no fused multiply-add
		if i == bins {
			e = last
		}
		edgesT[i] = T(e)
		edges[i] = float64(edgesT[i])
	}
	clear(counts)
	lo, hi := T(first), T(last)
	norm := T(float64(bins) / span)
	const block = 1 << 16
	x.Begin(int64(len(data)))
	for start := 0; start < len(data); start += block {
		if x.Canceled() {
			return canceled
		}
		for _, v := range data[start:min(start+block, len(data))] {
			if !(v >= lo && v <= hi) { // NaN fails both
				continue
			}
			i := int(T(T(v-lo) * norm))
			if i == bins {
				i--
			}
			if v < edgesT[i] {
				i--
			} else if i != bins-1 && v >= edgesT[i+1] {
				i++
			}
			counts[i]++
		}
		x.Add(int64(min(block, len(data)-start)))
	}
	return nil
}
