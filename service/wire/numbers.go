package wire

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/crunchsvc/crunch/service/tensor"
)

// numberType is the dtype of the numbers a dt tensor's "data" is written
// in: a complex value is two, re and im, of its parts' type (f32 for c64,
// f64 for c128); any other value is one of its own type.
func numberType(dt tensor.DType) tensor.DType {
	switch dt {
	case tensor.C64:
		return tensor.F32
	case tensor.C128:
		return tensor.F64
	}
	return dt
}

// asNumbers returns t as the vector of numberType(t.DType) numbers its
// "data" holds, sharing its memory: t itself unless it is complex.
func asNumbers(t *tensor.Tensor) *tensor.Tensor {
	if !t.DType.IsComplex() {
		return t
	}
	nt := numberType(t.DType)
	return &tensor.Tensor{DType: nt, Shape: []int{len(t.Data) / nt.Size()}, Data: t.Data}
}

// intStatus says why a JSON number is not an acceptable integer.
type intStatus uint8

const (
	intOK       intStatus = iota
	intFraction           // not an exact integer (1.5, 1e-3)
	intRange              // an integer outside int64
	intSyntax             // not a JSON number
)

// parseInt parses a JSON number that must denote an exact integer within
// int64. The value counts, not the spelling: 1000, 1e3, 1.0e3 and 1000.0 are
// all 1000, while 1.5 and 1e30 are refused. It never allocates.
func parseInt(tok []byte) (int64, intStatus) {
	s := tok
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) > 0 && len(s) <= 18 {
		var v int64
		plain := true
		for _, c := range s {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if plain {
			if neg {
				v = -v
			}
			return v, intOK
		}
	}
	return parseIntExact(tok)
}

// parseIntExact is parseInt's general path, for long numbers and those with a
// fraction or an exponent.
func parseIntExact(tok []byte) (int64, intStatus) {
	i := 0
	neg := i < len(tok) && tok[i] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(tok) && isDigit(tok[i]) {
		i++
	}
	ip := tok[start:i]
	var fp []byte
	if i < len(tok) && tok[i] == '.' {
		i++
		start = i
		for i < len(tok) && isDigit(tok[i]) {
			i++
		}
		fp = tok[start:i]
		if len(fp) == 0 {
			return 0, intSyntax
		}
	}
	exp := 0
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		eneg := false
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			eneg = tok[i] == '-'
			i++
		}
		if i == len(tok) {
			return 0, intSyntax
		}
		for ; i < len(tok); i++ {
			if !isDigit(tok[i]) {
				return 0, intSyntax
			}
			if exp < 1<<20 { // clamped: anything this large is out of range anyway
				exp = exp*10 + int(tok[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(tok) || len(ip) == 0 {
		return 0, intSyntax
	}
	// The significand's digits are ip followed by fp; strip the zeros at
	// both ends, then the value is digits[lo:hi] × 10^e.
	n := len(ip) + len(fp)
	digit := func(k int) byte {
		if k < len(ip) {
			return ip[k]
		}
		return fp[k-len(ip)]
	}
	lo, hi := 0, n
	for lo < hi && digit(lo) == '0' {
		lo++
	}
	for hi > lo && digit(hi-1) == '0' {
		hi--
	}
	if lo == hi {
		return 0, intOK
	}
	e := exp - len(fp) + (n - hi)
	if e < 0 {
		return 0, intFraction
	}
	if hi-lo+e > 19 {
		return 0, intRange
	}
	var u uint64
	for k := lo; k < hi; k++ {
		u = u*10 + uint64(digit(k)-'0')
	}
	for ; e > 0; e-- {
		if u > math.MaxUint64/10 {
			return 0, intRange
		}
		u *= 10
	}
	if neg {
		if u > 1<<63 {
			return 0, intRange
		}
		return -int64(u), intOK
	}
	if u > math.MaxInt64 {
		return 0, intRange
	}
	return int64(u), intOK
}

// parseFloat parses a JSON number as a float of the given bit size. ok is
// false if it overflows to ±Inf (values that underflow round to zero).
func parseFloat(tok []byte, bitSize int) (float64, bool) {
	if len(tok) == 0 {
		return 0, false
	}
	// The string is only read during the call; the error, which would
	// keep it, is dropped.
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), bitSize)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// appendFloat appends v as a JSON number, the shortest decimal that reads
// back as the same float of the given bit size. v must be finite.
func appendFloat(b []byte, v float64, bitSize int) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, bitSize)
}

// isFinite reports whether v is neither NaN nor ±Inf.
func isFinite(v float64) bool { return v-v == 0 }

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numberEnd returns the index just past the JSON number that starts at b[i].
func numberEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		if c := b[i]; !isDigit(c) && c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+' {
			break
		}
	}
	return i
}

// isNumberStart reports whether c can start a JSON number.
func isNumberStart(c byte) bool { return c == '-' || isDigit(c) }

// quoteToken returns tok for an error message, shortened if long.
func quoteToken(tok []byte) string {
	const max = 40
	if len(tok) > max {
		return string(tok[:max]) + "…"
	}
	return string(tok)
}
