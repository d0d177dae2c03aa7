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
	// result gives the sorted tensor's memory, where allows.
	result := func(o Out, where Placement) (*tensor.Tensor, error) {
		out, err := o.Tensor("x", x.DType, where, n)
		if err != nil {
			return nil, wire.Errorf(wire.TooLarge, "sort: result of %d elements: %v", n, err)
		}
		return out, nil
	}
	return &Call{Work: float64(n) * math.Log2(float64(n)+1), OutElems: float64(n),
		run: map[string]RunFunc{
			// Exposed: the C sort reads x into a work buffer of its own and
			// only writes the result, in its last pass.
			ImplC: func(c *cgo.Ctx, o Out) (wire.Result, error) {
				out, err := result(o, Exposed)
				if err != nil {
					return nil, err
				}
				if err := sortC(c, x, out, desc); err != nil {
					return nil, fromC("sort", err)
				}
				return wire.Result{"x": wire.TensorValue(out)}, nil
			},
			// Private: the Go sort orders the copy in place, reading back
			// what it moved.
			ImplGo: func(c *cgo.Ctx, o Out) (wire.Result, error) {
				out, err := result(o, Private)
				if err != nil {
					return nil, err
				}
				copy(out.Data, x.Data)
				if err := sortGo(c, out, desc); err != nil {
					return nil, fromC("sort", err)
				}
				return wire.Result{"x": wire.TensorValue(out)}, nil
			},
		}}, nil
}

// sortC writes x sorted to out with the C library (x is not modified).
func sortC(c *cgo.Ctx, x, out *tensor.Tensor, desc bool) error {
	switch x.DType {
	case tensor.I32:
		return cgo.SortIntoI32(c, x.Int32(), out.Int32(), desc)
	case tensor.I64:
		return cgo.SortIntoI64(c, x.Int64(), out.Int64(), desc)
	case tensor.U32:
		return cgo.SortIntoU32(c, x.Uint32(), out.Uint32(), desc)
	case tensor.F32:
		return cgo.SortIntoF32(c, x.Float32(), out.Float32(), desc)
	default:
		return cgo.SortIntoF64(c, x.Float64(), out.Float64(), desc)
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
