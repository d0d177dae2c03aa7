package wire

import (
	"math"
	"testing"
)

func TestParseInt(t *testing.T) {
	for _, c := range []struct {
		s  string
		v  int64
		st intStatus
	}{
		{"0", 0, intOK}, {"-0", 0, intOK}, {"7", 7, intOK}, {"-7", -7, intOK},
		{"1e3", 1000, intOK}, {"1E+3", 1000, intOK}, {"1000.0", 1000, intOK}, {"1.5e1", 15, intOK},
		{"150e-1", 15, intOK}, {"0.0e5", 0, intOK}, {"0e-999999999999", 0, intOK}, {"10e-1", 1, intOK},
		{"123456789012345678", 123456789012345678, intOK},
		{"9223372036854775807", math.MaxInt64, intOK},
		{"-9223372036854775808", math.MinInt64, intOK},
		{"9.223372036854775807e18", math.MaxInt64, intOK},
		{"9223372036854775808", 0, intRange},
		{"-9223372036854775809", 0, intRange},
		{"1e19", 0, intRange}, {"1e30", 0, intRange}, {"1e99999999999999999999", 0, intRange},
		{"18446744073709551616", 0, intRange}, {"99999999999999999999", 0, intRange},
		{"1.5", 0, intFraction}, {"1e-1", 0, intFraction}, {"0.1", 0, intFraction},
		{"1e-99999999999999999999", 0, intFraction}, {"-0.5", 0, intFraction},
		{"", 0, intSyntax}, {"-", 0, intSyntax}, {"1.", 0, intSyntax}, {"1e", 0, intSyntax},
		{"1e+", 0, intSyntax}, {".5", 0, intSyntax}, {"1x", 0, intSyntax}, {"0x10", 0, intSyntax},
	} {
		v, st := parseInt([]byte(c.s))
		if v != c.v || st != c.st {
			t.Errorf("parseInt(%q) = %d, %d; want %d, %d", c.s, v, st, c.v, c.st)
		}
	}
}

func TestParseFloat(t *testing.T) {
	for _, c := range []struct {
		s    string
		bits int
		v    float64
		ok   bool
	}{
		{"0.1", 64, 0.1, true}, {"-0", 64, math.Copysign(0, -1), true}, {"1e-400", 64, 0, true},
		{"1e308", 64, 1e308, true}, {"1e309", 64, 0, false}, {"-1e400", 64, 0, false},
		{"3.4e38", 32, float64(float32(3.4e38)), true}, {"1e39", 32, 0, false}, {"", 64, 0, false},
	} {
		v, ok := parseFloat([]byte(c.s), c.bits)
		if ok != c.ok || ok && math.Float64bits(v) != math.Float64bits(c.v) {
			t.Errorf("parseFloat(%q, %d) = %v, %v; want %v, %v", c.s, c.bits, v, ok, c.v, c.ok)
		}
	}
}

func TestAppendFloatRoundTrips(t *testing.T) {
	for _, v := range []float64{0.1, 1e21, 1e-7, 5e-324, math.MaxFloat64, -123.456, 1 << 53} {
		got, ok := parseFloat(appendFloat(nil, v, 64), 64)
		if !ok || got != v {
			t.Errorf("%v -> %s -> %v", v, appendFloat(nil, v, 64), got)
		}
	}
	for _, v := range []float32{0.1, 1e-45, math.MaxFloat32, 16777217} {
		got, ok := parseFloat(appendFloat(nil, float64(v), 32), 32)
		if !ok || float32(got) != v {
			t.Errorf("f32 %v -> %s -> %v", v, appendFloat(nil, float64(v), 32), got)
		}
	}
}
