package tensor

import (
	"fmt"
	"slices"
	"unsafe"
)

// element is the Go type of some DType's elements.
type element interface {
	uint8 | uint16 | uint32 | int32 | int64 | float32 | float64 | complex64 | complex128
}

// view reinterprets t.Data as a []T without copying. It panics if t's dtype is
// not dt or its data does not match its shape or is misaligned: each is a
// programming error, not something a message can cause.
func view[T element](t *Tensor, dt DType) []T {
	if t.DType != dt {
		panic(fmt.Sprintf("tensor: %s view of a %s tensor", dt, t.DType))
	}
	n := t.Len()
	if len(t.Data) != n*dt.Size() {
		panic(fmt.Sprintf("tensor: %s has %d bytes of data, want %d", t, len(t.Data), n*dt.Size()))
	}
	if n == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(t.Data))
	if uintptr(p)%unsafe.Alignof(*new(T)) != 0 {
		panic(fmt.Sprintf("tensor: %s data is misaligned", t))
	}
	return unsafe.Slice((*T)(p), n)
}

// from makes a dt tensor of the given shape whose Data aliases v. It panics if
// len(v) is not the shape's element count.
func from[T element](dt DType, shape []int, v []T) *Tensor {
	if n, ok := Len(shape); !ok || n != len(v) || len(shape) > MaxDims {
		panic(fmt.Sprintf("tensor: %d %s values for shape %s", len(v), dt, FormatShape(shape)))
	}
	var data []byte
	if len(v) > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*dt.Size())
	}
	if shape == nil {
		shape = []int{}
	}
	return &Tensor{DType: dt, Shape: slices.Clone(shape), Data: data}
}

// Uint8 returns t's elements as a []uint8 sharing t's memory. It panics unless t is u8.
func (t *Tensor) Uint8() []uint8 { return view[uint8](t, U8) }

// Uint16 returns t's elements as a []uint16 sharing t's memory. It panics unless t is u16.
func (t *Tensor) Uint16() []uint16 { return view[uint16](t, U16) }

// Uint32 returns t's elements as a []uint32 sharing t's memory. It panics unless t is u32.
func (t *Tensor) Uint32() []uint32 { return view[uint32](t, U32) }

// Int32 returns t's elements as a []int32 sharing t's memory. It panics unless t is i32.
func (t *Tensor) Int32() []int32 { return view[int32](t, I32) }

// Int64 returns t's elements as a []int64 sharing t's memory. It panics unless t is i64.
func (t *Tensor) Int64() []int64 { return view[int64](t, I64) }

// Float32 returns t's elements as a []float32 sharing t's memory. It panics unless t is f32.
func (t *Tensor) Float32() []float32 { return view[float32](t, F32) }

// Float64 returns t's elements as a []float64 sharing t's memory. It panics unless t is f64.
func (t *Tensor) Float64() []float64 { return view[float64](t, F64) }

// Complex64 returns t's elements as a []complex64 sharing t's memory. It panics unless t is c64.
func (t *Tensor) Complex64() []complex64 { return view[complex64](t, C64) }

// Complex128 returns t's elements as a []complex128 sharing t's memory. It panics unless t is c128.
func (t *Tensor) Complex128() []complex128 { return view[complex128](t, C128) }

// FromUint8 returns a u8 tensor of the given shape whose Data aliases v (no
// copy). It panics if len(v) is not the shape's element count.
func FromUint8(shape []int, v []uint8) *Tensor { return from(U8, shape, v) }

// FromUint16 returns a u16 tensor of the given shape whose Data aliases v (no
// copy). It panics if len(v) is not the shape's element count.
func FromUint16(shape []int, v []uint16) *Tensor { return from(U16, shape, v) }

// FromUint32 returns a u32 tensor of the given shape whose Data aliases v (no
// copy). It panics if len(v) is not the shape's element count.
func FromUint32(shape []int, v []uint32) *Tensor { return from(U32, shape, v) }

// FromInt32 returns an i32 tensor of the given shape whose Data aliases v (no
// copy). It panics if len(v) is not the shape's element count.
func FromInt32(shape []int, v []int32) *Tensor { return from(I32, shape, v) }

// FromInt64 returns an i64 tensor of the given shape whose Data aliases v (no
// copy). It panics if len(v) is not the shape's element count.
func FromInt64(shape []int, v []int64) *Tensor { return from(I64, shape, v) }

// FromFloat32 returns an f32 tensor of the given shape whose Data aliases v
// (no copy). It panics if len(v) is not the shape's element count.
func FromFloat32(shape []int, v []float32) *Tensor { return from(F32, shape, v) }

// FromFloat64 returns an f64 tensor of the given shape whose Data aliases v
// (no copy). It panics if len(v) is not the shape's element count.
func FromFloat64(shape []int, v []float64) *Tensor { return from(F64, shape, v) }

// FromComplex64 returns a c64 tensor of the given shape whose Data aliases v
// (no copy). It panics if len(v) is not the shape's element count.
func FromComplex64(shape []int, v []complex64) *Tensor { return from(C64, shape, v) }

// FromComplex128 returns a c128 tensor of the given shape whose Data aliases
// v (no copy). It panics if len(v) is not the shape's element count.
func FromComplex128(shape []int, v []complex128) *Tensor { return from(C128, shape, v) }
