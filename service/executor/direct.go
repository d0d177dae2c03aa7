package executor

import (
	"context"
	"sync/atomic"
	"time"
)

// Direct runs each job in the goroutine that calls Run. It has the least
// overhead, but a goroutine blocked in C holds an OS thread, so without a
// cap every concurrent heavy request costs a thread (the Go runtime dies at
// 10,000). Max bounds the calls running at once; beyond it Run answers
// overloaded at once.
type Direct struct {
	max     int64
	running atomic.Int64
	closed  atomic.Bool
	avgRun  ewma
}

// NewDirect returns a Direct executor allowing max concurrent calls (0: no
// cap).
func NewDirect(max int) *Direct {
	return &Direct{max: int64(max)}
}

// Name returns "direct".
func (d *Direct) Name() string { return NameDirect }

// Run runs job now, in this goroutine.
func (d *Direct) Run(ctx context.Context, job *Job) (*Outcome, error) {
	defer job.release()
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if n := d.running.Add(1); d.max > 0 && n > d.max {
		d.running.Add(-1)
		return nil, overloaded(d.avgRun.get(), "direct: %d calls already running (--direct-max)", d.max)
	}
	defer d.running.Add(-1)
	start := time.Now()
	res, err := runHere(ctx, job)
	took := time.Since(start)
	d.avgRun.add(took)
	if err != nil {
		return nil, err
	}
	return &Outcome{Result: res, RunUS: micros(took)}, nil
}

// Load reports the calls running now.
func (d *Direct) Load() Load {
	return Load{Slots: int(d.max), Busy: int(d.running.Load())}
}

// Close refuses new calls; calls already running end on their own.
func (d *Direct) Close() error {
	d.closed.Store(true)
	return nil
}
