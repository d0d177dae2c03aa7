package wire

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/crunchsvc/crunch/service/tensor"
)

// encoder writes one message: the text message itself, or the JSON header of
// a binary one and the buffers it names.
type encoder struct {
	binary bool
	b      []byte   // the JSON object, left open until finish
	bufs   [][]byte // binary only: the buffers, by index
	// nonfinite is set when a text encoding failed on a NaN or ±Inf.
	nonfinite bool
	// structured lets values be JSON objects and arrays: results may be
	// (info's are), arguments may not, since there they mean tensors.
	structured bool
}

// finish closes the JSON object and returns the message.
func (e *encoder) finish() (*Message, *Error) {
	if !e.binary {
		return textMessage(append(e.b, '}')), nil
	}
	if len(e.b) > math.MaxUint32/2 {
		return nil, invalid("binary message: header of %d bytes is too large", len(e.b))
	}
	return layout(e.b, e.bufs), nil
}

// values writes an object of named values, sorted by name.
func (e *encoder) values(noun string, m map[string]Value) *Error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, k)
		e.b = append(e.b, ':')
		if err := e.value(m[k]); err != nil {
			return within(noun+" "+strconv.Quote(k), err)
		}
	}
	e.b = append(e.b, '}')
	return nil
}

// value writes one value.
func (e *encoder) value(v Value) *Error {
	switch {
	case v.Tensor != nil && v.JSON != nil:
		return invalid("value holds both a tensor and JSON")
	case v.Tensor != nil:
		return e.tensor(v.Tensor, v.Shm)
	case v.JSON == nil:
		e.b = append(e.b, "null"...)
		return nil
	}
	raw := trimSpace(v.JSON)
	if len(raw) == 0 || (!e.structured && (raw[0] == '{' || raw[0] == '[')) || !json.Valid(raw) {
		return invalid("value %s is not a JSON number, boolean, string or null", quoteToken(raw))
	}
	e.b = append(e.b, raw...)
	return nil
}

// tensor writes a tensor object: in text its data as JSON numbers, in binary
// the index of a new buffer holding its data.
// A tensor with ref names its place in shared memory instead.
func (e *encoder) tensor(t *tensor.Tensor, ref *ShmRef) *Error {
	if err := t.Validate(); err != nil {
		return invalid("%v", err)
	}
	e.b = append(e.b, `{"dtype":"`...)
	e.b = append(e.b, t.DType.String()...)
	e.b = append(e.b, `","shape":[`...)
	for i, d := range t.Shape {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = strconv.AppendInt(e.b, int64(d), 10)
	}
	if ref != nil {
		e.b = appendShm(e.b, ref)
		return nil
	}
	if e.binary {
		e.b = append(e.b, `],"buffer":`...)
		e.b = strconv.AppendInt(e.b, int64(len(e.bufs)), 10)
		e.b = append(e.b, '}')
		e.bufs = append(e.bufs, t.Data)
		return nil
	}
	e.b = append(e.b, `],"data":[`...)
	b, ok := appendData(e.b, t)
	e.b = b
	if !ok {
		e.nonfinite = true
		return invalid("%s tensor holds NaN or ±Inf, which JSON cannot carry: send a binary message", t.DType)
	}
	e.b = append(e.b, "]}"...)
	return nil
}

// appendData appends t's elements as comma-separated JSON numbers, complex
// ones as re, im. ok is false if t holds a NaN or ±Inf.
func appendData(b []byte, t *tensor.Tensor) (_ []byte, ok bool) {
	n := t.Len()
	perNumber := 4 // a guess at the text per number, to grow b once
	switch {
	case t.DType.IsFloat():
		perNumber = 22
	case t.DType.IsComplex():
		perNumber = 44
	}
	b = slices.Grow(b, n*perNumber)
	flat := asNumbers(t)
	switch flat.DType {
	case tensor.F64:
		return appendFloats(b, flat.Float64(), 64)
	case tensor.F32:
		return appendFloats(b, flat.Float32(), 32)
	case tensor.U8:
		b = appendIntegers(b, flat.Uint8())
	case tensor.U16:
		b = appendIntegers(b, flat.Uint16())
	case tensor.U32:
		b = appendIntegers(b, flat.Uint32())
	case tensor.I32:
		b = appendIntegers(b, flat.Int32())
	case tensor.I64:
		b = appendIntegers(b, flat.Int64())
	}
	return b, true
}

// appendFloats appends s as comma-separated shortest round-trip numbers at
// the given precision; ok is false at the first NaN or ±Inf.
func appendFloats[T float32 | float64](b []byte, s []T, bits int) (_ []byte, ok bool) {
	for i, v := range s {
		if !isFinite(float64(v)) {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, float64(v), bits)
	}
	return b, true
}

// appendIntegers appends s as comma-separated decimal integers. Every
// integer dtype of the protocol fits in int64.
func appendIntegers[T uint8 | uint16 | uint32 | int32 | int64](b []byte, s []T) []byte {
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}
