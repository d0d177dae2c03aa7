package tensor

import (
	"strings"
	"testing"
)

func TestDTypeNames(t *testing.T) {
	sizes := map[DType]int{U8: 1, U16: 2, U32: 4, I32: 4, I64: 8, F32: 4, F64: 8, C64: 8, C128: 16}
	for _, d := range DTypes() {
		got, err := ParseDType(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
		if d.Size() != sizes[d] {
			t.Errorf("%v.Size() = %d, want %d", d, d.Size(), sizes[d])
		}
		if !d.Valid() {
			t.Errorf("%v is not valid", d)
		}
		if d.Align() < 1 || d.Size()%d.Align() != 0 {
			t.Errorf("%v.Align() = %d", d, d.Align())
		}
		kinds := 0
		for _, k := range []bool{d.IsComplex(), d.IsFloat(), d.IsInteger()} {
			if k {
				kinds++
			}
		}
		if kinds != 1 {
			t.Errorf("%v is of %d kinds, want exactly 1", d, kinds)
		}
	}
	if len(sizes) != len(DTypes()) {
		t.Errorf("DTypes() has %d types, want %d", len(DTypes()), len(sizes))
	}
}

func TestDTypeKinds(t *testing.T) {
	if !C64.IsComplex() || !C128.IsComplex() || F64.IsComplex() {
		t.Error("IsComplex")
	}
	if !F32.IsFloat() || !F64.IsFloat() || C64.IsFloat() || I64.IsFloat() {
		t.Error("IsFloat")
	}
	for _, d := range []DType{U8, U16, U32, I32, I64} {
		if !d.IsInteger() {
			t.Errorf("%v.IsInteger() = false", d)
		}
	}
	if Invalid.IsInteger() || Invalid.Valid() || Invalid.Size() != 0 || DType(200).Valid() {
		t.Error("Invalid")
	}
	if s := DType(200).String(); s != "DType(200)" {
		t.Errorf("DType(200).String() = %q", s)
	}
}

func TestParseDTypeUnknown(t *testing.T) {
	for _, s := range []string{"", "f16", "F64", "float64", "invalid", " f64"} {
		d, err := ParseDType(s)
		if err == nil || d != Invalid {
			t.Errorf("ParseDType(%q) = %v, %v; want an error", s, d, err)
			continue
		}
		if !strings.Contains(err.Error(), "unknown dtype") || !strings.Contains(err.Error(), "c128") {
			t.Errorf("ParseDType(%q) error %q does not list the dtypes", s, err)
		}
	}
}
