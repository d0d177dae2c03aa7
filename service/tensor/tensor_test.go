package tensor

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

func TestLen(t *testing.T) {
	big := 1 << 40
	for _, c := range []struct {
		shape []int
		n     int
		ok    bool
	}{
		{nil, 1, true},
		{[]int{}, 1, true},
		{[]int{0}, 0, true},
		{[]int{1}, 1, true},
		{[]int{3, 0}, 0, true},
		{[]int{2, 3}, 6, true},
		{[]int{2, 3, 4}, 24, true},
		{[]int{big, 0}, 0, true},
		{[]int{big, big}, 0, false},
		{[]int{big, big, 0}, 0, false}, // the non-zero dimensions overflow
		{[]int{math.MaxInt, 2}, 0, false},
		{[]int{math.MaxInt}, math.MaxInt, true},
		{[]int{-1}, 0, false},
		{[]int{2, -3}, 0, false},
		{[]int{0, -3}, 0, false},
	} {
		n, ok := Len(c.shape)
		if n != c.n || ok != c.ok {
			t.Errorf("Len(%v) = %d, %v; want %d, %v", c.shape, n, ok, c.n, c.ok)
		}
	}
}

func TestNew(t *testing.T) {
	for _, d := range DTypes() {
		for _, shape := range [][]int{{}, {0}, {1}, {3, 0}, {2, 3}, {1000}} {
			x, err := New(d, shape...)
			if err != nil {
				t.Fatalf("New(%v, %v): %v", d, shape, err)
			}
			n, _ := Len(shape)
			if x.Len() != n || len(x.Data) != n*d.Size() {
				t.Errorf("New(%v, %v): Len %d, %d bytes", d, shape, x.Len(), len(x.Data))
			}
			if err := x.Validate(); err != nil {
				t.Errorf("New(%v, %v).Validate(): %v", d, shape, err)
			}
			if len(x.Data) > 0 && uintptr(unsafe.Pointer(&x.Data[0]))%Alignment != 0 {
				t.Errorf("New(%v, %v): data not 64-byte aligned", d, shape)
			}
			for _, b := range x.Data {
				if b != 0 {
					t.Fatalf("New(%v, %v): not zeroed", d, shape)
				}
			}
		}
	}
	shape := []int{2, 3}
	x, _ := New(F64, shape...)
	shape[0] = 7
	if x.Shape[0] != 2 {
		t.Error("New keeps the caller's shape slice")
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		dt    DType
		shape []int
		want  string
	}{
		{Invalid, []int{1}, "invalid dtype"},
		{F64, []int{2, -1}, "dimension 1 is negative"},
		{F64, []int{1 << 40, 1 << 40}, "overflows"},
		{F64, []int{math.MaxInt/8 + 1}, "overflows"},
		{U8, make([]int, MaxDims+1), "dimensions"},
	} {
		_, err := New(c.dt, c.shape...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%v, %v) error = %v, want one mentioning %q", c.dt, c.shape, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := FromFloat64([]int{2}, []float64{1, 2})
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []*Tensor{
		nil,
		{DType: F64, Shape: []int{3}, Data: make([]byte, 16)},
		{DType: Invalid, Shape: []int{}, Data: nil},
		{DType: F64, Shape: []int{-1}},
		{DType: F64, Shape: []int{1}, Data: AlignedBytes(9)[1:]},
	}
	for i, x := range bad {
		if err := x.Validate(); err == nil {
			t.Errorf("case %d: Validate() = nil, want an error", i)
		}
	}
}

func TestEqualAndString(t *testing.T) {
	a := FromFloat64([]int{2}, []float64{1, math.NaN()})
	b := FromFloat64([]int{2}, []float64{1, math.NaN()})
	if !a.Equal(b) {
		t.Error("bitwise-equal tensors with NaN differ")
	}
	if a.Equal(FromFloat64([]int{1, 2}, []float64{1, math.NaN()})) {
		t.Error("different shapes are equal")
	}
	if FromFloat64(nil, []float64{0}).Equal(FromFloat64(nil, []float64{math.Copysign(0, -1)})) {
		t.Error("0 equals -0 bitwise")
	}
	if a.Equal(nil) || !(*Tensor)(nil).Equal(nil) {
		t.Error("nil handling")
	}
	if s := FromInt32([]int{3, 0}, nil).String(); s != "i32[3,0]" {
		t.Errorf("String() = %q", s)
	}
	if s := FormatShape(nil); s != "[]" {
		t.Errorf("FormatShape(nil) = %q", s)
	}
}
