package wire

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/crunchsvc/crunch/service/tensor"
)

// Value is one argument or result: a tensor, or a JSON scalar (a number, a
// boolean, a string or null) kept as its JSON text. At most one of the fields
// is set; the zero Value encodes as null.
type Value struct {
	Tensor *tensor.Tensor
	JSON   json.RawMessage
	// Shm, with Tensor, places the tensor in shared memory: it travels as
	// "shm": [region, offset], and Tensor.Data is that memory.
	Shm *ShmRef
}

// TensorValue returns a Value holding t.
func TensorValue(t *tensor.Tensor) Value { return Value{Tensor: t} }

// Int returns a Value holding the JSON number v.
func Int(v int64) Value { return Value{JSON: strconv.AppendInt(nil, v, 10)} }

// Float returns a Value holding the JSON number v. JSON has no NaN or ±Inf:
// a non-finite v becomes a shape [] f64 tensor instead, so that it travels in
// a binary message (docs/PROTOCOL.md, "Non-finite numbers").
func Float(v float64) Value {
	if !isFinite(v) {
		return Value{Tensor: tensor.FromFloat64([]int{}, []float64{v})}
	}
	return Value{JSON: appendFloat(nil, v, 64)}
}

// Bool returns a Value holding the JSON boolean v.
func Bool(v bool) Value { return Value{JSON: strconv.AppendBool(nil, v)} }

// String returns a Value holding the JSON string s.
func String(s string) Value { return Value{JSON: appendString(nil, s)} }

// Null returns a Value holding the JSON null (which the accessors treat as
// absent).
func Null() Value { return Value{JSON: json.RawMessage("null")} }

// IsNull reports whether v is the zero Value or the JSON null.
func (v Value) IsNull() bool { return v.Tensor == nil && isNull(v.JSON) }

// Equal reports whether v and w hold equal tensors (see tensor.Equal) or the
// same JSON text.
func (v Value) Equal(w Value) bool {
	if v.Tensor != nil || w.Tensor != nil {
		return v.Tensor.Equal(w.Tensor) && v.JSON == nil && w.JSON == nil
	}
	return bytes.Equal(trimSpace(v.JSON), trimSpace(w.JSON))
}

// kind describes v for an error message: "an f64 tensor", "a string", ….
func (v Value) kind() string {
	if v.Tensor != nil {
		if name := v.Tensor.DType.String(); name[0] == 'f' || name[0] == 'i' { // "an f64", "an i32"
			return "an " + v.Tensor.DType.String() + " tensor"
		}
		return "a " + v.Tensor.DType.String() + " tensor"
	}
	return describe(v.JSON)
}

// equalValues reports whether two maps of Values are equal (nil equals empty).
func equalValues(a, b map[string]Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}
