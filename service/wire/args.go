package wire

import (
	"slices"
	"strconv"
	"strings"

	"github.com/crunchsvc/crunch/service/tensor"
)

// Args are a request's arguments by name.
type Args map[string]Value

// Result is a successful reply's results by name.
type Result map[string]Value

// Tensor returns the required tensor argument name; a missing argument or
// one that is not a tensor is an invalid_argument *Error.
func (a Args) Tensor(name string) (*tensor.Tensor, error) { return getTensor(a, "argument", name) }

// OptTensor returns the tensor argument name, or nil, nil when it is absent or
// null.
func (a Args) OptTensor(name string) (*tensor.Tensor, error) {
	return getOptTensor(a, "argument", name)
}

// Int returns the integer argument name, or def when it is absent or null. It
// must be a JSON number with an exact integer value within int64: 1000, 1e3
// and 1000.0 are the same argument, 1.5 and 1e30 are refused.
func (a Args) Int(name string, def int64) (int64, error) { return getInt(a, "argument", name, def) }

// Float returns the number argument name, or def when it is absent or null.
// It must be a JSON number within float64's range.
func (a Args) Float(name string, def float64) (float64, error) {
	return getFloat(a, "argument", name, def, false)
}

// Bool returns the boolean argument name, or def when it is absent or null.
func (a Args) Bool(name string, def bool) (bool, error) { return getBool(a, "argument", name, def) }

// String returns the string argument name, or def when it is absent or null.
func (a Args) String(name string, def string) (string, error) {
	return getString(a, "argument", name, def)
}

// Only checks that every argument is one of names, an op's arguments; it
// returns an invalid_argument *Error such as
// `gemm: unknown argument "x" (expected a, b, c)` otherwise.
func (a Args) Only(op string, names ...string) error {
	var unknown []string
	for k := range a {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if len(names) == 0 {
		return invalid("%s: unknown argument %q (expected none)", op, unknown[0])
	}
	return invalid("%s: unknown argument %q (expected %s)", op, unknown[0], strings.Join(names, ", "))
}

// Tensor returns the required tensor result name.
func (r Result) Tensor(name string) (*tensor.Tensor, error) { return getTensor(r, "result", name) }

// Int returns the integer result name, or def when it is absent or null.
func (r Result) Int(name string, def int64) (int64, error) { return getInt(r, "result", name, def) }

// Float returns the number result name, or def when it is absent or null. A
// shape [] float tensor counts as a number: it is how a NaN or ±Inf result
// travels (see Float).
func (r Result) Float(name string, def float64) (float64, error) {
	return getFloat(r, "result", name, def, true)
}

// Bool returns the boolean result name, or def when it is absent or null.
func (r Result) Bool(name string, def bool) (bool, error) { return getBool(r, "result", name, def) }

// String returns the string result name, or def when it is absent or null.
func (r Result) String(name string, def string) (string, error) {
	return getString(r, "result", name, def)
}

// The accessors of Args and Result share these; noun is "argument" or
// "result".

func getTensor(m map[string]Value, noun, name string) (*tensor.Tensor, error) {
	t, err := getOptTensor(m, noun, name)
	if err == nil && t == nil {
		return nil, invalid("%s %q is required", noun, name)
	}
	return t, err
}

func getOptTensor(m map[string]Value, noun, name string) (*tensor.Tensor, error) {
	v, ok := m[name]
	if !ok || v.IsNull() {
		return nil, nil
	}
	if v.Tensor == nil {
		return nil, invalid("%s %q must be a tensor, got %s", noun, name, v.kind())
	}
	return v.Tensor, nil
}

// scalar returns the trimmed JSON of the scalar name, nil when absent or null.
func scalar(m map[string]Value, noun, name, want string) ([]byte, *Error) {
	v, ok := m[name]
	if !ok || v.IsNull() {
		return nil, nil
	}
	if v.Tensor != nil {
		return nil, invalid("%s %q must be %s, got %s", noun, name, want, v.kind())
	}
	return trimSpace(v.JSON), nil
}

func getInt(m map[string]Value, noun, name string, def int64) (int64, error) {
	raw, err := scalar(m, noun, name, "an integer")
	if err != nil {
		return 0, err
	}
	if raw == nil {
		return def, nil
	}
	if !isNumberStart(raw[0]) {
		return 0, invalid("%s %q must be an integer, got %s", noun, name, describe(raw))
	}
	n, st := parseInt(raw)
	switch st {
	case intFraction:
		return 0, invalid("%s %q must be an integer, got %s", noun, name, quoteToken(raw))
	case intRange:
		return 0, invalid("%s %q is out of range for a 64-bit integer: %s", noun, name, quoteToken(raw))
	case intSyntax:
		return 0, invalid("%s %q must be an integer, got %s", noun, name, quoteToken(raw))
	}
	return n, nil
}

func getFloat(m map[string]Value, noun, name string, def float64, scalarTensor bool) (float64, error) {
	if v, ok := m[name]; ok && scalarTensor && v.Tensor != nil && len(v.Tensor.Shape) == 0 {
		switch v.Tensor.DType {
		case tensor.F64:
			return v.Tensor.Float64()[0], nil
		case tensor.F32:
			return float64(v.Tensor.Float32()[0]), nil
		}
	}
	raw, err := scalar(m, noun, name, "a number")
	if err != nil {
		return 0, err
	}
	if raw == nil {
		return def, nil
	}
	if !isNumberStart(raw[0]) {
		return 0, invalid("%s %q must be a number, got %s", noun, name, describe(raw))
	}
	f, ok := parseFloat(raw, 64)
	if !ok {
		return 0, invalid("%s %q is out of range for a 64-bit float: %s", noun, name, quoteToken(raw))
	}
	return f, nil
}

func getBool(m map[string]Value, noun, name string, def bool) (bool, error) {
	raw, err := scalar(m, noun, name, "a boolean")
	if err != nil {
		return false, err
	}
	switch {
	case raw == nil:
		return def, nil
	case string(raw) == "true":
		return true, nil
	case string(raw) == "false":
		return false, nil
	}
	return false, invalid("%s %q must be a boolean, got %s", noun, name, describe(raw))
}

func getString(m map[string]Value, noun, name string, def string) (string, error) {
	raw, err := scalar(m, noun, name, "a string")
	if err != nil {
		return "", err
	}
	if raw == nil {
		return def, nil
	}
	if raw[0] != '"' {
		return "", invalid("%s %q must be a string, got %s", noun, name, describe(raw))
	}
	s, err := unquote(raw)
	if err != nil {
		return "", within(noun+" "+strconv.Quote(name), err)
	}
	return s, nil
}
