package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	if !Poll(10*time.Second, func() bool { return n.Load() == 3 }) {
		t.Fatal("Poll missed a condition that came true")
	}
	start := time.Now()
	if Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Poll gave up after %v, before its timeout of 30 ms", d)
	}
	calls := 0
	if !Poll(0, func() bool { calls++; return true }) || calls != 1 {
		t.Errorf("Poll with no time left: %d calls, want the one check", calls)
	}
}
