package wire

import "time"

// ClampMS converts a millisecond count from the other side of the
// connection (a request's timeout_ms, a reply's retry_after_ms) to a
// duration of at most limit, and 0 for a count ≤ 0. The comparison is
// made in milliseconds, before multiplying, so that no count overflows
// time.Duration (ms × 10^6 wraps past about 9.2·10^12 ms, to a negative or
// tiny duration): every such number becomes a duration through here.
func ClampMS(ms int64, limit time.Duration) time.Duration {
	if ms <= 0 {
		return 0
	}
	if ms >= limit.Milliseconds() {
		return limit
	}
	return time.Duration(ms) * time.Millisecond
}
