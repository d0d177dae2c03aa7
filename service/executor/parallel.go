package executor

import (
	"sync"
	"sync/atomic"

	"github.com/crunchsvc/crunch/cgo"
)

// Parallel jobs: a job's Threads lets its C kernel run on more than its own
// worker (cgo.Runner). The pool is the runner: a kernel's tasks go to the
// calling worker and to idle workers of the same pool, so they run on
// threads that already carry the pool's priority and CPUs, the pool never
// uses more threads than it has slots, and cancelling the job stops every
// task (they poll the same crunch_ctx). Results do not depend on how many
// workers helped (the C library cuts work by fixed sizes).
//
// Policy: a parallel call takes helpers only while no job waits in the
// queue (waiting jobs get the idle workers first), and only workers that
// are idle at that moment; when none is, the call runs on its own worker
// alone. A helper runs the call's tasks (its fixed-size pieces: a fraction
// of a millisecond to a few milliseconds each) one at a time and goes back
// to the queue as soon as a job waits there, between two tasks; the
// call's own worker runs whatever is left. So a parallel call never makes
// another job wait longer than one task, and under load every call runs
// on one thread, as it would without threads.

// helpCall is one parallel call's tasks, shared by the worker running the
// kernel and its helpers.
type helpCall struct {
	task func(int)
	n    int64
	next atomic.Int64 // the next task to run

	mu     sync.Mutex // guards closed and the Add of wg
	closed bool       // the caller finished its share: helpers not yet started stay out
	wg     sync.WaitGroup
}

// loop runs tasks until every one has been claimed, or, when leave is not
// nil, until leave reports true before a task.
func (h *helpCall) loop(leave func() bool) {
	for leave == nil || !leave() {
		i := h.next.Add(1) - 1
		if i >= h.n {
			return
		}
		h.task(int(i))
	}
}

// help is a helper's part: it joins unless the caller has finished its own
// loop (then every task is claimed already, and nobody waits for it), and
// leaves when leave says so.
func (h *helpCall) help(leave func() bool) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	h.loop(leave)
}

// helped counts the parallel calls a pool's workers joined as helpers.
func (p *Pool) helped() int64 { return p.helps.Load() }

// jobWaiting reports whether a job waits in p's queue: a helper's cue to
// give its worker back.
func (p *Pool) jobWaiting() bool { return p.queue.len() > 0 }

// poolRunner is a Pool as a cgo.Runner.
type poolRunner struct{ p *Pool }

// Run implements cgo.Runner: it offers the call to up to threads-1 idle
// workers, runs tasks itself, and waits for the helpers that joined. A
// helper offer that no worker takes in time is harmless: a worker that
// takes it after the call finds it closed.
func (r poolRunner) Run(n, threads int, task func(int)) {
	p := r.p
	want := 0
	if p.queue.len() == 0 {
		want = min(n, threads, p.cfg.Workers) - 1
	}
	runShared(n, task, want, p.offerHelp)
}

// runShared runs task(i) for every i in [0, n): on the calling thread,
// and on the helpers that offer, called up to want times until it reports
// false, finds. It returns when every task has returned. Both runners, the
// pool's and a subprocess worker's, go through it.
func runShared(n int, task func(int), want int, offer func(*helpCall) bool) {
	h := &helpCall{task: task, n: int64(n)}
	for range want {
		if !offer(h) {
			break
		}
	}
	h.loop(nil)
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.wg.Wait()
}

// offerHelp gives h to an idle worker, waking one if need be; false when
// no worker is idle.
func (p *Pool) offerHelp(h *helpCall) bool {
	for {
		idle := p.idle.Load()
		if idle <= 0 {
			return false
		}
		// Reserve an idle worker, so that offers never exceed them.
		if p.idle.CompareAndSwap(idle, idle-1) {
			break
		}
	}
	select {
	case p.help <- h:
	default: // cannot happen: the channel has a place per worker
		p.idle.Add(1)
		return false
	}
	if p.parked.Load() > 0 {
		select {
		case p.wake <- struct{}{}:
		default: // enough tokens out already
		}
	}
	return true
}

// Threads returns the most threads a job on p may use: its workers.
func (p *Pool) Threads() int { return p.cfg.Workers }

// setRunner sets up x for job: its thread budget, capped by the pool's
// workers, on the pool's runner.
//
// Only when a worker is idle and no job waits as the call starts: a busy
// pool gains nothing from a runner, and its callbacks into Go would have a
// compute thread (below normal priority) take one of the Go scheduler's Ps
// for every piece, which the kernel may then leave unscheduled while the
// server's goroutines wait for it.
func (p *Pool) setRunner(x *cgo.Ctx, job *Job) {
	if t := min(job.Threads, p.cfg.Workers); t > 1 && p.idle.Load() > 0 && !p.jobWaiting() {
		x.SetRunner(p.runner, t)
	}
}
