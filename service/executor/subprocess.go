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

	"github.com/crunchsvc/crunch/service/wire"
)

// Subprocess runs jobs in worker processes (`crunch worker`, see
// WorkerMain), fed over pipes. A worker that crashes, exceeds its memory
// limit or ignores a cancel costs only its own job (worker_failed, or the
// job's deadline_exceeded/canceled) and is restarted; every other job and
// worker goes on. Like Pool, a bounded queue gives backpressure.
//
// Each worker process is owned by one goroutine, which takes a job from the
// shared queue, sends it, forwards the worker's progress and waits for its
// result. The server side needs only the op's name and the request's
// arguments: the worker looks the op up in its own registry and prepares it
// there, so the two registries may differ (tests add ops that crash).
type Subprocess struct {
	cfg   SubprocessConfig
	tasks chan *subTask
	quit  chan struct{}
	spawn *spawner
	slots []*slot

	owners sync.WaitGroup

	mu     sync.RWMutex // held for reading while enqueueing; Close takes it to stop enqueues
	closed bool

	busy   atomic.Int64
	avgRun ewma
	nextID atomic.Int64 // job ids on the pipes
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
	// context ended and it was sent a cancel; then it is killed and
	// restarted (default 500 ms).
	KillGrace time.Duration
	// MemoryLimit is roughly the memory in bytes one job may allocate in a
	// worker: its address space (RLIMIT_AS) is capped at the idle worker's
	// plus this. A job beyond it fails: with too_large when a C kernel's
	// allocation fails, or with worker_failed when the Go runtime dies of
	// it. 0: no limit. Workers built with the race detector reserve
	// terabytes of address space and cannot run under a limit.
	MemoryLimit int64
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
		tasks: make(chan *subTask, cfg.Queue),
		quit:  make(chan struct{}),
		spawn: newSpawner(),
		slots: make([]*slot, cfg.Workers),
	}
	errs := make([]error, cfg.Workers)
	var wg sync.WaitGroup
	for i := range s.slots {
		s.slots[i] = &slot{s: s, n: i}
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
		s.spawn.stop()
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
// context ends is answered at once; its worker is sent a cancel and, if it
// does not stop within KillGrace, killed and restarted. The worker runs
// job.Call.Op's name with job.Impl and job.Args, prepared anew in the worker.
func (s *Subprocess) Run(ctx context.Context, job *Job) (*Outcome, error) {
	if job.Call == nil || job.Call.Op == nil {
		return nil, wire.Errorf(wire.Internal, "subprocess: job without a prepared call")
	}
	enqueued := time.Now()
	// Encoding here, in the caller's goroutine, means the arguments are
	// never read after Run returns: a caller may reuse their memory.
	id := s.nextID.Add(1)
	msg, err := wireRequest(id, job)
	if err != nil {
		return nil, err
	}
	t := &subTask{task: task{ctx: ctx, job: job, enqueued: enqueued, done: make(chan struct{})}, id: id, msg: msg}
	if err := s.enqueue(t); err != nil {
		return nil, err
	}
	return t.wait()
}

func (s *Subprocess) enqueue(t *subTask) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.tasks <- t:
		return nil
	default:
		wait := s.avgRun.get() * time.Duration(len(s.tasks)/len(s.slots)+1)
		return overloaded(wait, "subprocess: queue full (%d jobs waiting for %d workers)", len(s.tasks), len(s.slots))
	}
}

// Load reports workers, running and queued jobs.
func (s *Subprocess) Load() Load {
	return Load{Slots: len(s.slots), Busy: int(s.busy.Load()), Queued: len(s.tasks)}
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
	s.failQueued()
	s.spawn.stop()
	return nil
}

// failQueued answers every queued task with ErrClosed.
func (s *Subprocess) failQueued() {
	for {
		select {
		case t := <-s.tasks:
			t.err = ErrClosed
			close(t.done)
		default:
			return
		}
	}
}

// pids returns the pids of the running workers (0 for a slot between
// workers), for tests.
func (s *Subprocess) pids() []int {
	out := make([]int, len(s.slots))
	for i, w := range s.slots {
		out[i] = int(w.pid.Load())
	}
	return out
}

// subTask is a task with its job encoded for the pipe.
type subTask struct {
	task
	id  int64  // the job's id on the pipe
	msg []byte // the job frame's payload
}

// slot is one worker's place in the executor: the goroutine in own and the
// process it runs, replaced when it dies.
type slot struct {
	s     *Subprocess
	n     int
	p     *workerProc // nil between a death and a restart; only own touches it after start
	pid   atomic.Int64
	quick int // consecutive quick deaths or failed starts, for the backoff
}

func (w *slot) setProc(p *workerProc) {
	w.p = p
	if p != nil {
		w.pid.Store(int64(p.pid))
	} else {
		w.pid.Store(0)
	}
}

// own runs the slot until Close: it keeps a worker alive and feeds it
// tasks one at a time.
func (w *slot) own() {
	s := w.s
	defer s.owners.Done()
	defer func() {
		if w.p != nil {
			w.p.stop(stopGrace)
			w.setProc(nil)
		}
	}()
	for {
		if w.p == nil && !w.restart() {
			return
		}
		select {
		case <-s.quit:
			return
		case _, ok := <-w.p.frames:
			if ok {
				continue // a straggler from a finished job
			}
			w.buryIdle()
		case t := <-s.tasks:
			select {
			case <-s.quit: // select picks at random: never start work after Close
				t.err = ErrClosed
				close(t.done)
				return
			default:
			}
			if w.died() {
				// It died idle and the select chose the task first: the
				// task deserves a live worker.
				w.buryIdle()
				if !w.restart() {
					t.err = ErrClosed
					close(t.done)
					return
				}
			}
			w.run(t)
		}
	}
}

// died reports whether the worker has exited.
func (w *slot) died() bool {
	select {
	case <-w.p.exited:
		return true
	default:
		return false
	}
}

// buryIdle buries a worker that died, or broke its pipe, while idle. A
// quick death counts toward the restart backoff.
func (w *slot) buryIdle() {
	if time.Since(w.p.started) < quickDeath {
		w.quick++
	}
	pid := w.p.pid
	reason, said := w.bury()
	w.s.cfg.Log.Warn(fmt.Sprintf("worker %d %s while idle%s; restarting it", pid, reason, said))
}

// restart starts a new worker after a death, waiting first if workers keep
// dying quickly: 0, 100 ms, 200 ms, … up to 5 s. It reports false when the
// executor closed meanwhile.
func (w *slot) restart() bool {
	s := w.s
	for {
		if d := backoff(w.quick); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-s.quit:
				t.Stop()
				return false
			case <-t.C:
			}
		}
		p, err := startWorker(&s.cfg, s.spawn, s.quit)
		if err == nil {
			w.setProc(p)
			return true
		}
		if errors.Is(err, ErrClosed) {
			return false
		}
		w.quick++
		s.cfg.Log.Error("restarting a worker failed", "slot", w.n, "err", err, "retry_in", backoff(w.quick))
	}
}

// backoff is the wait before the next start after quick consecutive quick
// failures.
func backoff(quick int) time.Duration {
	if quick <= 1 {
		return 0
	}
	return min(100*time.Millisecond<<min(quick-2, 16), maxBackoff)
}

// bury waits until the worker's stdout has ended and it has been reaped,
// killing it if it lingers past KillGrace or broke the pipe protocol, then
// releases it and says how it ended and what it last said on stderr.
func (w *slot) bury() (reason, said string) {
	p := w.p
	t := time.NewTimer(w.s.cfg.KillGrace)
	defer t.Stop()
	frames, exited := p.frames, p.exited
	for frames != nil || exited != nil {
		select {
		case _, ok := <-frames: // stragglers are dropped
			if !ok {
				frames = nil
				if p.readErr != nil {
					p.kill() // nothing it says can be trusted any more
				}
			}
		case <-exited:
			exited = nil
		case <-t.C:
			p.kill() // stdout closed but alive, or dead with stdout held open
		}
	}
	reason = p.exitReason()
	if p.readErr != nil {
		reason = fmt.Sprintf("broke the pipe protocol (%v) and was killed", p.readErr)
	}
	said = p.lastWords()
	p.retire()
	w.setProc(nil)
	return reason, said
}

// run sends t to the worker and waits for its result, forwarding progress.
// When t's context ends, the worker is sent a cancel and given KillGrace to
// answer before it is killed. t gets exactly one answer whatever happens.
func (w *slot) run(t *subTask) {
	s := w.s
	if t.ctx.Err() != nil { // abandoned while queued: its Run already answered
		t.err = stopReason(t.ctx)
		close(t.done)
		return
	}
	answered := false
	answer := func(out *Outcome, err error) {
		if !answered {
			answered = true
			t.out, t.err = out, err
			close(t.done)
		}
	}
	op, id := t.job.Call.Op.Name, t.id

	s.busy.Add(1)
	defer s.busy.Add(-1)
	p := w.p
	p.markStderr()
	start := time.Now()
	p.send(frameJob, t.msg)
	t.msg = nil // the writer holds it until written

	ctxDone := t.ctx.Done()
	var grace <-chan time.Time
	killed := false
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				reason, said := w.bury()
				switch {
				case killed:
					s.cfg.Log.Warn(fmt.Sprintf("worker %d ignored the cancel of its %s job for %v and was killed; restarting it", p.pid, op, s.cfg.KillGrace))
				case answered:
					s.cfg.Log.Warn(fmt.Sprintf("worker %d %s after its %s job was answered%s; restarting it", p.pid, reason, op, said))
				default:
					msg := fmt.Sprintf("worker %d %s while running %s%s", p.pid, reason, op, said)
					s.cfg.Log.Warn(msg + "; restarting it")
					answer(nil, wire.Errorf(wire.WorkerFailed, "%s", msg))
				}
				return
			}
			rep, err := wire.DecodeReply(true, f.payload)
			if err != nil {
				// A worker that sends garbage cannot be trusted with more.
				e := wire.Errorf(wire.WorkerFailed, "worker %d sent an undecodable reply while running %s: %v", p.pid, op, err)
				s.cfg.Log.Error(e.Message + "; killing it")
				p.kill()
				answer(nil, e)
				continue // its death arrives through frames
			}
			if rep.ID != id {
				continue // a straggler from an earlier job
			}
			if f.kind == frameProgress {
				if !answered && t.job.Progress != nil && rep.Progress != nil {
					t.job.Progress(*rep.Progress)
				}
				continue
			}
			took := time.Since(start)
			s.avgRun.add(took)
			w.quick = 0
			switch {
			case rep.OK:
				answer(&Outcome{Result: rep.Result, QueueUS: micros(start.Sub(t.enqueued)), RunUS: micros(took), Worker: p.pid}, nil)
			case rep.Error != nil:
				answer(nil, rep.Error)
			default:
				answer(nil, wire.Errorf(wire.Internal, "worker %d answered %s with neither a result nor an error", p.pid, op))
			}
			return
		case <-ctxDone:
			// Run has answered already; stop the kernel, and keep the
			// worker if it stops in time.
			ctxDone = nil
			answer(nil, stopReason(t.ctx))
			p.send(frameCancel, cancelPayload(id))
			timer := time.NewTimer(s.cfg.KillGrace)
			defer timer.Stop()
			grace = timer.C
		case <-grace:
			grace = nil
			killed = true
			p.kill() // its death arrives through frames
		}
	}
}

// wireRequest encodes job as the binary request a worker reads.
func wireRequest(id int64, job *Job) ([]byte, error) {
	op := job.Call.Op.Name
	msg, err := wire.EncodeRequest(&wire.Request{
		ID: id, Op: op, Impl: job.Impl, Args: job.Args, Progress: job.Progress != nil,
	}, true)
	if err != nil {
		return nil, wire.Errorf(wire.Internal, "subprocess: encoding the %s job for a worker: %v", op, err)
	}
	if len(msg) > maxFrame {
		return nil, wire.Errorf(wire.TooLarge, "subprocess: the %s job's arguments take %d bytes; a worker takes at most %d", op, len(msg), maxFrame)
	}
	return msg, nil
}
