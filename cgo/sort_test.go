package cgo_test

import (
	"errors"
	"math"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// TestSortBinding checks the binding of every dtype (the kernels package
// runs the full table): order rules, empty slices, cancellation.
func TestSortBinding(t *testing.T) {
	f := []float64{3, math.NaN(), -0.0, 0, -2}
	f[2] = math.Copysign(0, -1)
	if err := cgo.SortF64(nil, f, false); err != nil {
		t.Fatal(err)
	}
	if f[0] != -2 || !math.Signbit(f[1]) || f[2] != 0 || math.Signbit(f[2]) || f[3] != 3 || !math.IsNaN(f[4]) {
		t.Errorf("f64: %v", f)
	}
	i := []int32{5, math.MinInt32, math.MaxInt32, 0}
	if err := cgo.SortI32(nil, i, true); err != nil || i[0] != math.MaxInt32 || i[3] != math.MinInt32 {
		t.Errorf("i32 descending: %v, %v", i, err)
	}
	u := []uint32{math.MaxUint32, 0, 1 << 31}
	if err := cgo.SortU32(nil, u, false); err != nil || u[0] != 0 || u[2] != math.MaxUint32 {
		t.Errorf("u32: %v, %v", u, err)
	}
	l := []int64{math.MaxInt64, math.MinInt64, -1}
	if err := cgo.SortI64(nil, l, false); err != nil || l[0] != math.MinInt64 || l[2] != math.MaxInt64 {
		t.Errorf("i64: %v, %v", l, err)
	}
	g := []float32{1, float32(math.Inf(-1))}
	if err := cgo.SortF32(nil, g, false); err != nil || !math.IsInf(float64(g[0]), -1) {
		t.Errorf("f32: %v, %v", g, err)
	}
	for _, err := range []error{cgo.SortF64(nil, nil, false), cgo.SortI32(nil, []int32{}, true)} {
		if err != nil {
			t.Errorf("empty: %v", err)
		}
	}
	x := cgo.NewCtx()
	x.Cancel()
	if err := cgo.SortU32(x, []uint32{2, 1}, false); !errors.Is(err, cgo.ErrCanceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestSortIntoBinding checks the sorts into another slice: the input is
// left alone, the result is the sort in place's, and a length mismatch or
// an overlap is refused.
func TestSortIntoBinding(t *testing.T) {
	in := []float64{3, math.NaN(), 1, -2}
	out := make([]float64, len(in))
	if err := cgo.SortIntoF64(nil, in, out, true); err != nil || out[0] != 3 || out[2] != -2 || !math.IsNaN(out[3]) {
		t.Errorf("f64 descending: %v, %v", out, err)
	}
	if in[0] != 3 || in[3] != -2 {
		t.Errorf("the input changed: %v", in)
	}
	if err := cgo.SortIntoI32(nil, []int32{2, -1}, make([]int32, 2), false); err != nil {
		t.Errorf("i32: %v", err)
	}
	if err := cgo.SortIntoU32(nil, []uint32{2, 1}, make([]uint32, 2), false); err != nil {
		t.Errorf("u32: %v", err)
	}
	if err := cgo.SortIntoI64(nil, []int64{2, 1}, make([]int64, 2), false); err != nil {
		t.Errorf("i64: %v", err)
	}
	if err := cgo.SortIntoF32(nil, nil, nil, false); err != nil {
		t.Errorf("f32, empty: %v", err)
	}
	if err := cgo.SortIntoF64(nil, in, out[:3], false); !errors.Is(err, cgo.ErrInvalid) {
		t.Errorf("short out: %v", err)
	}
	if err := cgo.SortIntoF64(nil, out[:2], out[1:3], false); !errors.Is(err, cgo.ErrInvalid) {
		t.Errorf("overlapping: %v", err)
	}
}
