package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"golang.org/x/sys/unix"
)

// Pool runs jobs on a fixed set of worker goroutines, each locked to its
// own OS thread for the pool's whole life (a goroutine that exits while
// locked takes its thread down with it, so a thread whose priority or
// affinity was changed never returns to the runtime's general use). Owning
// their threads is what lets workers run at a lower scheduling priority, so
// that the threads serving sockets win the CPU at once, and on CPUs of
// their own.
//
// Jobs wait in a bounded queue that serves connections in turn (see
// fairQueue); when it is full, Run answers overloaded at once with a
// retry_after estimated from the queue and recent run times.
//
// Latency: waking a parked thread costs tens of microseconds on a virtual
// machine, so a worker that has just finished a job polls the queue for a
// short while (PoolConfig.Spin) before parking, and a caller whose jobs are
// short polls for its result before parking. A burst of small jobs thus
// costs a few microseconds each; an idle pool costs nothing.
type Pool struct {
	cfg     PoolConfig
	queue   *fairQueue[*task]
	wake    chan struct{} // one token per parked worker to wake
	parked  atomic.Int32
	quit    chan struct{}
	closing atomic.Bool
	workers sync.WaitGroup

	mu     sync.RWMutex // held for reading while enqueueing; Close takes it to stop enqueues
	closed bool

	busy   atomic.Int64
	avgRun ewma

	tids []atomic.Int32 // worker i's thread id, once it is set up; for RaisePriority

	// Parallel calls (parallel.go): help holds offers to join one, idle
	// counts the workers waiting for work and not yet offered any.
	teams   []*cgo.Team // worker i's, for its parallel calls
	help    chan *cgo.Team
	jobFlag *cgo.SharedInt32 // 1 while a job waits (flagJobs): the teams' helpers leave
	flagMu  sync.Mutex       // orders flagJobs' reads and writes
	idle    *cgo.SharedInt32 // in C memory: the teams read it before recruiting
	helps   atomic.Int64     // offers taken, for tests

	// Shadows (PoolConfig.Group): worker i's C calls run on shadows[i]
	// (nil: on its own thread), set and used by worker i only; shadowTids
	// for RaisePriority. The teams of workers with a shadow ask for
	// helpers through the eventfd recruitFD (cgo.Team.RecruitThrough),
	// which serveRecruits reads.
	shadows    []*cgo.Shadow
	shadowTids []atomic.Int32
	recruitFD  int
	recruits   *os.File
	recruiter  sync.WaitGroup
}

// PoolConfig sizes a Pool and places its threads. Zero fields take their
// defaults.
type PoolConfig struct {
	// Workers is the number of OS threads running kernels (default: the
	// CPUs this process may use).
	Workers int
	// Queue is the number of jobs that may wait beyond the running ones
	// (default: 64 per worker).
	Queue int
	// Priority is the scheduling class of the workers' threads.
	Priority Priority
	// CPUs, when not empty, pins worker i to CPUs[i % len(CPUs)].
	CPUs []int
	// Spin is how long an idle worker polls the queue before parking its
	// thread, and the run time up to which callers poll for their result
	// (default DefaultSpin; negative: never poll).
	Spin time.Duration
	// Group, when not nil, is the cpu cgroup the workers' C kernels run
	// in: each worker starts a thread of the C library's own (cgo.Shadow)
	// that joins the group for good and runs the worker's C calls, its
	// parallel calls' tasks included, while the worker's Go thread, which
	// runs Go code between jobs, stays out of it (see ComputeGroup).
	// Kernels written in Go run on the worker's own thread.
	Group *ComputeGroup
	// Log receives thread set-up failures (default: slog.Default()).
	Log *slog.Logger
}

// DefaultSpin is long enough to cover a client's turn-around between two
// small requests, and short enough that the CPU it burns is noise.
const DefaultSpin = 50 * time.Microsecond

// task is one job's trip through an executor. The worker that takes it
// sets out and err, then finished, then closes done.
type task struct {
	ctx      context.Context
	job      *Job
	enqueued time.Time
	out      *Outcome
	err      error
	finished atomic.Bool // for callers that poll instead of waiting on done
	done     chan struct{}
}

// finish publishes the task's result.
func (t *task) finish(out *Outcome, err error) {
	t.out, t.err = out, err
	t.finished.Store(true)
	close(t.done)
}

// wait returns the task's result, or its context's reason as soon as the
// context ends: a caller is never held by a kernel that is still stopping.
func (t *task) wait() (*Outcome, error) {
	select {
	case <-t.done:
		return t.out, t.err
	case <-t.ctx.Done():
		return nil, StopReason(t.ctx)
	}
}

// NewPool starts a pool's workers. A worker whose thread cannot take the
// asked priority or CPUs logs why and runs without them.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64 * cfg.Workers
	}
	if cfg.Spin == 0 {
		cfg.Spin = DefaultSpin
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	p := &Pool{
		cfg:        cfg,
		queue:      newFairQueue[*task](cfg.Queue),
		wake:       make(chan struct{}, cfg.Workers),
		quit:       make(chan struct{}),
		tids:       make([]atomic.Int32, cfg.Workers),
		help:       make(chan *cgo.Team, cfg.Workers),
		jobFlag:    cgo.NewSharedInt32(),
		idle:       cgo.NewSharedInt32(),
		shadows:    make([]*cgo.Shadow, cfg.Workers),
		shadowTids: make([]atomic.Int32, cfg.Workers),
	}
	for range cfg.Workers {
		p.teams = append(p.teams, cgo.NewTeam(poolRecruiter{p}, p.idle, p.jobFlag))
	}
	if cfg.Group != nil {
		p.startRecruiter()
	}
	p.workers.Add(cfg.Workers)
	for i := range cfg.Workers {
		go p.work(i)
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
	startsNow, err := p.enqueue(t)
	if err != nil {
		job.release()
		return nil, err
	}
	// Short jobs are worth waiting for hot: parking this goroutine and
	// being woken costs more than they run (a wake-up took 50-200 µs
	// here). Jobs shorter than Spin: always, as a burst of them goes
	// through the queue faster than a wake-up. Jobs up to callerPollJobs
	// Spins: only a serial job that a worker takes at once (behind a queue
	// the poll would burn its whole length for nothing, and a parallel
	// job's helpers, below normal priority, would not get the CPU it polls
	// on: gemm 128 from Python took 1.45-1.54 ms against 1.13-1.24), and
	// yielding the CPU at every round, as the worker may be queued behind
	// this very caller. A job of 55 µs came back in 250 µs when its caller
	// parked, 50-80 µs when it polled. A request that names no thread count
	// asks for all of them, so only jobs sent with one thread get this
	// poll: whether a kernel recruits a helper is known only inside it.
	if spin := p.cfg.Spin; spin > 0 {
		switch avg := p.avgRun.get(); {
		case avg <= spin:
			// First without yielding: from the start, yielding halved the
			// pool's throughput of empty jobs from many callers
			// (BenchmarkDispatchMany). Then yielding: a caller that shares
			// its CPU with the worker would otherwise hold it for its
			// whole poll (an empty job then took 250 µs, not 2).
			if spinUntil(t.finished.Load, tightPoll) || spinYielding(t.finished.Load, 2*spin-tightPoll) {
				return t.out, t.err
			}
		case startsNow && job.Threads <= 1 && avg <= callerPollJobs*spin:
			if spinYielding(t.finished.Load, avg+spin) {
				return t.out, t.err
			}
		}
	}
	return t.wait()
}

// tightPoll is how long a caller of short jobs polls before it starts
// yielding: several times an empty job's round trip.
const tightPoll = 20 * time.Microsecond

// callerPollJobs is, in units of PoolConfig.Spin, the longest recent
// average run time for which a caller polls for its job's result (for
// the average plus one Spin) rather than park.
const callerPollJobs = 4

// enqueue queues t and reports whether a worker was waiting for work as
// it did (so that nothing queued ahead of t).
func (p *Pool) enqueue(t *task) (startsNow bool, err error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false, ErrClosed
	}
	// Read before Close frees it: Close sets closed under the write lock
	// first.
	startsNow = p.idle.Load() > 0
	if !p.queue.push(t.job.Tenant, t) {
		return false, queueFull("pool", p.avgRun.get(), p.queue.len(), p.cfg.Workers)
	}
	p.flagJobs()
	// push made the job visible before this load: a worker that parks
	// after it sees the job, one that parked before it gets a token.
	if p.parked.Load() > 0 {
		select {
		case p.wake <- struct{}{}:
		default: // enough tokens out already
		}
	}
	return startsNow, nil
}

// work is worker i: it locks its OS thread, sets it up, and runs tasks
// until Close.
func (p *Pool) work(i int) {
	defer p.workers.Done()
	runtime.LockOSThread()
	// Never unlocked: the thread belongs to this worker until the pool
	// closes, and exiting while locked retires the thread with it.
	if err := p.setUpThread(i); err != nil {
		p.cfg.Log.Warn("pool worker runs without its thread settings", "worker", i, "err", err)
	}
	p.tids[i].Store(int32(unix.Gettid()))
	defer p.tids[i].Store(0) // the thread ends with the worker
	p.startShadow(i)
	defer p.stopShadow(i)
	for {
		t, team := p.next()
		switch {
		case team != nil:
			// A job queued since the offer goes first: the call's own
			// worker claims every piece the helper leaves.
			if p.jobWaiting() {
				team.Detach()
				continue
			}
			p.helps.Add(1)
			team.Serve(roundSpin, p.shadows[i])
		case t != nil:
			p.runTask(t, i)
		default:
			return
		}
	}
}

// setUpThread gives the calling thread worker i's CPUs and priority.
func (p *Pool) setUpThread(i int) error {
	if n := len(p.cfg.CPUs); n > 0 {
		var set unix.CPUSet
		cpu := p.cfg.CPUs[i%n]
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("pinning to CPU %d: %w", cpu, err)
		}
	}
	return p.cfg.Priority.apply(0)
}

// RaisePriority gives every worker thread and shadow normal priority back
// (see PriorityRaiser), taking the shadows out of the Group; the first
// error is returned after all were tried.
func (p *Pool) RaisePriority() error {
	first := raiseEach(p.tids, "pool", raiseToNormal)
	err := raiseEach(p.shadowTids, "pool shadow", func(tid int) error {
		// In the compute group (idle or of the least weight) a thread
		// gets almost no CPU while other work wants it, whatever its own
		// class.
		if err := p.cfg.Group.LeaveThread(tid); err != nil {
			return err
		}
		return raiseToNormal(tid)
	})
	if first == nil {
		first = err
	}
	return first
}

// raiseEach calls raise for each thread id of tids that is set, and
// returns the first error but ESRCH (a worker that exited took its thread
// with it), after trying all.
func raiseEach(tids []atomic.Int32, what string, raise func(tid int) error) error {
	var first error
	for i := range tids {
		tid := int(tids[i].Load())
		if tid == 0 {
			continue
		}
		if err := raise(tid); err != nil && !errors.Is(err, unix.ESRCH) && first == nil {
			first = fmt.Errorf("%s: %w", what, err)
		}
	}
	return first
}

// next returns the next task to run, or a parallel call to help,
// polling for a while before parking the thread; nil, nil once the pool is
// closing. While it waits the worker counts as idle: a parallel call may
// offer it help (offerHelp), which it then takes before anything else.
func (p *Pool) next() (*task, *cgo.Team) {
	p.idle.Add(1)
	for {
		if p.closing.Load() {
			p.idle.Add(-1)
			return nil, nil
		}
		// An offer reserved this worker's idle count already.
		select {
		case h := <-p.help:
			return nil, h
		default:
		}
		if t, ok := p.queue.pop(); ok {
			p.flagJobs()
			p.leaveIdle()
			return t, nil
		}
		if p.cfg.Spin > 0 && spinUntil(p.workWaiting, p.cfg.Spin) {
			continue
		}
		p.parked.Add(1)
		if p.workWaiting() { // queued between the poll and parked.Add
			p.parked.Add(-1)
			continue
		}
		select {
		case <-p.wake:
		case h := <-p.help:
			p.parked.Add(-1)
			return nil, h
		case <-p.quit:
		}
		p.parked.Add(-1)
	}
}

// leaveIdle takes this worker out of the idle count to run a queued job.
// idle is the workers waiting minus the offers not yet taken, so a worker
// taking an offer leaves it as it is, and one taking a job lowers it, even
// when an offer is pending (another worker will take that one, or find its
// call closed).
func (p *Pool) leaveIdle() {
	p.idle.Add(-1)
}

// workWaiting reports whether a worker has something to do.
func (p *Pool) workWaiting() bool {
	return p.queue.len() > 0 || len(p.help) > 0 || p.closing.Load()
}

// spinUntil polls cond for up to d and reports whether it became true.
// The clock is read only every few dozen polls: a poll is a load, the clock
// ten times that.
func spinUntil(cond func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		for range 32 {
			if cond() {
				return true
			}
		}
		if time.Now().After(deadline) {
			return cond()
		}
	}
}

func (p *Pool) runTask(t *task, i int) {
	defer t.job.release()
	if t.ctx.Err() != nil { // abandoned while queued: its Run already answered
		t.finish(nil, StopReason(t.ctx))
		return
	}
	p.busy.Add(1)
	start := time.Now()
	res, err := runHereWith(t.ctx, t.job, func(x *cgo.Ctx, job *Job) {
		p.useShadow(x, job, i)
		p.setRunner(x, job, i)
	})
	p.teams[i].End()
	took := time.Since(start)
	p.busy.Add(-1)
	p.avgRun.add(took)
	if err != nil {
		t.finish(nil, err)
		return
	}
	t.finish(&Outcome{Result: res, QueueUS: micros(start.Sub(t.enqueued)), RunUS: micros(took)}, nil)
}

// Load reports workers, running and queued jobs.
func (p *Pool) Load() Load {
	return Load{Slots: p.cfg.Workers, Busy: int(p.busy.Load()), Queued: p.queue.len()}
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
	p.closing.Store(true)
	p.jobFlag.Store(1) // helpers leave their teams
	close(p.quit)
	p.workers.Wait()
	p.stopRecruiter() // no call runs, so no team asks
	for _, t := range p.teams {
		t.Close()
	}
	p.jobFlag.Free()
	p.idle.Free()
	for {
		t, ok := p.queue.pop()
		if !ok {
			return nil
		}
		t.finish(nil, ErrClosed)
		t.job.release()
	}
}
