package kernels

import (
	"cmp"
	"math"
	"slices"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// sortOp sorts a vector: NaN last whatever the direction, -0.0 before
// +0.0 ascending (after it descending).
var sortOp = &Op{
	Name:    "sort",
	Summary: "sort a vector, NaN last",
	Doc: "x sorted ascending, or descending; NaN last whatever the direction, " +
		"-0.0 before +0.0 ascending and after it descending",
	Params: []Param{
		{Name: "x", Kind: "tensor", DTypes: sortDTypeNames, Ranks: []int{1}, Shape: "[n]", Required: true, Doc: "the values; not modified"},
		{Name: "descending", Kind: "bool", Default: false, Doc: "sort largest first"},
	},
	Results: []Param{{Name: "x", Kind: "tensor", DTypes: sortDTypeNames, Shape: "[n]", Doc: "the sorted values, same dtype"}},
	Impls:   []string{ImplC, ImplGo},
	Bind:    prepareSort,
}

var sortDTypeNames = []string{"i32", "i64", "u32", "f32", "f64"}

func init() { defaultRegistry.Register(sortOp) }

func prepareSort(args Args) (*Call, error) {
	x, desc := args.Tensor("x"), args.Bool("descending")
	n := x.Len()
	// run copies x and sorts the copy with sortC or sortGo.
	run := func(impl func(*cgo.Ctx, *tensor.Tensor, bool) error) RunFunc {
		return func(c *cgo.Ctx, o Out) (wire.Result, error) {
			// Private: the radix sort scatters each key by its value.
			out, err := o.Tensor("x", x.DType, Private, n)
			if err != nil {
				return nil, wire.Errorf(wire.TooLarge, "sort: result of %d elements: %v", n, err)
			}
			copy(out.Data, x.Data)
			if err := impl(c, out, desc); err != nil {
				return nil, fromC("sort", err)
			}
			return wire.Result{"x": wire.TensorValue(out)}, nil
		}
	}
	return &Call{Work: float64(n) * math.Log2(float64(n)+1), OutElems: float64(n),
		run: map[string]RunFunc{
			ImplC:  run(sortC),
			ImplGo: run(sortGo),
		}}, nil
}

// sortC sorts t in place with the C library.
func sortC(x *cgo.Ctx, t *tensor.Tensor, desc bool) error {
	switch t.DType {
	case tensor.I32:
		return cgo.SortI32(x, t.Int32(), desc)
	case tensor.I64:
		return cgo.SortI64(x, t.Int64(), desc)
	case tensor.U32:
		return cgo.SortU32(x, t.Uint32(), desc)
	case tensor.F32:
		return cgo.SortF32(x, t.Float32(), desc)
	default:
		return cgo.SortF64(x, t.Float64(), desc)
	}
}

// sortGo sorts t in place with SortGo.
func sortGo(x *cgo.Ctx, t *tensor.Tensor, desc bool) error {
	switch t.DType {
	case tensor.I32:
		return SortGo(x, t.Int32(), desc)
	case tensor.I64:
		return SortGo(x, t.Int64(), desc)
	case tensor.U32:
		return SortGo(x, t.Uint32(), desc)
	case tensor.F32:
		return SortGo(x, t.Float32(), desc)
	default:
		return SortGo(x, t.Float64(), desc)
	}
}

// sortPoll is how many comparisons SortGo makes between cancel polls (a
// few hundred microseconds).
const sortPoll = 1 << 14

// sortCanceled is the panic value that unwinds slices.SortFunc when the
// Ctx is cancelled; SortGo recovers it.
type sortCanceled struct{}

// SortGo is the Go implementation of sort: the NaNs are first moved, in
// their order, behind the other values (as the C library does, so that the
// two give the same bits), then slices.SortFunc orders the rest with a
// comparator that puts -0 before +0 (reversed when descending). The
// comparator polls x every 2^14 calls and reports progress in comparisons
// against an estimate of n·log2(n); a cancelled sort panics out of
// slices.SortFunc and returns cgo.ErrCanceled, leaving v a permutation of
// its input.
func SortGo[T int32 | int64 | uint32 | float32 | float64](x *cgo.Ctx, v []T, descending bool) (err error) {
	n := len(v)
	total := int64(float64(n)*math.Ceil(math.Log2(float64(n)+1))) + 1
	x.Begin(total)
	if n < 2 {
		x.Add(total)
		return nil
	}
	if x.Canceled() {
		return canceled
	}
	// Stable partition: non-NaN values to the front, NaNs behind in their
	// order. v != v only holds for a float NaN.
	m := 0
	var nans []T
	for _, e := range v {
		if e != e {
			nans = append(nans, e)
			continue
		}
		v[m] = e
		m++
	}
	copy(v[m:], nans)

	less := func(a, b T) int {
		if c := cmp.Compare(a, b); c != 0 {
			return c
		}
		if a != 0 { // equal and not zero: the same value
			return 0
		}
		// Zeros: -0 first. (Integers have no negative zero.)
		sa, sb := math.Signbit(float64(a)), math.Signbit(float64(b))
		switch {
		case sa == sb:
			return 0
		case sa:
			return -1
		}
		return 1
	}
	calls, done := 0, int64(0)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(sortCanceled); !ok {
				panic(r)
			}
			err = canceled
		}
	}()
	slices.SortFunc(v[:m], func(a, b T) int {
		calls++
		if calls%sortPoll == 0 {
			if x.Canceled() {
				panic(sortCanceled{})
			}
			if done+sortPoll < total { // the estimate may run short: stay below 1
				done += sortPoll
				x.Add(sortPoll)
			}
		}
		if descending {
			return less(b, a)
		}
		return less(a, b)
	})
	x.Add(total - done)
	return nil
}
