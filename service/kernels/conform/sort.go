package conform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// sortSizes: both sides of the C insertion-sort cutoff (48), powers of
// two and neighbours, primes, the cancel-poll chunk, and large.
var sortSizes = []int{0, 1, 2, 3, 5, 7, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65,
	127, 128, 129, 1023, 1024, 1025, 4099, 65537, 1_000_000}

var sortPatterns = []string{"random", "small", "sorted", "reversed", "equal", "special", "sawtooth"}

// sortSpecials are the values every dtype's "special" pattern cycles
// through, as float64 (NaN, signed zeros and infinities only for floats).
var sortSpecials = map[tensor.DType][]float64{
	tensor.F64: {math.NaN(), 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, 1, -1, math.Copysign(math.NaN(), -1)},
	tensor.F32: {math.NaN(), 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat32,
		-math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 1, -1},
	tensor.I64: {math.MinInt64, math.MinInt64 + 1024, -1, 0, 1, math.MaxInt64 - 1023, math.MaxInt64},
	tensor.I32: {math.MinInt32, math.MinInt32 + 1, -1, 0, 1, math.MaxInt32 - 1, math.MaxInt32},
	tensor.U32: {0, 1, math.MaxUint32, math.MaxUint32 - 1, 1 << 31, 1<<31 - 1},
}

var sortDTypes = []tensor.DType{tensor.F64, tensor.F32, tensor.I64, tensor.I32, tensor.U32}

// sortCases: every size, pattern and dtype in both directions (one
// pattern at 10^6: the reference is slow), compared with the naive
// reference bit for bit, NaN payloads included; and the order of zeros
// and NaN spelled out by hand.
func sortCases() []Case {
	var cases []Case
	for si, n := range sortSizes {
		for _, p := range sortPatterns {
			if n > 100_000 && p != "random" {
				continue
			}
			for _, dt := range sortDTypes {
				for _, desc := range []bool{false, true} {
					cases = append(cases, Case{
						Name: fmt.Sprintf("%s n=%d %s desc=%v", dt, n, p, desc),
						Size: n * max(1, int(math.Log2(float64(n+1)))),
						Build: func() (wire.Args, Check) {
							data := genSort(dt, p, n, uint64(si))
							return sortArgs(data.tensor(), desc), sortWant(data.reference(desc))
						},
					})
				}
			}
		}
	}
	negZero, nan := math.Copysign(0, -1), math.NaN()
	x := []float64{0, nan, negZero, 1, -1, math.Inf(-1)}
	for _, desc := range []bool{false, true} {
		want := []float64{math.Inf(-1), -1, negZero, 0, 1, nan}
		if desc {
			want = []float64{1, 0, negZero, -1, math.Inf(-1), nan}
		}
		cases = append(cases, Case{
			Name: fmt.Sprintf("zeros and NaN by hand desc=%v", desc),
			Size: len(x),
			Build: func() (wire.Args, Check) {
				return sortArgs(tensor.FromFloat64([]int{len(x)}, x), desc), sortWant(tensor.FromFloat64([]int{len(want)}, want))
			},
		})
	}
	return cases
}

func sortArgs(x *tensor.Tensor, desc bool) wire.Args {
	return wire.Args{"x": wire.TensorValue(x), "descending": wire.Bool(desc)}
}

// sortWant checks that the result is want, bit for bit.
func sortWant(want *tensor.Tensor) Check {
	return ok(func(res wire.Result) error {
		got, err := resultTensor(res, "x", want.DType, want.Shape...)
		if err != nil {
			return err
		}
		size := got.DType.Size()
		for i := 0; i*size < len(got.Data); i++ {
			if string(got.Data[i*size:(i+1)*size]) != string(want.Data[i*size:(i+1)*size]) {
				return fmt.Errorf("differs from the reference at element %d", i)
			}
		}
		return nil
	})
}

// sortData holds one case's values as every dtype's elements, with the
// accessors the checks need.
type sortData interface {
	tensor() *tensor.Tensor
	reference(desc bool) *tensor.Tensor // the naive sort of a copy
}

type sortVec[T int32 | int64 | uint32 | float32 | float64] struct {
	dt tensor.DType
	v  []T
}

func (s sortVec[T]) tensor() *tensor.Tensor {
	t, _ := tensor.New(s.dt, len(s.v))
	copy(t.Data, vecBytes(s.dt, s.v))
	return t
}

// reference sorts a copy the naive way: NaNs moved behind in their order,
// then sort.Slice (the sort package, not slices) with an explicit "before"
// that puts -0 first. Elements that "before" does not order are the same
// bits, so an unstable sort is enough.
func (s sortVec[T]) reference(desc bool) *tensor.Tensor {
	var keep, nans []T
	for _, e := range s.v {
		if e != e {
			nans = append(nans, e)
		} else {
			keep = append(keep, e)
		}
	}
	before := func(a, b T) bool {
		if a == b && a == 0 {
			return math.Signbit(float64(a)) && !math.Signbit(float64(b))
		}
		return a < b
	}
	sort.Slice(keep, func(i, j int) bool {
		if desc {
			return before(keep[j], keep[i])
		}
		return before(keep[i], keep[j])
	})
	return sortVec[T]{s.dt, append(keep, nans...)}.tensor()
}

func vecBytes[T int32 | int64 | uint32 | float32 | float64](dt tensor.DType, v []T) []byte {
	switch dt {
	case tensor.F64:
		return tensor.FromFloat64([]int{len(v)}, any(v).([]float64)).Data
	case tensor.F32:
		return tensor.FromFloat32([]int{len(v)}, any(v).([]float32)).Data
	case tensor.I64:
		return tensor.FromInt64([]int{len(v)}, any(v).([]int64)).Data
	case tensor.I32:
		return tensor.FromInt32([]int{len(v)}, any(v).([]int32)).Data
	}
	return tensor.FromUint32([]int{len(v)}, any(v).([]uint32)).Data
}

// genSort makes pattern p of n elements of dtype dt.
func genSort(dt tensor.DType, p string, n int, seed uint64) sortData {
	r := rand.New(rand.NewPCG(seed, uint64(dt)))
	vals := make([]float64, n)
	var bits []uint64 // for "random": raw bits, every class of value
	for i := range vals {
		switch p {
		case "small":
			vals[i] = float64(r.IntN(21) - 10)
		case "equal":
			vals[i] = 7
		case "special":
			sp := sortSpecials[dt]
			vals[i] = sp[r.IntN(len(sp))]
		case "sawtooth":
			vals[i] = float64(i % 37)
		default:
			bits = append(bits, r.Uint64())
		}
	}
	var d sortData
	switch dt {
	case tensor.F64:
		v := make([]float64, n)
		for i := range v {
			if bits != nil {
				if v[i] = math.Float64frombits(bits[i]); v[i] != v[i] {
					v[i] = float64(bits[i] >> 40) // NaNs only where the pattern puts them
				}
			} else {
				v[i] = vals[i]
			}
		}
		d = sortVec[float64]{dt, v}
	case tensor.F32:
		v := make([]float32, n)
		for i := range v {
			if bits != nil {
				if v[i] = math.Float32frombits(uint32(bits[i])); v[i] != v[i] {
					v[i] = float32(bits[i] >> 40)
				}
			} else {
				v[i] = float32(vals[i])
			}
		}
		d = sortVec[float32]{dt, v}
	case tensor.I64:
		d = sortVec[int64]{dt, convert[int64](vals, bits, func(b uint64) int64 { return int64(b) })}
	case tensor.I32:
		d = sortVec[int32]{dt, convert[int32](vals, bits, func(b uint64) int32 { return int32(uint32(b)) })}
	default:
		d = sortVec[uint32]{dt, convert[uint32](vals, bits, func(b uint64) uint32 { return uint32(b) })}
	}
	switch p {
	case "sorted":
		return fromTensor(d.reference(false))
	case "reversed":
		return fromTensor(d.reference(true))
	}
	return d
}

// convert turns the pattern's float64 values (exact for these integers)
// or random bits into T.
func convert[T int32 | int64 | uint32](vals []float64, bits []uint64, fromBits func(uint64) T) []T {
	v := make([]T, len(vals))
	for i := range v {
		if bits != nil {
			v[i] = fromBits(bits[i])
		} else if vals[i] < 0 && T(0)-1 > 0 { // unsigned: wrap small negatives
			v[i] = T(int64(vals[i]))
		} else if vals[i] >= math.MaxInt64 { // MaxInt64 and MaxUint... do not round-trip
			v[i] = ^T(0) >> 1
		} else {
			v[i] = T(vals[i])
		}
	}
	return v
}

func fromTensor(t *tensor.Tensor) sortData {
	switch t.DType {
	case tensor.F64:
		return sortVec[float64]{t.DType, t.Float64()}
	case tensor.F32:
		return sortVec[float32]{t.DType, t.Float32()}
	case tensor.I64:
		return sortVec[int64]{t.DType, t.Int64()}
	case tensor.I32:
		return sortVec[int32]{t.DType, t.Int32()}
	}
	return sortVec[uint32]{t.DType, t.Uint32()}
}
