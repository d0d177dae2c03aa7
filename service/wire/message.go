package wire

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// MaxID is the largest request id, 2^53−1: the largest integer every JSON
// implementation (JavaScript's included) holds exactly.
const MaxID = 1<<53 - 1

// message is the top level of a decoded message: its fields and a decoder
// for its values.
type message struct {
	fields map[string][]byte
	dec    *decoder
	end    int // binary: where the header ends (8+H)
}

// parseMessage checks a message's form and splits its top-level object into
// fields. Binary buffers are read later, by buffers, so that a message whose
// id can be read gets an addressed error reply.
func parseMessage(binary bool, msg []byte) (*message, *Error) {
	form, obj := "text message", msg
	m := &message{dec: &decoder{binary: binary, msg: msg}}
	if binary {
		h, err := splitFrame(msg)
		if err != nil {
			return nil, err
		}
		form, obj = "binary message: header", h
		m.end = preambleLen + len(h)
	}
	if !json.Valid(obj) {
		return nil, invalid("%s: not valid JSON: %s", form, syntaxError(obj))
	}
	obj = trimSpace(obj)
	if obj[0] != '{' {
		return nil, invalid("%s must be a JSON object, got %s", form, describe(obj))
	}
	f, err := fields(obj)
	if err != nil {
		return nil, within(form, err)
	}
	m.fields = f
	return m, nil
}

// openMessage is parseMessage of a message whose tensors in shared memory
// lie in shm, followed by its id, at least min.
func openMessage(binary bool, msg []byte, shm ShmSlicer, min int64) (*message, int64, *Error) {
	m, err := parseMessage(binary, msg)
	if err != nil {
		return nil, 0, err
	}
	m.dec.shm = shm
	id, err := m.id(min)
	return m, id, err
}

// syntaxError describes why raw is not valid JSON.
func syntaxError(raw []byte) string {
	// Unmarshal checks the whole input before decoding anything, so this
	// costs no more than json.Valid did.
	err := json.Unmarshal(raw, new(struct{}))
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " (at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// buffers reads a binary message's "buffers" list into its decoder.
func (m *message) buffers() *Error {
	if !m.dec.binary {
		return nil
	}
	spans, err := parseBuffers(m.fields["buffers"], len(m.dec.msg), m.end)
	m.dec.bufs = spans
	return err
}

// id reads the "id" field, an integer from min to MaxID.
func (m *message) id(min int64) (int64, *Error) {
	raw, ok := m.fields["id"]
	if !ok || isNull(raw) {
		return 0, invalid(`"id" is missing: every request needs an integer id from 1 to 2^53-1`)
	}
	if !isNumberStart(raw[0]) {
		return 0, invalid(`"id" must be an integer from %d to 2^53-1, got %s`, min, describe(raw))
	}
	id, st := parseInt(raw)
	if st != intOK || id < min || id > MaxID {
		return 0, invalid(`"id" must be an integer from %d to 2^53-1, got %s`, min, quoteToken(raw))
	}
	return id, nil
}

// string reads an optional string field; "" when absent or null. If choices
// are given, the value must be one of them.
func (m *message) string(name string, choices ...string) (string, *Error) {
	raw := m.fields[name]
	if isNull(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", invalid("%q must be a string, got %s", name, describe(raw))
	}
	s, err := unquote(raw)
	if err != nil {
		return "", within(strconv.Quote(name), err)
	}
	if err := oneOf(name, s, choices); err != nil {
		return "", err
	}
	return s, nil
}

// oneOf checks that s is one of choices, if there are any ("" always is).
func oneOf(name, s string, choices []string) *Error {
	if len(choices) == 0 || s == "" || slices.Contains(choices, s) {
		return nil
	}
	return invalid("%q must be one of %s; got %q", name, strings.Join(choices, ", "), s)
}

// bool reads an optional boolean field; false when absent or null.
func (m *message) bool(name string) (bool, *Error) {
	raw := m.fields[name]
	switch {
	case isNull(raw):
		return false, nil
	case string(raw) == "true":
		return true, nil
	case string(raw) == "false":
		return false, nil
	}
	return false, invalid("%q must be true or false, got %s", name, describe(raw))
}

// int reads an optional non-negative integer field; 0 when absent or null.
func (m *message) int(name, unit string) (int64, *Error) {
	raw := m.fields[name]
	if isNull(raw) {
		return 0, nil
	}
	if !isNumberStart(raw[0]) {
		return 0, invalid("%q must be a non-negative integer (%s), got %s", name, unit, describe(raw))
	}
	n, st := parseInt(raw)
	if st != intOK || n < 0 {
		return 0, invalid("%q must be a non-negative integer (%s), got %s", name, unit, quoteToken(raw))
	}
	return n, nil
}

// float reads a number field.
func (m *message) float(name string) (float64, *Error) {
	raw := m.fields[name]
	if isNull(raw) || !isNumberStart(raw[0]) {
		return 0, invalid("%q must be a number, got %s", name, describe(raw))
	}
	f, ok := parseFloat(raw, 64)
	if !ok {
		return 0, invalid("%q is out of range: %s", name, quoteToken(raw))
	}
	return f, nil
}

// openObject starts an encoded message: `{"id":N`.
func openObject(id int64) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	return strconv.AppendInt(b, id, 10)
}
