package executor

import (
	"sync/atomic"
	"time"
)

// ewma is a lock-free moving average of durations, for retry_after_ms
// hints. Concurrent updates may lose one another's sample; a hint does not
// need them all.
type ewma struct{ ns atomic.Int64 }

func (e *ewma) add(d time.Duration) {
	old := e.ns.Load()
	if old == 0 {
		e.ns.Store(int64(d))
		return
	}
	e.ns.Store(old + (int64(d)-old)/8) // weight 1/8: smooth, yet follows a change within tens of jobs
}

func (e *ewma) get() time.Duration { return time.Duration(e.ns.Load()) }
