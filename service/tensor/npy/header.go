package npy

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/crunchsvc/crunch/service/tensor"
)

// magic opens every .npy file; the format's version (major, minor) follows.
const magic = "\x93NUMPY"

// maxHeader bounds the header a reader accepts. NumPy itself refuses
// headers over 10,000 bytes unless told otherwise; a tensor of MaxDims
// dimensions needs about 1,400.
const maxHeader = 1 << 16

// header is what a .npy header says about the array that follows it.
type header struct {
	dtype   tensor.DType
	swap    bool // the data is big-endian: swap each element's bytes
	fortran bool // the data is in column-major (Fortran) order
	shape   []int
}

// descrs maps the type part of a NumPy dtype string ("f8" in "<f8") to
// crunch's dtypes.
var descrs = map[string]tensor.DType{
	"u1": tensor.U8, "u2": tensor.U16, "u4": tensor.U32,
	"i4": tensor.I32, "i8": tensor.I64,
	"f4": tensor.F32, "f8": tensor.F64,
	"c8": tensor.C64, "c16": tensor.C128,
}

// descrOf is the little-endian NumPy dtype string of dt ("<f8", "|u1").
func descrOf(dt tensor.DType) string {
	for code, d := range descrs {
		if d == dt {
			if dt.Size() == 1 {
				return "|" + code
			}
			return "<" + code
		}
	}
	panic("npy: no NumPy dtype for " + dt.String())
}

// supported lists crunch's dtypes as NumPy names them, for error messages.
const supported = "uint8, uint16, uint32, int32, int64, float32, float64, complex64, complex128"

// parseDescr reads a NumPy dtype string such as "<f8".
func parseDescr(s string) (dt tensor.DType, swap bool, err error) {
	if s == "" {
		return 0, false, fmt.Errorf("empty dtype")
	}
	order, code := s[0], s[1:]
	switch order {
	case '<', '|', '=': // '=' is the writer's order; NumPy writes '<' or '>' instead
	case '>':
		swap = true
	default:
		order, code = '=', s
	}
	dt, ok := descrs[code]
	if !ok {
		return 0, false, fmt.Errorf("dtype %q is not one crunch supports (%s; NumPy: a.astype(...) converts)", s, supported)
	}
	if order == '|' && dt.Size() != 1 {
		return 0, false, fmt.Errorf("dtype %q: %d-byte elements need a byte order, '<' or '>'", s, dt.Size())
	}
	return dt, swap && dt.Size() > 1, nil
}

// formatHeader returns the whole header of an array of dt and shape, in C
// order: magic, version, length and the dict, padded with spaces to a
// multiple of 64 bytes and ended by a newline, as NumPy writes it. It uses
// version 1.0 unless the dict is too long for its 16-bit length.
func formatHeader(dt tensor.DType, shape []int) []byte {
	var dict strings.Builder
	fmt.Fprintf(&dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descrOf(dt))
	for i, d := range shape {
		if i > 0 {
			dict.WriteString(", ")
		}
		dict.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		dict.WriteByte(',')
	}
	dict.WriteString("), }")
	for _, v := range []struct {
		major  byte
		lenLen int
	}{{1, 2}, {2, 4}} {
		pre := len(magic) + 2 + v.lenLen
		total := (pre + dict.Len() + 1 + 63) / 64 * 64
		n := total - pre
		if v.lenLen == 2 && n > 0xffff {
			continue
		}
		b := make([]byte, 0, total)
		b = append(b, magic...)
		b = append(b, v.major, 0)
		if v.lenLen == 2 {
			b = binary.LittleEndian.AppendUint16(b, uint16(n))
		} else {
			b = binary.LittleEndian.AppendUint32(b, uint32(n))
		}
		b = append(b, dict.String()...)
		for len(b) < total-1 {
			b = append(b, ' ')
		}
		return append(b, '\n')
	}
	panic("unreachable")
}

// parseDict reads the header's dict: the Python literal
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4)} with exactly
// those keys, in any order, as NumPy writes and reads it.
func parseDict(s string) (*header, error) {
	p := &literal{s: s}
	h := &header{}
	seen := map[string]bool{}
	if !p.eat('{') {
		return nil, p.fail("a dict, '{'")
	}
	for !p.eat('}') {
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q twice", key)
		}
		seen[key] = true
		if !p.eat(':') {
			return nil, p.fail("':'")
		}
		switch key {
		case "descr":
			if p.peek() == '[' {
				return nil, fmt.Errorf("a structured dtype (a record of fields): crunch takes arrays of one of %s", supported)
			}
			d, err := p.str()
			if err != nil {
				return nil, err
			}
			if h.dtype, h.swap, err = parseDescr(d); err != nil {
				return nil, err
			}
		case "fortran_order":
			if h.fortran, err = p.boolean(); err != nil {
				return nil, err
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown key %q (a .npy header has descr, fortran_order and shape)", key)
		}
		if !p.eat(',') && p.peek() != '}' {
			return nil, p.fail("',' or '}'")
		}
	}
	if p.skip(); p.i != len(p.s) {
		return nil, p.fail("the end of the header")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return nil, fmt.Errorf("no %q in the header", k)
		}
	}
	return h, nil
}

// literal scans the small part of Python's literal syntax a header uses.
type literal struct {
	s string
	i int
}

func (p *literal) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *literal) peek() byte {
	if p.skip(); p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *literal) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *literal) fail(want string) error {
	if p.skip(); p.i >= len(p.s) {
		return fmt.Errorf("header dict ends where %s should be", want)
	}
	return fmt.Errorf("header dict: %s expected at %q", want, clip(p.s[p.i:]))
}

// str reads a quoted string without escapes.
func (p *literal) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.fail("a quoted string")
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.fail("a closed string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", fmt.Errorf("header dict: escapes in %q", v)
	}
	p.i += end + 2
	return v, nil
}

func (p *literal) boolean() (bool, error) {
	p.skip()
	for _, w := range []struct {
		word string
		v    bool
	}{{"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	return false, p.fail("True or False")
}

// tuple reads a tuple of non-negative integers: (), (3,), (3, 4). Python 2
// wrote long integers with an L: (3L, 4L).
func (p *literal) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, p.fail("a shape tuple, '('")
	}
	shape := []int{}
	for !p.eat(')') {
		p.skip()
		start := p.i
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
		}
		if start == p.i {
			return nil, p.fail("a non-negative dimension")
		}
		d, err := strconv.Atoi(p.s[start:p.i])
		if err != nil {
			return nil, fmt.Errorf("shape dimension %s is too large", clip(p.s[start:p.i]))
		}
		if p.i < len(p.s) && p.s[p.i] == 'L' {
			p.i++
		}
		if shape = append(shape, d); len(shape) > tensor.MaxDims {
			return nil, fmt.Errorf("shape has more than %d dimensions", tensor.MaxDims)
		}
		if !p.eat(',') && p.peek() != ')' {
			return nil, p.fail("',' or ')' in the shape")
		}
	}
	return shape, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
