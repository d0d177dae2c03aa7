package tensor

import (
	"math"
	"testing"
)

func TestViewsAlias(t *testing.T) {
	f64 := []float64{1, 2, 3, 4, 5, 6}
	x := FromFloat64([]int{2, 3}, f64)
	x.Float64()[4] = 42
	if f64[4] != 42 {
		t.Error("FromFloat64 copied its data")
	}
	check := func(x *Tensor, want DType, n int) {
		t.Helper()
		if x.DType != want || x.Len() != n || len(x.Data) != n*want.Size() {
			t.Errorf("%v: want %v with %d elements", x, want, n)
		}
		if err := x.Validate(); err != nil {
			t.Error(err)
		}
	}
	check(FromUint8([]int{3}, []uint8{1, 2, 255}), U8, 3)
	check(FromUint16([]int{1, 2}, []uint16{1, 65535}), U16, 2)
	check(FromUint32([]int{2}, []uint32{1, math.MaxUint32}), U32, 2)
	check(FromInt32([]int{2}, []int32{-1, math.MinInt32}), I32, 2)
	check(FromInt64([]int{}, []int64{math.MinInt64}), I64, 1)
	check(FromFloat32([]int{0}, nil), F32, 0)
	check(FromComplex64([]int{1}, []complex64{1 + 2i}), C64, 1)
	check(FromComplex128([]int{2, 1}, []complex128{1 + 2i, 3 - 4i}), C128, 2)

	if got := FromUint8([]int{3}, []uint8{1, 2, 255}).Uint8(); got[2] != 255 {
		t.Error("Uint8")
	}
	if got := FromUint16([]int{1}, []uint16{65535}).Uint16(); got[0] != 65535 {
		t.Error("Uint16")
	}
	if got := FromUint32([]int{1}, []uint32{7}).Uint32(); got[0] != 7 {
		t.Error("Uint32")
	}
	if got := FromInt32([]int{1}, []int32{-7}).Int32(); got[0] != -7 {
		t.Error("Int32")
	}
	if got := FromInt64([]int{1}, []int64{-7}).Int64(); got[0] != -7 {
		t.Error("Int64")
	}
	if got := FromFloat32([]int{1}, []float32{0.5}).Float32(); got[0] != 0.5 {
		t.Error("Float32")
	}
	if got := FromComplex64([]int{1}, []complex64{1 + 2i}).Complex64(); got[0] != 1+2i {
		t.Error("Complex64")
	}
	if got := FromComplex128([]int{1}, []complex128{1 - 2i}).Complex128(); got[0] != 1-2i {
		t.Error("Complex128")
	}
	// Little-endian, row-major bytes.
	y := FromUint16([]int{2}, []uint16{0x0102, 0x0304})
	if y.Data[0] != 0x02 || y.Data[1] != 0x01 || y.Data[2] != 0x04 {
		t.Errorf("bytes %x are not little-endian", y.Data)
	}
	z, _ := New(C128, 0)
	if v := z.Complex128(); len(v) != 0 {
		t.Error("empty view")
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestViewPanics(t *testing.T) {
	x := FromFloat64([]int{2}, []float64{1, 2})
	mustPanic(t, "Float32 of f64", func() { x.Float32() })
	mustPanic(t, "Complex128 of f64", func() { x.Complex128() })
	mustPanic(t, "FromFloat64 with a short slice", func() { FromFloat64([]int{3}, []float64{1}) })
	mustPanic(t, "FromInt32 with a negative dim", func() { FromInt32([]int{-1}, nil) })
	short := &Tensor{DType: F64, Shape: []int{3}, Data: make([]byte, 16)}
	mustPanic(t, "a view of short data", func() { short.Float64() })
	mis := &Tensor{DType: F64, Shape: []int{1}, Data: AlignedBytes(9)[1:]}
	mustPanic(t, "a view of misaligned data", func() { mis.Float64() })
}
