package executor

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs jobs on a fixed set of worker goroutines, each locked to its
// own OS thread for the pool's whole life (a goroutine that exited while
// locked would take its thread down with it). Owning their threads is what
// later lets workers take a CPU affinity and a lower scheduling priority.
// A bounded queue gives backpressure: when it is full, Run answers
// overloaded at once instead of queueing without limit.
type Pool struct {
	tasks   chan *task
	quit    chan struct{}
	workers sync.WaitGroup
	size    int

	mu     sync.RWMutex // held for reading while enqueueing; Close takes it to stop enqueues
	closed bool

	busy   atomic.Int64
	avgRun ewma
}

// PoolConfig sizes a Pool.
type PoolConfig struct {
	Workers int // OS threads running kernels; <= 0: the CPUs this process may use
	Queue   int // jobs waiting beyond the running ones; <= 0: 64 per worker
}

// task is one job's trip through the pool. The worker that takes it
// closes done after setting out and err.
type task struct {
	ctx      context.Context
	job      *Job
	enqueued time.Time
	out      *Outcome
	err      error
	done     chan struct{}
}

// wait returns the task's result, or its context's reason as soon as the
// context ends: a caller is never held by a kernel that is still stopping.
func (t *task) wait() (*Outcome, error) {
	select {
	case <-t.done:
		return t.out, t.err
	case <-t.ctx.Done():
		return nil, stopReason(t.ctx)
	}
}

// NewPool starts a pool's workers.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64 * cfg.Workers
	}
	p := &Pool{tasks: make(chan *task, cfg.Queue), quit: make(chan struct{}), size: cfg.Workers}
	p.workers.Add(cfg.Workers)
	for range cfg.Workers {
		go p.work()
	}
	return p
}

// Name returns "pool".
func (p *Pool) Name() string { return NamePool }

// Run queues job and waits for its result or for ctx to end. A job whose
// context ends while it waits or runs is answered at once; its kernel is
// cancelled and its worker freed within about a millisecond.
func (p *Pool) Run(ctx context.Context, job *Job) (*Outcome, error) {
	t := &task{ctx: ctx, job: job, enqueued: time.Now(), done: make(chan struct{})}
	if err := p.enqueue(t); err != nil {
		return nil, err
	}
	return t.wait()
}

func (p *Pool) enqueue(t *task) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.tasks <- t:
		return nil
	default:
		// Everything queued must run before a retry can start: estimate
		// that from the recent average run time.
		wait := p.avgRun.get() * time.Duration(len(p.tasks)/p.size+1)
		return overloaded(wait, "pool: queue full (%d jobs waiting for %d workers)", len(p.tasks), p.size)
	}
}

// work is one worker: it locks its OS thread and runs tasks until Close.
func (p *Pool) work() {
	defer p.workers.Done()
	runtime.LockOSThread()
	// Never unlocked: the thread belongs to this worker until the pool
	// closes, and exiting while locked retires the thread with it.
	for {
		select {
		case <-p.quit:
			return
		case t := <-p.tasks:
			select {
			case <-p.quit: // select picks at random: never start work after Close
				t.err = ErrClosed
				close(t.done)
			default:
				p.runTask(t)
			}
		}
	}
}

func (p *Pool) runTask(t *task) {
	defer close(t.done)
	if t.ctx.Err() != nil { // abandoned while queued: its Run already answered
		t.err = stopReason(t.ctx)
		return
	}
	p.busy.Add(1)
	defer p.busy.Add(-1)
	start := time.Now()
	res, err := runHere(t.ctx, t.job)
	took := time.Since(start)
	p.avgRun.add(took)
	if err != nil {
		t.err = err
		return
	}
	t.out = &Outcome{Result: res, QueueUS: micros(start.Sub(t.enqueued)), RunUS: micros(took)}
}

// Load reports workers, running and queued jobs.
func (p *Pool) Load() Load {
	return Load{Slots: p.size, Busy: int(p.busy.Load()), Queued: len(p.tasks)}
}

// Close refuses new jobs, fails queued ones with canceled, and waits for
// the running ones to finish (their callers' contexts decide how long).
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.quit)
	p.workers.Wait()
	for {
		select {
		case t := <-p.tasks:
			t.err = ErrClosed
			close(t.done)
		default:
			return nil
		}
	}
}
