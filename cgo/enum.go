//go:build cgo

package cgo

import (
	"fmt"
	"strings"
)

// enum names the values of one of the C API's enums that stand for a
// NumPy or SciPy argument (FFTNorm, ConvMode), by the names those use.
type enum[T ~int] struct {
	typ    string // the Go type, which names a value outside the list
	what   string // what a value is, for parse's error
	values []T
	names  []string // names[i] is values[i]'s
}

// name returns v's name, or typ(v) for a value not in the list.
func (e *enum[T]) name(v T) string {
	for i, w := range e.values {
		if w == v {
			return e.names[i]
		}
	}
	return fmt.Sprintf("%s(%d)", e.typ, int(v))
}

// parse returns the value named s.
func (e *enum[T]) parse(s string) (T, error) {
	for i, name := range e.names {
		if name == s {
			return e.values[i], nil
		}
	}
	last := len(e.names) - 1
	return 0, fmt.Errorf("unknown %s %q (want %s or %s)", e.what, s, strings.Join(e.names[:last], ", "), e.names[last])
}
