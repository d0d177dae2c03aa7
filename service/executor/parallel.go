package executor

import (
	"time"

	"github.com/crunchsvc/crunch/cgo"
)

// Parallel jobs: a job's Threads lets its C kernel run on more than its own
// worker (a cgo.Team, the pool's or a subprocess worker's): a
// kernel's tasks go to the calling worker and to idle workers of the same
// pool, so they run on threads that already carry the pool's priority and
// CPUs, the pool never uses more threads than it has slots, and cancelling
// the job stops every task (they poll the same crunch_ctx). Results do not
// depend on how many workers helped (the C library cuts work by fixed
// sizes).
//
// Policy: a parallel call takes helpers only while no job waits in the
// queue (waiting jobs get the idle workers first), and only workers that
// are idle (on the pool, as the call starts or as they come free during
// it: its team recruits between two of its tasks); while none is, the
// call runs on its own worker alone. A helper runs the call's tasks (its
// fixed-size pieces: a fraction of a millisecond to a few milliseconds
// each) one at a time and goes back to the queue as soon as a job waits
// there, between two tasks; the call's own worker runs whatever is left. So a parallel call never makes
// another job wait longer than one task, and under load every call runs
// on one thread, as it would without threads.

// helped counts the parallel calls a pool's workers joined as helpers.
func (p *Pool) helped() int64 { return p.helps.Load() }

// jobWaiting reports whether a job waits in p's queue: a helper's cue to
// give its worker back.
func (p *Pool) jobWaiting() bool { return p.queue.len() > 0 }

// Threads of a pool's parallel calls: each worker has a cgo.Team, into
// which its calls post their rounds (gemm 2048 has 25). A helper that
// takes an offer serves the team from round to round in C, polling for
// the next round for up to roundSpin, and leaves when a job waits
// (jobFlag), or when no round came. Waking a parked worker for every
// round took 160-190 µs here, and calls into Go between rounds or tasks
// kept the runtime handing Ps between threads (cgo.Team).

// roundSpin is how long a helper polls for its team's next round: longer
// than the gap it waits through when it finishes a round before the
// worker (the worker's last piece; with 1 ms, gemm 2048's helpers timed
// out at most rounds). A job queued meanwhile takes the helper at once
// (jobFlag), and the end of the worker's job sends it back at once
// (Team.End): a helper spinning on after the job cost a fifth of the
// calls per second at 16 connections.
const roundSpin = 3 * time.Millisecond

// poolRecruiter is a pool as its teams' cgo.Recruiter.
type poolRecruiter struct{ p *Pool }

// Recruit offers t to up to want idle workers while no job waits. An
// offer that no worker takes in time is harmless: a worker that takes it
// after the job ended finds no round and leaves at once (Team.End).
func (r poolRecruiter) Recruit(t *cgo.Team, want int) {
	p := r.p
	for range want {
		if p.jobWaiting() || !p.offerHelp(t) {
			return
		}
	}
}

// flagJobs raises p.jobFlag, which helpers in teams poll, while a job
// waits in the queue, and lowers it when none does: called after every
// push and pop. Under flagMu the last call reads the queue after every
// change before it, so the flag ends up right whatever the interleaving.
func (p *Pool) flagJobs() {
	p.flagMu.Lock()
	waiting := int32(0)
	if p.jobWaiting() {
		waiting = 1
	}
	p.jobFlag.Store(waiting)
	p.flagMu.Unlock()
}

// offerHelp gives team t to an idle worker, waking one if need be, and
// counts the offer in t; false when no worker is idle.
func (p *Pool) offerHelp(t *cgo.Team) bool {
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
	t.Attach()
	select {
	case p.help <- t:
	default: // cannot happen: the channel has a place per worker
		t.Detach()
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

// setRunner sets up x for job on worker i: its thread budget, capped by
// the pool's workers, on the worker's team, unless a job waits as it
// starts (the waiting job gets the next free worker).
//
// Whether a worker is free right now does not matter: the team recruits
// at every round that lacks helpers and finds a worker idle (it reads
// p.idle and p.jobFlag in C, so a busy pool costs its rounds no call into
// Go, which would have a compute thread below normal priority take one of
// the Go scheduler's Ps while the server's goroutines wait for it). A
// test of "free" here lost the helper of the call before, which is
// neither idle nor in the team while it goes back to the queue: one call
// in four to ten of a series of gemm 2048 ran on one thread.
func (p *Pool) setRunner(x *cgo.Ctx, job *Job, i int) {
	if t := min(job.Threads, p.cfg.Workers); t > 1 && !p.jobWaiting() {
		x.SetTeam(p.teams[i], t)
	}
}
