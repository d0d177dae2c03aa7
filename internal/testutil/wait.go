// Package testutil holds what the tests of several packages share: waiting
// for the state a test needs (a job running, a connection closed, a metric
// updated) instead of sleeping for a time a loaded machine may not honour.
package testutil

import (
	"testing"
	"time"
)

// Poll checks cond at once and then again and again, 1 ms apart at first
// and at most 50 ms apart later, until it holds or timeout has passed. It
// reports whether cond held. It may be called from any goroutine.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(pause, left))
	}
}

// WaitFor waits as Poll does and fails the test at once if cond does not
// hold within timeout, saying it waited for what. Like t.Fatal, it must be
// called from the test's own goroutine.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("waited %v for %s", timeout, what)
	}
}
