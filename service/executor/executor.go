// Package executor runs prepared kernel calls. Three implementations share
// one interface: Direct (in the caller's goroutine), Pool (goroutines locked
// to OS threads) and Subprocess (worker processes). Every one honours the
// context's deadline and cancellation, reports progress when asked, and
// gives every job exactly one result.
package executor

import (
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// Names of the executors, as requests spell them in "exec".
const (
	NameAuto       = "auto"
	NameDirect     = "direct"
	NamePool       = "pool"
	NameSubprocess = "subprocess"
	// NameCluster runs a job on whichever node of a NATS cluster has a
	// free slot (package cluster); only servers started with NATS have it,
	// so it is not among Names.
	NameCluster = "cluster"
)

// Names lists the executors a request can name besides auto, in the order
// auto prefers them when they are equal.
var Names = []string{NameDirect, NamePool, NameSubprocess}

// Job is one call to run.
type Job struct {
	Call *kernels.Call
	Impl string // resolved: one of Call.Op.Impls
	// Args are the request's arguments as received, for executors that
	// run the op in another process and must send it there.
	Args wire.Args
	// Progress, when not nil, receives the fraction done, at most about
	// ten times a second while the job runs, from any goroutine.
	Progress func(fraction float64)
	// Tenant names who asked (the server gives each connection its own):
	// queues serve tenants in turn, so that one greedy client cannot
	// starve the others. Jobs with the same tenant run in arrival order.
	Tenant uint64
	// Done, when not nil, is called once, from any goroutine, when the
	// executor will read Args (and the tensors Call was prepared from) no
	// more: once the kernel has returned, the arguments are copied to a
	// worker, or the job was dropped. That may be after Run has returned,
	// since a cancelled kernel takes a moment to stop: memory the
	// arguments live in must stay valid until then.
	Done func()
	// Out, when not nil, supplies the memory of the result tensors (see
	// kernels.Allocator); otherwise they are allocated on the Go heap.
	Out kernels.Allocator
	// Threads is the most threads the job's C kernel may use, its own
	// included (0 or 1: one). The pool honours it with idle workers of its
	// own (see parallel.go), the subprocess executor with idle slots lent
	// to the job's worker process (subprocess_loan.go); direct runs every
	// job on one thread.
	Threads  int
	released atomic.Bool
}

// release calls Done, once.
func (j *Job) release() {
	if j.Done != nil && j.released.CompareAndSwap(false, true) {
		j.Done()
	}
}

// Outcome is a finished job's result and where its time went.
type Outcome struct {
	Result  wire.Result
	QueueUS int64 // from Run to the start of the kernel
	RunUS   int64 // the kernel itself
	Worker  int   // the subprocess worker's pid, or 0
	// Node, when set, names the cluster node that ran the job, and Exec
	// the executor that did when it is not the one asked (an auto job
	// that spilled to the cluster).
	Node string
	Exec string
}

// Load is an executor's occupancy at one instant.
type Load struct {
	Slots  int // workers (0: unbounded)
	Busy   int // jobs running
	Queued int // jobs waiting for a slot
}

// Executor runs jobs. Run blocks until the job has finished, failed, or its
// context ended; it returns either an Outcome or an error that
// wire.AsError maps to the protocol's codes. Safe for concurrent use.
type Executor interface {
	Name() string
	Run(ctx context.Context, job *Job) (*Outcome, error)
	Load() Load
	// Close refuses new jobs, cancels queued ones and waits for running
	// ones to end.
	Close() error
}

// PriorityRaiser is an executor whose compute threads may run below normal
// priority (--compute-priority) and can be given normal priority back. A
// server calls it when it starts to drain and before it exits, so that
// threads the machine's other work starves stop promptly (see
// raiseToNormal). The error, EPERM without CAP_SYS_NICE, only says that
// nothing changed.
type PriorityRaiser interface {
	RaisePriority() error
}

// Parallel is an executor on which a job's C kernel may run on more than
// one thread (Job.Threads).
type Parallel interface {
	// Threads returns the most threads one job may use: the executor's
	// workers.
	Threads() int
}

// ProgressInterval is the shortest time between two progress reports of
// one job: the protocol allows about ten a second.
const ProgressInterval = 100 * time.Millisecond

// ErrClosed is returned by Run on an executor that is shutting down.
var ErrClosed = wire.Errorf(wire.Canceled, "server shutting down")

// runHere runs job in the calling goroutine: the kernel of every executor
// (and of the subprocess worker) goes through it. The kernel's crunch_ctx
// is cancelled when ctx ends; a panic in Go kernel code becomes an internal
// error instead of killing the process.
func runHere(ctx context.Context, job *Job) (res wire.Result, err error) {
	return runHereWith(ctx, job, nil)
}

// runHereWith is runHere with setup, when not nil, preparing the kernel's
// Ctx before the call (the pool gives it a runner).
func runHereWith(ctx context.Context, job *Job, setup func(*cgo.Ctx, *Job)) (res wire.Result, err error) {
	if err := ctx.Err(); err != nil {
		return nil, StopReason(ctx)
	}
	x := cgo.NewCtx()
	if setup != nil {
		setup(x, job)
	}
	stop := x.Watch(ctx)
	defer stop()
	if job.Progress != nil {
		done := make(chan struct{})
		defer close(done)
		go reportProgress(x, job.Progress, done)
	}
	defer func() {
		if p := recover(); p != nil {
			err = wire.Errorf(wire.Internal, "%s/%s panicked: %v\n%s", job.Call.Op.Name, job.Impl, p, debug.Stack())
		}
	}()
	res, err = job.Call.RunInto(x, job.Impl, job.Out)
	if err != nil && errors.Is(err, cgo.ErrCanceled) && ctx.Err() != nil {
		return nil, StopReason(ctx)
	}
	return res, err
}

// reportProgress sends x's progress to report every ProgressInterval until
// done is closed, skipping unchanged values.
func reportProgress(x *cgo.Ctx, report func(float64), done <-chan struct{}) {
	t := time.NewTicker(ProgressInterval)
	defer t.Stop()
	last := -1.0
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if _, _, f := x.Progress(); f != last {
				last = f
				report(f)
			}
		}
	}
}

// StopReason explains why ctx ended, as a protocol error: the cause given
// to context.WithCancelCause when it is one (the server says "canceled by
// request 8" or "connection closed" that way), else deadline_exceeded or
// canceled. Every executor answers a job whose context ended with it.
func StopReason(ctx context.Context) error {
	var we *wire.Error
	if errors.As(context.Cause(ctx), &we) {
		return we
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return wire.Errorf(wire.DeadlineExceeded, "deadline exceeded")
	}
	return wire.Errorf(wire.Canceled, "canceled")
}

// micros returns d in whole microseconds.
func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

// queueFull is executor who's overloaded error for a full queue of queued
// jobs and workers workers. Everything queued must run before a retry can
// start: the hint estimates that from avg, the recent average run time.
func queueFull(who string, avg time.Duration, queued, workers int) error {
	wait := avg * time.Duration(queued/workers+1)
	return overloaded(wait, "%s: queue full (%d jobs waiting for %d workers)", who, queued, workers)
}

// overloaded builds the protocol's overloaded error with a retry hint.
func overloaded(retry time.Duration, format string, args ...any) error {
	e := wire.Errorf(wire.Overloaded, format, args...)
	e.RetryAfterMS = max(1, int64(retry/time.Millisecond))
	return e
}
