package wire

import (
	"encoding/json"
	"unicode/utf8"
)

// This file walks JSON that json.Valid has accepted: it finds an object's
// members and an array's elements as sub-slices of the message, without
// copying or building maps of interfaces. It is written to stay within bounds
// and return an error, never panic, even on input that is not valid JSON.

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace returns b without leading and trailing JSON whitespace.
func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// stringEnd returns the index just past the string whose opening quote is at
// b[i], or len(b) if it is not closed.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// structural marks the bytes valueEnd must look at inside a container.
var structural = [256]bool{'"': true, '[': true, ']': true, '{': true, '}': true}

// valueEnd returns the index just past the JSON value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			if !structural[b[i]] {
				continue // most bytes: numbers, commas, spaces
			}
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// describe names the kind of the JSON value raw for an error message.
func describe(raw []byte) string {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// isNull reports whether raw is absent (nil) or the JSON null.
func isNull(raw []byte) bool {
	raw = trimSpace(raw)
	return len(raw) == 0 || raw[0] == 'n'
}

// malformed is the error for JSON the walker cannot follow; json.Valid
// rejects such input before the walker sees it.
func malformed(what string) *Error { return invalid("malformed JSON in %s", what) }

// MaxMembers bounds the members of every JSON object the protocol decodes
// (a message, its args, a tensor): the protocol's objects have a few dozen
// at most, and refusing more while scanning keeps the memory a hostile
// message costs to a small multiple of its size, whatever its shape.
const MaxMembers = 64

// members calls f with each member of the JSON object obj, in order, its key
// unescaped and its value trimmed; it stops at f's first error, and refuses
// an object of more than MaxMembers members before calling f on the extra
// one.
func members(obj []byte, f func(key string, val []byte) *Error) *Error {
	obj = trimSpace(obj)
	return items(obj, '{', '}', "object", func(n, i int) (int, *Error) {
		if n == MaxMembers {
			return 0, invalid("an object has more than %d members", MaxMembers)
		}
		if obj[i] != '"' {
			return 0, malformed("object")
		}
		kend := stringEnd(obj, i)
		key, err := unquote(obj[i:kend])
		if err != nil {
			return 0, err
		}
		i = skipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return 0, malformed("object")
		}
		i = skipSpace(obj, i+1)
		vend := valueEnd(obj, i)
		if vend <= i {
			return 0, malformed("object")
		}
		return vend, f(key, obj[i:vend])
	})
}

// items walks the trimmed JSON container c, an object or array that opens
// with open and closes with close: it calls item with the number and the
// index of each item, which reads the item (an array's element, an
// object's key and value) and returns the index just past it, then expects
// a comma or the end. It stops at item's first error; what names the
// container in the error for JSON it cannot follow.
func items(c []byte, open, close byte, what string, item func(n, i int) (int, *Error)) *Error {
	if len(c) < 2 || c[0] != open {
		return malformed(what)
	}
	i := skipSpace(c, 1)
	if i < len(c) && c[i] == close {
		return nil
	}
	for n := 0; i < len(c); n++ {
		end, err := item(n, i)
		if err != nil {
			return err
		}
		i = skipSpace(c, end)
		if i >= len(c) {
			break
		}
		if c[i] == close {
			return nil
		}
		if c[i] != ',' {
			break
		}
		i = skipSpace(c, i+1)
	}
	return malformed(what)
}

// fields collects the members of the JSON object obj by key (the last of
// duplicate keys wins, as in encoding/json).
func fields(obj []byte) (map[string][]byte, *Error) {
	m := make(map[string][]byte, 8)
	err := members(obj, func(k string, v []byte) *Error {
		m[k] = v
		return nil
	})
	return m, err
}

// elements calls f with each element of the JSON array arr, trimmed, and its
// index; it stops at f's first error.
func elements(arr []byte, f func(i int, val []byte) *Error) *Error {
	arr = trimSpace(arr)
	return items(arr, '[', ']', "array", func(n, i int) (int, *Error) {
		end := valueEnd(arr, i)
		if end <= i {
			return 0, malformed("array")
		}
		return end, f(n, arr[i:end])
	})
}

// countElements returns the number of elements of the JSON array arr.
func countElements(arr []byte) int {
	n := 0
	_ = elements(arr, func(int, []byte) *Error { n++; return nil })
	return n
}

// unquote decodes the JSON string raw (quotes included).
func unquote(raw []byte) (string, *Error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", malformed("string")
	}
	body := raw[1 : len(raw)-1]
	plain := true
	for _, c := range body {
		if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(body), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed("string")
	}
	return s, nil
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
