package server

import "time"

// clampMS converts a client's millisecond count to a duration of at most
// limit. The comparison is made in milliseconds, before multiplying, so
// that no count a client can send overflows time.Duration (ms × 10^6
// overflows past about 9.2·10^12 ms): every number a client sends that
// becomes a duration goes through here.
func clampMS(ms int64, limit time.Duration) time.Duration {
	if ms <= 0 {
		return 0
	}
	if ms >= limit.Milliseconds() {
		return limit
	}
	return time.Duration(ms) * time.Millisecond
}
