package executor

import (
	"context"
	"sync/atomic"
	"time"
)

// Direct runs each job in the goroutine that calls Run. It has the least
// overhead, but a goroutine blocked in C holds an OS thread at normal
// priority, competing with the goroutines that serve sockets: without a cap
// every concurrent heavy request costs a thread (the Go runtime dies at
// 10,000) and a share of the CPU the sockets need. Max bounds the calls
// running at once; beyond it Run waits for a slot, holding a goroutine but
// no thread, until the job's context ends.
type Direct struct {
	slots   chan struct{} // a token per running call; nil: no cap
	max     int
	running atomic.Int64
	waiting atomic.Int64
	closed  atomic.Bool
	avgRun  ewma
}

// NewDirect returns a Direct executor allowing max concurrent calls (0: no
// cap).
func NewDirect(max int) *Direct {
	d := &Direct{max: max}
	if max > 0 {
		d.slots = make(chan struct{}, max)
	}
	return d
}

// Name returns "direct".
func (d *Direct) Name() string { return NameDirect }

// Run runs job in this goroutine, once a slot is free.
func (d *Direct) Run(ctx context.Context, job *Job) (*Outcome, error) {
	defer job.release()
	if d.closed.Load() {
		return nil, ErrClosed
	}
	queued := time.Now()
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	d.running.Add(1)
	defer d.running.Add(-1)
	start := time.Now()
	res, err := runHere(ctx, job)
	took := time.Since(start)
	d.avgRun.add(took)
	if err != nil {
		return nil, err
	}
	return &Outcome{Result: res, QueueUS: micros(start.Sub(queued)), RunUS: micros(took)}, nil
}

// acquire takes a slot, waiting for one until ctx ends.
func (d *Direct) acquire(ctx context.Context) error {
	if d.slots == nil {
		return nil
	}
	select {
	case d.slots <- struct{}{}:
		return nil
	default:
	}
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	select {
	case d.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return StopReason(ctx)
	}
}

// release gives a slot back.
func (d *Direct) release() {
	if d.slots != nil {
		<-d.slots
	}
}

// Load reports the calls running now and those waiting for a slot.
func (d *Direct) Load() Load {
	return Load{Slots: d.max, Busy: int(d.running.Load()), Queued: int(d.waiting.Load())}
}

// Close refuses new calls; calls already running or waiting end on their
// own.
func (d *Direct) Close() error {
	d.closed.Store(true)
	return nil
}
