package tensor

import (
	"fmt"
	"strings"
	"unsafe"
)

// DType is an element type of the protocol.
type DType uint8

// The protocol's element types. Complex types are pairs (re, im) of the float
// type of half their size.
const (
	Invalid DType = iota // the zero DType: no element type
	U8                   // uint8
	U16                  // uint16
	U32                  // uint32
	I32                  // int32
	I64                  // int64
	F32                  // float32
	F64                  // float64
	C64                  // complex64: two float32
	C128                 // complex128: two float64
)

// dtypeInfo describes one DType.
type dtypeInfo struct {
	name  string
	size  int
	align int
}

var dtypes = [...]dtypeInfo{
	Invalid: {"invalid", 0, 1},
	U8:      {"u8", 1, int(unsafe.Alignof(uint8(0)))},
	U16:     {"u16", 2, int(unsafe.Alignof(uint16(0)))},
	U32:     {"u32", 4, int(unsafe.Alignof(uint32(0)))},
	I32:     {"i32", 4, int(unsafe.Alignof(int32(0)))},
	I64:     {"i64", 8, int(unsafe.Alignof(int64(0)))},
	F32:     {"f32", 4, int(unsafe.Alignof(float32(0)))},
	F64:     {"f64", 8, int(unsafe.Alignof(float64(0)))},
	C64:     {"c64", 8, int(unsafe.Alignof(complex64(0)))},
	C128:    {"c128", 16, int(unsafe.Alignof(complex128(0)))},
}

// DTypes returns every valid DType, in the order of their constants.
func DTypes() []DType {
	return []DType{U8, U16, U32, I32, I64, F32, F64, C64, C128}
}

// ParseDType returns the DType named s ("u8", "u16", "u32", "i32", "i64",
// "f32", "f64", "c64" or "c128").
func ParseDType(s string) (DType, error) {
	for d := U8; d <= C128; d++ {
		if dtypes[d].name == s {
			return d, nil
		}
	}
	names := make([]string, 0, len(dtypes)-1)
	for _, d := range DTypes() {
		names = append(names, d.String())
	}
	return Invalid, fmt.Errorf("unknown dtype %q (want one of %s)", s, strings.Join(names, ", "))
}

// Valid reports whether d is one of the protocol's element types.
func (d DType) Valid() bool { return d > Invalid && d <= C128 }

// String returns the protocol's name of d, e.g. "f64".
func (d DType) String() string {
	if d <= C128 {
		return dtypes[d].name
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the size of one element in bytes (c64 = 8, c128 = 16), or 0
// for an invalid DType.
func (d DType) Size() int {
	if !d.Valid() {
		return 0
	}
	return dtypes[d].size
}

// Align returns the alignment in bytes that a typed view of d's elements
// needs on this platform (the Go element type's alignment).
func (d DType) Align() int {
	if !d.Valid() {
		return 1
	}
	return dtypes[d].align
}

// IsComplex reports whether d is c64 or c128.
func (d DType) IsComplex() bool { return d == C64 || d == C128 }

// IsFloat reports whether d is f32 or f64.
func (d DType) IsFloat() bool { return d == F32 || d == F64 }

// IsInteger reports whether d is one of the integer types.
func (d DType) IsInteger() bool { return d >= U8 && d <= I64 }
