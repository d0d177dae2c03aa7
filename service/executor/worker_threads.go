package executor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/cgo"
)

// A subprocess worker's threads for parallel jobs. The server grants a job
// threads (the job message says how many: its own and one per idle slot
// lent to it, see subprocess_loan.go), and the job's parallel calls post
// their rounds on the worker's cgo.Team, which the job's thread and
// helper goroutines of the worker's own serve, each locked to an OS
// thread for the worker's life. They are started lazily, from threads
// that already carry the worker's priority and cpu cgroup, so they inherit
// both; they poll the same crunch_ctx as the job's thread, so a cancel
// stops them all and progress counts every task. A team rather than
// crunch_runner_pthreads: the helpers must be able to leave between two
// tasks when the server recalls them (ctlHelpStop), which a runner that
// runs every task to the end cannot, starting threads per call costs tens
// of microseconds, and a team passes rounds to its helpers without a call
// into Go (the pool's parallel calls use one too: parallel.go).
//
// A helper counts itself in ctlHelping while it serves the team, so that
// a recalled slot knows when its thread is free again: it stores the job's
// id in ctlHelpStop and waits for ctlHelping to reach 0. A helper counts
// itself before its first look at ctlHelpStop, so a recall never misses a
// helper that goes on running tasks.

// maxHelpOffers bounds the offers waiting for a helper of one worker; far
// above the workers of any executor.
const maxHelpOffers = 1024

// workerRunner is a worker's team and its helpers.
type workerRunner struct {
	a    *arena
	team *cgo.Team
	help chan *cgo.Team // offers to join the team

	mu      sync.Mutex // guards started
	started int        // helper goroutines started
	helpers sync.WaitGroup

	job atomic.Int64 // the running job's id
}

func newWorkerRunner(a *arena) *workerRunner {
	r := &workerRunner{a: a, help: make(chan *cgo.Team, maxHelpOffers)}
	r.team = cgo.NewTeam(r, nil, nil)
	return r
}

// setRunner gives x job's thread budget on r's team, when the server
// granted more than one thread. The team recruits only until the job's
// helpers are recalled.
func (r *workerRunner) setRunner(x *cgo.Ctx, job *Job) {
	if job.Threads > 1 {
		r.team.LeaveWhen(r.a.u64(ctlHelpStop), uint64(r.job.Load()))
		x.SetTeam(r.team, job.Threads)
	}
}

// jobEnded sends the team's helpers back once the job's kernel returned,
// and waits until they are out of it (offers not yet taken included):
// the server takes a job's result as the sign that its helpers have left
// (ctlHelping), and a helper at idle priority may take a while to see
// End on a busy machine.
func (r *workerRunner) jobEnded() {
	r.team.End()
	helping := r.a.u32(ctlHelping)
	for r.team.Attached() > 0 || helping.Load() > 0 {
		time.Sleep(20 * time.Microsecond) // leave the CPU to them
	}
}

// Recruit implements cgo.Recruiter: up to want helpers are offered the
// team. (The team asks only while the job's helpers are not recalled:
// LeaveWhen.)
func (r *workerRunner) Recruit(t *cgo.Team, want int) {
	want = min(want, maxHelpOffers)
	r.startHelpers(want)
	for range want {
		t.Attach()
		select {
		case r.help <- t:
		default: // the offers are full
			t.Detach()
			return
		}
	}
}

// startHelpers makes sure that want helpers exist.
func (r *workerRunner) startHelpers(want int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ; r.started < want; r.started++ {
		r.helpers.Add(1)
		go r.helper()
	}
}

// close sends the helpers away for good and waits for them to leave, once
// no job runs: they read the arena, which the worker unmaps as it exits.
func (r *workerRunner) close() {
	close(r.help)
	r.helpers.Wait()
	r.team.Close()
}

// helper serves the team when offered, for the worker's life, on a thread
// of its own, until its job's helpers are recalled, the job ends or no
// round comes for roundSpin.
func (r *workerRunner) helper() {
	defer r.helpers.Done()
	runtime.LockOSThread()
	// Never unlocked: the thread stays a compute thread, as the pool's do.
	helping := r.a.u32(ctlHelping)
	for t := range r.help {
		helping.Add(1) // before the team's first look at the recall
		t.Serve(roundSpin, nil)
		helping.Add(^uint32(0))
	}
}
