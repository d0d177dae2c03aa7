package wire

import (
	"bytes"
	"math"
	"strconv"

	"github.com/crunchsvc/crunch/service/tensor"
)

// span is one binary buffer: its offset in the message and its length.
type span struct{ off, n int }

// decoder turns the values of one message (arguments or results) into
// Values. In a binary message, tensors name buffers of msg.
type decoder struct {
	binary bool
	msg    []byte
	bufs   []span
	// structured keeps a JSON object without "dtype", or an array that is
	// not a numeric nested array, as raw JSON: results may hold such values.
	structured bool
	// shm resolves tensors placed in shared memory; nil on a connection
	// without it, where they are refused.
	shm ShmSlicer
}

// values decodes field, an object of named values ("args" or "result"); an
// absent or null field is an empty map. noun ("argument" or "result") names a
// value in error messages.
func (d *decoder) values(field, noun string, raw []byte) (map[string]Value, *Error) {
	m := make(map[string]Value)
	if isNull(raw) {
		return m, nil
	}
	raw = trimSpace(raw)
	if raw[0] != '{' {
		return nil, invalid("%q must be an object of named values, got %s", field, describe(raw))
	}
	err := members(raw, func(k string, v []byte) *Error {
		val, err := d.value(v)
		if err != nil {
			return within(noun+" "+strconv.Quote(k), err)
		}
		m[k] = val
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// value decodes one value: a tensor object, a bare nested array (an f64
// tensor) or a JSON scalar.
func (d *decoder) value(raw []byte) (Value, *Error) {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return Value{}, malformed("value")
	}
	switch raw[0] {
	case '{':
		if d.structured && !hasKey(raw, "dtype") {
			return Value{JSON: bytes.Clone(raw)}, nil
		}
		t, ref, err := d.tensor(raw)
		return Value{Tensor: t, Shm: ref}, err
	case '[':
		t, err := parseNested(raw)
		if err != nil && d.structured {
			return Value{JSON: bytes.Clone(raw)}, nil
		}
		return Value{Tensor: t}, err
	}
	return Value{JSON: bytes.Clone(raw)}, nil
}

// tensor decodes a tensor object: {"dtype", "shape", and "data", "buffer"
// or "shm"}. Other members are ignored. ref is set for a tensor in shared
// memory.
func (d *decoder) tensor(obj []byte) (*tensor.Tensor, *ShmRef, *Error) {
	var dtRaw, shapeRaw, dataRaw, bufRaw, shmRaw []byte
	err := members(obj, func(k string, v []byte) *Error {
		switch k {
		case "dtype":
			dtRaw = v
		case "shape":
			shapeRaw = v
		case "data":
			dataRaw = v
		case "buffer":
			bufRaw = v
		case "shm":
			shmRaw = v
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if isNull(dtRaw) {
		return nil, nil, invalid(`an object value must be a tensor {"dtype", "shape", "data" or "buffer"}, but "dtype" is missing`)
	}
	if dtRaw[0] != '"' {
		return nil, nil, invalid(`"dtype" must be a string, got %s`, describe(dtRaw))
	}
	name, err := unquote(dtRaw)
	if err != nil {
		return nil, nil, err
	}
	dt, perr := tensor.ParseDType(name)
	if perr != nil {
		return nil, nil, invalid("%v", perr)
	}
	if isNull(shapeRaw) {
		return nil, nil, invalid(`tensor has no "shape" (a scalar's shape is [])`)
	}
	shape, err := parseShape(shapeRaw)
	if err != nil {
		return nil, nil, err
	}
	nbytes, serr := tensor.ByteSize(dt, shape)
	if serr != nil {
		return nil, nil, invalid("%v", serr)
	}
	hasData, hasBuf, hasShm := !isNull(dataRaw), !isNull(bufRaw), !isNull(shmRaw)
	switch {
	case hasShm && (hasData || hasBuf):
		return nil, nil, invalid(`tensor has "shm" and also "data" or "buffer"; give one`)
	case hasShm:
		return d.fromShm(dt, shape, nbytes, trimSpace(shmRaw))
	case hasData && hasBuf:
		return nil, nil, invalid(`tensor has both "data" and "buffer"; give one`)
	case hasBuf && !d.binary:
		return nil, nil, invalid(`tensor names a "buffer" in a text message, which has no buffers: send the numbers in "data", or send a binary message`)
	case hasBuf:
		t, err := d.fromBuffer(dt, shape, nbytes, trimSpace(bufRaw))
		return t, nil, err
	case hasData:
		data, err := parseData(dt, shape, nbytes, trimSpace(dataRaw))
		if err != nil {
			return nil, nil, err
		}
		return &tensor.Tensor{DType: dt, Shape: shape, Data: data}, nil, nil
	case d.binary:
		return nil, nil, invalid(`tensor has neither "buffer" nor "data"`)
	}
	return nil, nil, invalid(`tensor has no "data"`)
}

// fromBuffer returns the tensor whose data is the buffer named by raw. Its
// Data aliases the message when aligned for dt, else it is an aligned copy.
func (d *decoder) fromBuffer(dt tensor.DType, shape []int, nbytes int, raw []byte) (*tensor.Tensor, *Error) {
	if !isNumberStart(raw[0]) {
		return nil, invalid(`"buffer" must be an index into "buffers", got %s`, describe(raw))
	}
	idx, st := parseInt(raw)
	if st != intOK {
		return nil, invalid(`"buffer" must be an integer index into "buffers", got %s`, quoteToken(raw))
	}
	if idx < 0 || idx >= int64(len(d.bufs)) {
		return nil, invalid(`buffer index %d is out of range: "buffers" lists %d`, idx, len(d.bufs))
	}
	sp := d.bufs[idx]
	if sp.n != nbytes {
		return nil, invalid("buffer %d holds %d bytes, but a %s tensor of shape %s needs %d",
			idx, sp.n, dt, tensor.FormatShape(shape), nbytes)
	}
	data := d.msg[sp.off : sp.off+sp.n : sp.off+sp.n]
	return &tensor.Tensor{DType: dt, Shape: shape, Data: tensor.Aligned(data, dt.Align())}, nil
}

// parseShape decodes a shape: a list of at most tensor.MaxDims non-negative
// integers.
func parseShape(raw []byte) ([]int, *Error) {
	raw = trimSpace(raw)
	if raw[0] != '[' {
		return nil, invalid(`"shape" must be a list of non-negative integers, got %s`, describe(raw))
	}
	shape := []int{}
	err := elements(raw, func(i int, v []byte) *Error {
		if i >= tensor.MaxDims {
			return invalid(`"shape" has more than %d dimensions`, tensor.MaxDims)
		}
		if !isNumberStart(v[0]) {
			return invalid(`"shape"[%d] must be a non-negative integer, got %s`, i, describe(v))
		}
		n, st := parseInt(v)
		switch {
		case st == intRange || (st == intOK && n > math.MaxInt):
			return invalid(`"shape"[%d] is %s: the shape's size overflows`, i, quoteToken(v))
		case st != intOK:
			return invalid(`"shape"[%d] must be a non-negative integer, got %s`, i, quoteToken(v))
		case n < 0:
			return invalid(`"shape"[%d] is %d: dimensions must not be negative`, i, n)
		}
		shape = append(shape, int(n))
		return nil
	})
	return shape, err
}

// parseData decodes a text tensor's "data": a flat JSON array of numbers,
// complex ones as re, im pairs, into new aligned memory of nbytes.
func parseData(dt tensor.DType, shape []int, nbytes int, raw []byte) ([]byte, *Error) {
	if raw[0] != '[' {
		return nil, invalid(`"data" must be a flat list of numbers, got %s`, describe(raw))
	}
	comp := numberType(dt) // the type of one number of data
	n, want := nbytes/dt.Size(), nbytes/comp.Size()
	mismatch := func(got int) *Error {
		if dt.IsComplex() {
			return invalid(`"data" has length %d, but shape %s needs %d (%d complex values as re, im pairs)`,
				got, tensor.FormatShape(shape), want, n)
		}
		return invalid(`"data" has length %d, but shape %s needs %d`, got, tensor.FormatShape(shape), want)
	}
	// k numbers take at least 2k+1 bytes: check before allocating.
	if want > (len(raw)-1)/2 {
		if got := countElements(raw); got != want {
			return nil, mismatch(got)
		}
	}
	out := tensor.AlignedBytes(nbytes)
	flat := &tensor.Tensor{DType: comp, Shape: []int{want}, Data: out}
	var k int
	var err *Error
	switch comp {
	case tensor.F64:
		k, err = parseNumbers(raw, flat.Float64(), dt)
	case tensor.F32:
		k, err = parseNumbers(raw, flat.Float32(), dt)
	case tensor.U8:
		k, err = parseNumbers(raw, flat.Uint8(), dt)
	case tensor.U16:
		k, err = parseNumbers(raw, flat.Uint16(), dt)
	case tensor.U32:
		k, err = parseNumbers(raw, flat.Uint32(), dt)
	case tensor.I32:
		k, err = parseNumbers(raw, flat.Int32(), dt)
	case tensor.I64:
		k, err = parseNumbers(raw, flat.Int64(), dt)
	}
	switch {
	case err != nil:
		return nil, err
	case k > want:
		return nil, mismatch(countElements(raw))
	case k < want:
		return nil, mismatch(k)
	}
	return out, nil
}

// parseNumbers reads the flat JSON array of numbers raw into dst, the
// numbers of a dt tensor (see numberType), and returns how many it read:
// len(dst)+1 when raw holds more than dst takes. An error names a number
// that is not one of dt's.
func parseNumbers[T uint8 | uint16 | uint32 | int32 | int64 | float32 | float64](raw []byte, dst []T, dt tensor.DType) (int, *Error) {
	comp := numberType(dt)
	isFloat, bits := comp.IsFloat(), 8*comp.Size()
	k := 0
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		i = len(raw)
	}
	for i < len(raw) {
		if !isNumberStart(raw[i]) {
			return k, invalid(`"data"[%d] is %s, not a number`, k, describe(raw[i:valueEnd(raw, i)]))
		}
		j := numberEnd(raw, i)
		tok := raw[i:j]
		if k >= len(dst) {
			return k + 1, nil
		}
		if isFloat {
			v, ok := parseFloat(tok, bits)
			if !ok {
				return k, invalid(`"data"[%d] is %s, out of range for %s`, k, quoteToken(tok), dt)
			}
			dst[k] = T(v)
		} else {
			v, st := parseInt(tok)
			if st == intOK && !inRange(comp, v) {
				st = intRange
			}
			switch st {
			case intFraction:
				return k, invalid(`"data"[%d] is %s, not an integer as %s requires`, k, quoteToken(tok), dt)
			case intRange:
				return k, invalid(`"data"[%d] is %s, out of range for %s`, k, quoteToken(tok), dt)
			case intSyntax:
				return k, invalid(`"data"[%d] is %s, not a number`, k, quoteToken(tok))
			}
			dst[k] = T(v)
		}
		k++
		i = skipSpace(raw, j)
		if i >= len(raw) {
			return k, malformed(`"data"`)
		}
		if raw[i] == ']' {
			break
		}
		if raw[i] != ',' {
			return k, malformed(`"data"`)
		}
		i = skipSpace(raw, i+1)
	}
	return k, nil
}

// inRange reports whether v is a value of the integer dtype dt.
func inRange(dt tensor.DType, v int64) bool {
	switch dt {
	case tensor.U8:
		return v >= 0 && v <= math.MaxUint8
	case tensor.U16:
		return v >= 0 && v <= math.MaxUint16
	case tensor.U32:
		return v >= 0 && v <= math.MaxUint32
	case tensor.I32:
		return v >= math.MinInt32 && v <= math.MaxInt32
	}
	return true
}

// nested infers the shape of a bare nested array: every array at one depth
// must have the same length, and hold only arrays or only numbers.
type nested struct {
	ndim int
	dims [tensor.MaxDims]int
	set  [tensor.MaxDims]bool
	kind [tensor.MaxDims]byte // what arrays at this depth hold: 0 unknown, 'a' arrays, 'n' numbers
	path [tensor.MaxDims]int  // the indices leading to the element being read
	vals []float64
}

// parseNested decodes a bare nested JSON array of numbers as an f64 tensor
// with the shape it has: [[1, 2], [3, 4]] is [2,2], [] is [0].
func parseNested(arr []byte) (*tensor.Tensor, *Error) {
	s := new(nested)
	if _, err := s.walk(arr, 0, 0); err != nil {
		return nil, err
	}
	shape := append([]int{}, s.dims[:s.ndim]...)
	t, err := tensor.New(tensor.F64, shape...)
	if err != nil || t.Len() != len(s.vals) {
		return nil, invalid("nested array: inconsistent shape %s", tensor.FormatShape(shape))
	}
	copy(t.Float64(), s.vals)
	return t, nil
}

// walk reads the array that starts at b[i], at depth level, in one pass, and
// returns the index just past it.
func (s *nested) walk(b []byte, i, level int) (int, *Error) {
	if level >= tensor.MaxDims {
		return 0, invalid("nested array is more than %d levels deep", tensor.MaxDims)
	}
	s.ndim = max(s.ndim, level+1)
	count := 0
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			if i >= len(b) {
				return 0, malformed("nested array")
			}
			s.path[level] = count
			switch c := b[i]; {
			case c == '[':
				if s.kind[level] == 'n' {
					return 0, invalid("ragged nested array: element %s is an array where others are numbers", s.where(level+1))
				}
				s.kind[level] = 'a'
				end, err := s.walk(b, i, level+1)
				if err != nil {
					return 0, err
				}
				i = end
			case isNumberStart(c):
				if s.kind[level] == 'a' {
					return 0, invalid("ragged nested array: element %s is a number where others are arrays", s.where(level+1))
				}
				s.kind[level] = 'n'
				end := numberEnd(b, i)
				f, ok := parseFloat(b[i:end], 64)
				if !ok {
					return 0, invalid("nested array element %s is %s, out of range for f64", s.where(level+1), quoteToken(b[i:end]))
				}
				s.vals = append(s.vals, f)
				i = end
			default:
				return 0, invalid("nested array element %s is %s, not a number", s.where(level+1), describe(b[i:valueEnd(b, i)]))
			}
			count++
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			return 0, malformed("nested array")
		}
	}
	if !s.set[level] {
		s.set[level], s.dims[level] = true, count
	} else if s.dims[level] != count {
		return 0, invalid("ragged nested array: element %s has %d items where others have %d", s.where(level), count, s.dims[level])
	}
	return i, nil
}

// where formats the path of the first depth indices, e.g. "[1][0]".
func (s *nested) where(depth int) string {
	if depth == 0 {
		return "[]"
	}
	var b []byte
	for _, i := range s.path[:depth] {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ']')
	}
	return string(b)
}

// hasKey reports whether the JSON object obj has the member key.
func hasKey(obj []byte, key string) bool {
	found := false
	members(obj, func(k string, _ []byte) *Error {
		found = found || k == key
		return nil
	})
	return found
}
