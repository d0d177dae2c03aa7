package tensor

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// MaxDims is the largest number of dimensions a tensor may have (NumPy 2's
// limit).
const MaxDims = 64

// Tensor is a dense, row-major (C order), little-endian array. Data holds
// exactly Len()×DType.Size() bytes and is aligned for the element type; it is
// 64-byte aligned when this package allocated it.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// New returns a zeroed tensor of the given dtype and shape, its Data 64-byte
// aligned. It fails if dt is invalid, a dimension is negative, there are more
// than MaxDims dimensions, or the byte count overflows int.
func New(dt DType, shape ...int) (*Tensor, error) {
	n, err := ByteSize(dt, shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{DType: dt, Shape: slices.Clone(shape), Data: AlignedBytes(n)}, nil
}

// Len returns the number of elements of a tensor of this shape; [] (a scalar)
// has 1. ok is false if a dimension is negative or the count overflows int.
// The product of the non-zero dimensions must fit too, so that a kernel may
// multiply any subset of the dimensions without overflow: [2^62, 2^62, 0] is
// not ok although it holds no elements.
func Len(shape []int) (n int, ok bool) {
	n, pos := 1, 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if pos > math.MaxInt/d {
			return 0, false
		}
		pos *= d
	}
	if n != 0 {
		n = pos
	}
	return n, true
}

// ByteSize returns the size in bytes of the data of a dt tensor of this shape,
// or an error saying what is wrong with dt or the shape.
func ByteSize(dt DType, shape []int) (int, error) {
	if !dt.Valid() {
		return 0, fmt.Errorf("invalid dtype %v", dt)
	}
	if len(shape) > MaxDims {
		return 0, fmt.Errorf("shape has %d dimensions, more than the %d allowed", len(shape), MaxDims)
	}
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %s: dimension %d is negative", FormatShape(shape), i)
		}
	}
	n, ok := Len(shape)
	if !ok || n > math.MaxInt/dt.Size() {
		return 0, fmt.Errorf("shape %s: size overflows", FormatShape(shape))
	}
	return n * dt.Size(), nil
}

// Len returns the number of elements of t. It panics if t's shape is invalid,
// which no constructor of this package allows.
func (t *Tensor) Len() int {
	n, ok := Len(t.Shape)
	if !ok {
		panic("tensor: invalid shape " + FormatShape(t.Shape))
	}
	return n
}

// Validate checks t's invariants: a valid dtype, a valid shape, Data of the
// matching length, aligned for the element type.
func (t *Tensor) Validate() error {
	if t == nil {
		return errors.New("nil tensor")
	}
	n, err := ByteSize(t.DType, t.Shape)
	if err != nil {
		return err
	}
	if len(t.Data) != n {
		return fmt.Errorf("%s tensor of shape %s has %d bytes of data, want %d",
			t.DType, FormatShape(t.Shape), len(t.Data), n)
	}
	if !isAligned(t.Data, t.DType.Align()) {
		return fmt.Errorf("%s tensor data is not %d-byte aligned", t.DType, t.DType.Align())
	}
	return nil
}

// Equal reports whether t and u have the same dtype, the same shape and
// bit-identical data (so a NaN equals the same NaN, and 0 differs from -0).
func (t *Tensor) Equal(u *Tensor) bool {
	if t == nil || u == nil {
		return t == u
	}
	return t.DType == u.DType && slices.Equal(t.Shape, u.Shape) && bytes.Equal(t.Data, u.Data)
}

// String describes t by dtype and shape, e.g. "f64[2,3]".
func (t *Tensor) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	return t.DType.String() + FormatShape(t.Shape)
}

// FormatShape formats a shape the way error messages show it, e.g. "[3,4]".
func FormatShape(shape []int) string {
	b := make([]byte, 0, 2+4*len(shape))
	b = append(b, '[')
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	return string(append(b, ']'))
}
