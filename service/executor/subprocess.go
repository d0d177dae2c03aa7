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

	"github.com/crunchsvc/crunch/service/spawn"
	"github.com/crunchsvc/crunch/service/wire"
)

// Subprocess runs jobs in worker processes (`crunch worker`, see
// WorkerMain). A worker that crashes, exceeds its memory limit or ignores a
// cancel costs only its own job (worker_failed, or the job's
// deadline_exceeded/canceled) and is restarted; every other job and worker
// goes on. Like Pool, a bounded queue that serves connections in turn
// gives backpressure and fairness.
//
// Each worker process is owned by one goroutine (its slot), which takes a
// job from the queue, lays it out in the worker's shared memory arena and
// polls there for the result, before falling back to waiting for a wake-up
// on the pipe (pipe.go describes the exchange). The server side needs only
// the op's name and the request's arguments: the worker looks the op up in
// its own registry and prepares it there, so the two registries may differ
// (tests add ops that crash).
type Subprocess struct {
	cfg    SubprocessConfig
	queue  *fairQueue[*subTask] // see subprocess_queue.go
	idleMu sync.Mutex
	idle   []*slot // slots waiting for a task, the last to go idle on top
	quit   chan struct{}
	spawn  *spawn.Spawner
	slots  []*slot

	owners   sync.WaitGroup
	retiring sync.WaitGroup // recycled workers on their way out

	mu     sync.RWMutex // held for reading while enqueueing; Close takes it to stop enqueues
	closed bool

	busy   atomic.Int64
	lent   atomic.Int32 // idle slots lent to running jobs (subprocess_loan.go)
	avgRun ewma
	nextID atomic.Int64 // job ids in the arenas
	deaths atomic.Int64 // workers buried after dying or being killed
}

// SubprocessConfig sizes a Subprocess and says how to start its workers.
// Zero fields take their defaults.
type SubprocessConfig struct {
	// Workers is the number of worker processes (default: the CPUs this
	// process may use).
	Workers int
	// Queue is the number of jobs that may wait for a worker beyond the
	// running ones (default: 64 per worker); beyond it Run answers
	// overloaded.
	Queue int
	// Command is a worker's command line (default: this executable followed
	// by "worker").
	Command []string
	// Env is added to this process's environment for the workers.
	Env []string
	// StartTimeout bounds a worker's start up to its hello (default 10 s).
	StartTimeout time.Duration
	// KillGrace is how long a worker may take to answer after its job's
	// context ended and it was told to cancel the job; then it is killed
	// and restarted (default 500 ms).
	KillGrace time.Duration
	// MemoryLimit is roughly the memory in bytes one job may allocate in a
	// worker: its address space (RLIMIT_AS) is capped at the idle worker's
	// plus this. The idle worker includes its shared memory arena's whole
	// mapping (8 GiB of address space, no memory until used), so a job's
	// arguments and result, which travel there, do not count against the
	// limit; what the job allocates itself does (its result too, until it
	// is copied into the arena). A job beyond it fails: with too_large when
	// a C kernel's allocation fails, or with worker_failed when the Go
	// runtime dies of it. 0: no limit. Workers built with the race detector
	// reserve terabytes of address space and cannot run under a limit. A
	// worker's threads for parallel jobs (worker_threads.go), once
	// started, take their stacks' address space (about 8 MiB each) from
	// this too.
	MemoryLimit int64
	// MaxJobs retires a worker once it has run this many jobs, bounding
	// what a leak in a kernel can cost: after its last job it exits
	// gracefully and a replacement, started while that job ran, takes its
	// place. This is no failure (no worker_failed, no backoff). 0: never.
	MaxJobs int
	// Priority is the scheduling class of every thread of every worker
	// (default: normal). A worker sets it on all its threads before its
	// hello; the threads it creates later inherit it.
	Priority Priority
	// Group, when set, is the cpu cgroup every thread of every worker
	// joins once the worker has said hello (see ComputeGroup).
	Group *ComputeGroup
	// Spin is how long each side polls the shared arena for the other's
	// next move before blocking on the pipe: the server for a job's result,
	// a worker for its next job (default DefaultSpin; negative: never
	// poll). Polling saves the tens of microseconds that waking a process
	// costs; an idle executor burns no CPU.
	Spin time.Duration
	// Log receives worker deaths, restarts and the workers' stderr, each
	// line tagged with the worker's pid (default: slog.Default()).
	Log *slog.Logger
}

// How long Close lets a worker exit on its own once its stdin is closed.
const stopGrace = 3 * time.Second

// A worker that dies within quickDeath of its start, without having been
// given a job, counts toward the restart backoff; maxBackoff caps it.
const (
	quickDeath = time.Second
	maxBackoff = 5 * time.Second
)

func (c *SubprocessConfig) withDefaults() (SubprocessConfig, error) {
	d := *c
	if d.Workers <= 0 {
		d.Workers = runtime.GOMAXPROCS(0)
	}
	if d.Queue <= 0 {
		d.Queue = 64 * d.Workers
	}
	if len(d.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return d, fmt.Errorf("finding this executable for the worker command: %w", err)
		}
		d.Command = []string{exe, "worker"}
	}
	if d.StartTimeout <= 0 {
		d.StartTimeout = 10 * time.Second
	}
	if d.KillGrace <= 0 {
		d.KillGrace = 500 * time.Millisecond
	}
	if d.Spin == 0 {
		d.Spin = DefaultSpin
	}
	d.MaxJobs = max(d.MaxJobs, 0)
	if _, err := priorityCode(d.Priority); err != nil {
		return d, err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	d.Log = d.Log.With("executor", NameSubprocess)
	return d, nil
}

// NewSubprocess starts the worker processes and waits for each one's
// hello. It fails, leaving no process behind, if any worker does not start
// within StartTimeout.
func NewSubprocess(cfg SubprocessConfig) (*Subprocess, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("subprocess executor: %w", err)
	}
	s := &Subprocess{
		cfg:   cfg,
		queue: newFairQueue[*subTask](cfg.Queue),
		quit:  make(chan struct{}),
		spawn: spawn.New(),
		slots: make([]*slot, cfg.Workers),
	}
	errs := make([]error, cfg.Workers)
	var wg sync.WaitGroup
	for i := range s.slots {
		s.slots[i] = &slot{s: s, n: i, wake: make(chan struct{}, 1)}
		wg.Go(func() {
			p, err := startWorker(&s.cfg, s.spawn, s.quit)
			if err != nil {
				errs[i] = fmt.Errorf("worker %d of %d: %w", i+1, cfg.Workers, err)
				return
			}
			s.slots[i].setProc(p)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, w := range s.slots {
			if w.p != nil {
				w.p.retire()
			}
		}
		s.spawn.Stop()
		return nil, fmt.Errorf("subprocess executor: %w", err)
	}
	s.owners.Add(len(s.slots))
	for _, w := range s.slots {
		go w.own()
	}
	return s, nil
}

// Name returns "subprocess".
func (s *Subprocess) Name() string { return NameSubprocess }

// Run queues job and waits for its result or for ctx to end. A job whose
// context ends is answered at once; its worker is told to cancel it and, if
// it does not stop within KillGrace, killed and restarted. The worker runs
// job.Call.Op's name with job.Impl and job.Args, prepared anew in the
// worker. The arguments are copied into the worker's arena and never read
// after Run returns: a caller may reuse their memory.
func (s *Subprocess) Run(ctx context.Context, job *Job) (*Outcome, error) {
	if job.Call == nil || job.Call.Op == nil {
		job.release()
		return nil, wire.Errorf(wire.Internal, "subprocess: job without a prepared call")
	}
	if n := argBytes(job.Args); n > maxMessage {
		job.release()
		return nil, wire.Errorf(wire.TooLarge, "subprocess: the %s job's arguments take %d bytes; a worker takes at most %d",
			job.Call.Op.Name, n, maxMessage)
	}
	t := &subTask{
		task: task{ctx: ctx, job: job, enqueued: time.Now(), done: make(chan struct{})},
		id:   s.nextID.Add(1),
	}
	if err := s.enqueue(t); err != nil {
		job.release()
		return nil, err
	}
	return t.wait()
}

// argBytes is about what args take in an arena: their tensors' bytes,
// each rounded up to its alignment there.
func argBytes(args wire.Args) int {
	n := 0
	for _, v := range args {
		if v.Tensor != nil {
			n += alignMsg(len(v.Tensor.Data))
		}
	}
	return n
}

// Load reports workers, running and queued jobs.
func (s *Subprocess) Load() Load {
	return Load{Slots: len(s.slots), Busy: int(s.busy.Load()), Queued: s.queued()}
}

// Close refuses new jobs, fails queued ones with ErrClosed, waits for the
// running ones to end (their contexts decide how long), then closes the
// workers' stdin so that they exit, killing any that has not within a few
// seconds. No process or goroutine of the executor outlives Close.
func (s *Subprocess) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	s.failQueued() // owners racing for the same tasks fail them too
	s.owners.Wait()
	s.retiring.Wait()
	s.failQueued()
	s.spawn.Stop()
	return nil
}

// RaisePriority gives every thread of every worker normal priority back
// (see PriorityRaiser); the first error is returned after all were tried.
func (s *Subprocess) RaisePriority() error {
	var first error
	for _, pid := range s.pids() {
		if pid == 0 {
			continue
		}
		// A worker that exited meanwhile has no threads to list.
		if err := raiseProcessToNormal(pid); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = fmt.Errorf("subprocess worker %d: %w", pid, err)
		}
		raiseAutogroup(pid)
		if g := s.cfg.Group; g != nil {
			if err := g.LeaveProcess(pid); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
				first = fmt.Errorf("subprocess worker %d: %w", pid, err)
			}
		}
	}
	return first
}

// Deaths returns how many workers died, were killed or broke the pipe
// protocol, and were replaced, since the executor started. Workers retired
// by MaxJobs or stopped by Close do not count.
func (s *Subprocess) Deaths() int64 { return s.deaths.Load() }

// pids returns the pids of the running workers (0 for a slot between
// workers), for tests.
func (s *Subprocess) pids() []int {
	out := make([]int, len(s.slots))
	for i, w := range s.slots {
		out[i] = int(w.pid.Load())
	}
	return out
}

// subTask is a task on its way to a worker.
type subTask struct {
	task
	id int64 // the job's id in the arena

	// mu is held while the job's arguments are copied into an arena, and
	// by a caller that gives up, so that the arguments are never read
	// after Run has returned.
	mu        sync.Mutex
	abandoned bool
}

// wait returns the task's result, or its context's reason as soon as the
// context ends: a caller is never held by a kernel that is still stopping,
// only, at worst, by a copy of its arguments in progress.
func (t *subTask) wait() (*Outcome, error) {
	select {
	case <-t.done:
		return t.out, t.err
	case <-t.ctx.Done():
		t.mu.Lock()
		t.abandoned = true
		t.mu.Unlock()
		return nil, StopReason(t.ctx)
	}
}
