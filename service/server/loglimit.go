package server

import (
	"sync"
	"time"
)

// logLimiter lets through at most burst log lines per window, so that a
// flood of bad requests cannot fill the disk; the next line let through
// says how many were held back.
type logLimiter struct {
	burst  int
	window time.Duration

	mu      sync.Mutex
	start   time.Time // of the current window
	n       int       // lines let through in it
	dropped int64     // lines held back since the last one let through
}

// allow tells whether a line may be logged at now, and how many were
// held back before it.
func (l *logLimiter) allow(now time.Time) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.dropped++
		return false, 0
	}
	l.n++
	d := l.dropped
	l.dropped = 0
	return true, d
}
