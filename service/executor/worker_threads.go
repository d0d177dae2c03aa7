package executor

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/crunchsvc/crunch/cgo"
)

// A subprocess worker's threads for parallel jobs. The server grants a job
// threads (the job message says how many: its own and one per idle slot
// lent to it, see subprocess_loan.go), and the worker's runner runs the
// kernel's tasks on the job's thread and on helper goroutines of its own,
// each locked to an OS thread for the worker's life. They are started
// lazily, from threads that already carry the worker's priority and cpu
// cgroup, so they inherit both; they poll the same crunch_ctx as the
// job's thread, so a cancel stops them all and progress counts every
// task. A pool of its own rather than crunch_runner_pthreads: the helpers
// must be able to leave between two tasks when the server recalls them
// (ctlHelpStop), which a runner that runs every task to the end cannot,
// and starting threads per call costs tens of microseconds.
//
// A helper counts itself in ctlHelping while it is inside a call, so that
// a recalled slot knows when its thread is free again: it stores the job's
// id in ctlHelpStop and waits for ctlHelping to reach 0. A helper counts
// itself before its first look at ctlHelpStop, so a recall never misses a
// helper that goes on running tasks.

// maxHelpOffers bounds the offers waiting for a helper of one worker; far
// above the workers of any executor.
const maxHelpOffers = 1024

// workerRunner is a worker's cgo.Runner.
type workerRunner struct {
	a      *arena
	handle *cgo.RunnerHandle
	help   chan *helpCall

	mu      sync.Mutex // guards started
	started int        // helper goroutines started

	job atomic.Int64 // the running job's id
}

func newWorkerRunner(a *arena) *workerRunner {
	r := &workerRunner{a: a, help: make(chan *helpCall, maxHelpOffers)}
	r.handle = cgo.NewRunnerHandle(r)
	return r
}

// setRunner gives x job's thread budget on r, when the server granted
// more than one thread.
func (r *workerRunner) setRunner(x *cgo.Ctx, job *Job) {
	if job.Threads > 1 {
		x.SetRunner(r.handle, job.Threads)
	}
}

// recalled reports whether the server wants the running job's helpers
// back.
func (r *workerRunner) recalled() bool {
	return int64(r.a.u64(ctlHelpStop).Load()) == r.job.Load()
}

// Run implements cgo.Runner: up to threads-1 helpers join the call unless
// the server has recalled them.
func (r *workerRunner) Run(n, threads int, task func(int)) {
	want := 0
	if !r.recalled() {
		want = min(n, threads, maxHelpOffers) - 1
		r.startHelpers(want)
	}
	runShared(n, task, want, r.offer)
}

// startHelpers makes sure that want helpers exist.
func (r *workerRunner) startHelpers(want int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ; r.started < want; r.started++ {
		go r.helper()
	}
}

// offer queues h for a helper; false when the offers are full.
func (r *workerRunner) offer(h *helpCall) bool {
	select {
	case r.help <- h:
		return true
	default:
		return false
	}
}

// helper runs the calls offered to it, for the worker's life, on a thread
// of its own.
func (r *workerRunner) helper() {
	runtime.LockOSThread()
	// Never unlocked: the thread stays a compute thread, as the pool's do.
	helping := r.a.u32(ctlHelping)
	for h := range r.help {
		helping.Add(1)
		h.help(r.recalled)
		helping.Add(^uint32(0))
	}
}
