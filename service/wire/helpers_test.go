package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

// wantInvalid checks that err is an invalid_argument *Error whose message
// contains every one of parts.
func wantInvalid(t *testing.T, err error, parts ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *Error", err, err)
	}
	if e.Code != InvalidArgument {
		t.Errorf("code = %q, want invalid_argument (%s)", e.Code, e.Message)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("message %q does not mention %q", e.Message, p)
		}
	}
}

// frame builds a binary message by hand: the preamble, header, and each of
// data's buffers at its offset, in a message of total bytes.
func frame(header string, total int, data map[int][]byte) []byte {
	total = max(total, 8+len(header))
	for off, b := range data {
		total = max(total, off+len(b))
	}
	msg := tensor.AlignedBytes(total)
	copy(msg, "CRN1")
	binary.LittleEndian.PutUint32(msg[4:], uint32(len(header)))
	copy(msg[8:], header)
	for off, b := range data {
		copy(msg[off:], b)
	}
	return msg
}

// randomTensor returns a tensor of dt and shape with random finite values
// of all magnitudes and signs the dtype holds.
func randomTensor(rng *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	x, err := tensor.New(dt, shape...)
	if err != nil {
		panic(err)
	}
	f := func() float64 {
		switch rng.IntN(4) {
		case 0:
			return float64(rng.IntN(2001) - 1000)
		case 1:
			return rng.NormFloat64()
		case 2:
			return math.Ldexp(rng.Float64()-0.5, rng.IntN(200)-100)
		}
		return math.Copysign(0, -1)
	}
	flat := asNumbers(x) // a complex tensor's re, im parts
	switch flat.DType {
	case tensor.F32:
		for i := range flat.Float32() {
			flat.Float32()[i] = float32(f())
		}
	case tensor.F64:
		for i := range flat.Float64() {
			flat.Float64()[i] = f()
		}
	default: // an integer dtype: every bit pattern is a value
		for i := range x.Data {
			x.Data[i] = byte(rng.Uint32())
		}
	}
	return x
}

// shapes are the shapes every dtype is tested with.
var shapes = [][]int{{}, {0}, {1}, {3, 0}, {2, 3}, {1000}}

// scalars are JSON scalar values of every kind.
var scalars = Args{
	"i0":   Int(0),
	"ineg": Int(-5),
	"imax": Int(math.MaxInt64),
	"imin": Int(math.MinInt64),
	"f":    Float(0.1),
	"fbig": Float(-1e300),
	"ftin": Float(5e-324),
	"t":    Bool(true),
	"no":   Bool(false),
	"s":    String("héllo \"q\" \\ \n\t\x01 <&> \u2028"),
	"e":    String(""),
	"null": Null(),
}

// roundTripRequest encodes req in both forms and checks each decodes to it.
func roundTripRequest(t *testing.T, req *Request) {
	t.Helper()
	for _, bin := range []bool{false, true} {
		msg, err := EncodeRequest(req, bin)
		if err != nil {
			t.Fatalf("EncodeRequest(binary=%v): %v", bin, err)
		}
		got, err := DecodeRequest(bin, msg)
		if err != nil {
			t.Fatalf("DecodeRequest(binary=%v): %v\n%.300s", bin, err, msg)
		}
		if !got.Equal(req) || got.Binary != bin {
			t.Fatalf("binary=%v: decoded %+v, want %+v", bin, got, req)
		}
	}
}
