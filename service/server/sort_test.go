package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
)

// sortInput makes a vector of dtype dt with duplicates, negative values,
// extremes and, for floats, signed zeros (and NaN and Inf when nonFinite,
// which only a binary message can carry).
func sortInput(r *rand.Rand, dt tensor.DType, n int, nonFinite bool) *tensor.Tensor {
	t, _ := tensor.New(dt, n)
	for i := range n {
		v := float64(r.IntN(2001) - 1000)
		switch dt {
		case tensor.F64:
			f := v / 8
			switch {
			case i%11 == 0:
				f = math.Copysign(0, -1)
			case nonFinite && i%13 == 0:
				f = math.NaN()
			case nonFinite && i%17 == 0:
				f = math.Inf(-1)
			}
			t.Float64()[i] = f
		case tensor.F32:
			f := float32(v / 8)
			if i%11 == 0 {
				f = float32(math.Copysign(0, -1))
			} else if nonFinite && i%13 == 0 {
				f = float32(math.NaN())
			}
			t.Float32()[i] = f
		case tensor.I64:
			t.Int64()[i] = int64(v) << 40
			if i == 3 {
				t.Int64()[i] = math.MinInt64
			}
		case tensor.I32:
			t.Int32()[i] = int32(v) << 20
			if i == 3 {
				t.Int32()[i] = math.MaxInt32
			}
		case tensor.U32:
			t.Uint32()[i] = uint32(int32(v)) // negatives wrap to large values
		}
	}
	return t
}

// sortWant sorts a copy with the Go implementation, which the kernels
// tests check against a naive reference: an independent check of C and of
// the transport.
func sortWant(t *testing.T, x *tensor.Tensor, desc bool) *tensor.Tensor {
	t.Helper()
	w, _ := tensor.New(x.DType, x.Shape...)
	copy(w.Data, x.Data)
	var err error
	switch x.DType {
	case tensor.F64:
		err = kernels.SortGo(nil, w.Float64(), desc)
	case tensor.F32:
		err = kernels.SortGo(nil, w.Float32(), desc)
	case tensor.I64:
		err = kernels.SortGo(nil, w.Int64(), desc)
	case tensor.I32:
		err = kernels.SortGo(nil, w.Int32(), desc)
	default:
		err = kernels.SortGo(nil, w.Uint32(), desc)
	}
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSortEveryExecImplAndForm: every dtype, both directions, through every
// executor, both implementations, text and binary messages.
func TestSortEveryExecImplAndForm(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(10, 11))
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32, tensor.I64, tensor.I32, tensor.U32} {
		x := sortInput(r, dt, 301, false)
		for _, desc := range []bool{false, true} {
			want := sortWant(t, x, desc)
			for _, ex := range execNames {
				for _, impl := range implsOf(t, "sort") {
					for _, text := range []bool{false, true} {
						got, st, err := c.Sort(context.Background(), x, desc, &client.Options{Exec: ex, Impl: impl, Text: text})
						if err != nil {
							t.Fatalf("%s desc=%v %s/%s text=%v: %v", dt, desc, ex, impl, text, err)
						}
						if !got.Equal(want) {
							t.Errorf("%s desc=%v %s/%s text=%v: %v, want %v", dt, desc, ex, impl, text, got, want)
						}
						if st == nil || (ex != "auto" && st.Exec != ex) || st.Impl != impl {
							t.Errorf("%s %s/%s: stats %+v", dt, ex, impl, st)
						}
					}
				}
			}
		}
	}
}

// TestSortNaNAndInf: non-finite values travel in binary messages; NaN is
// last in both directions.
func TestSortNaNAndInf(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(12, 13))
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		x := sortInput(r, dt, 1000, true)
		for _, desc := range []bool{false, true} {
			want := sortWant(t, x, desc)
			for _, ex := range runExecs {
				for _, impl := range implsOf(t, "sort") {
					got, _, err := c.Sort(context.Background(), x, desc, &client.Options{Exec: ex, Impl: impl})
					if err != nil {
						t.Fatalf("%s %s/%s: %v", dt, ex, impl, err)
					}
					if !got.Equal(want) {
						t.Errorf("%s desc=%v %s/%s: differs from SortGo", dt, desc, ex, impl)
					}
				}
			}
		}
	}
}
