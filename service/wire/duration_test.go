package wire

import (
	"math"
	"testing"
	"time"
)

func TestClampMS(t *testing.T) {
	const limit = time.Hour
	for _, tc := range []struct {
		ms   int64
		want time.Duration
	}{
		{-5, 0}, {0, 0}, {1, time.Millisecond}, {1500, 1500 * time.Millisecond},
		{3_599_999, limit - time.Millisecond}, {3_600_000, limit}, {3_600_001, limit},
		{9223372036855, limit}, {18446744073710 / 2, limit}, {math.MaxInt64, limit},
	} {
		if got := ClampMS(tc.ms, limit); got != tc.want {
			t.Errorf("ClampMS(%d): %v, want %v", tc.ms, got, tc.want)
		}
	}
	// The largest limit: a count below it is itself.
	const most = math.MaxInt64/int64(time.Millisecond) - 1
	if got := ClampMS(most, time.Duration(math.MaxInt64)); got != time.Duration(most)*time.Millisecond {
		t.Errorf("largest count: %v", got)
	}
}
