package executor

import (
	"fmt"
	"os"

	"github.com/crunchsvc/crunch/cgo"
	"golang.org/x/sys/unix"
)

// Why pool kernels run on shadow threads when the pool has a Group: a
// client in another session or cgroup than the server's meets the
// server's compute threads as one group of full weight (see ComputeGroup),
// and waits for a CPU behind them up to a tick, however low their own
// class. An idle cpu cgroup lifts that, but only for threads that never
// run Go code: a starved thread holding one of the Go scheduler's Ps or a
// runtime lock holds up the whole server. So each worker keeps its Go
// thread out of the group and sends its C calls to a shadow, a pthread
// of the C library's own that lives in the group: the worker waits inside
// its cgo call while the shadow computes. A parallel call's helpers serve
// its team on their own shadows, and its team asks for them through an
// eventfd rather than by calling into Go.

// startShadow gives worker i a shadow in the pool's Group, on the
// worker's locked thread (the shadow inherits its class and CPUs). Where
// that fails, it logs why and the worker runs its kernels itself.
func (p *Pool) startShadow(i int) {
	if p.cfg.Group == nil || p.recruits == nil {
		return
	}
	sh, err := cgo.StartShadow()
	if err != nil {
		p.cfg.Log.Warn("pool worker runs its kernels on its own thread", "worker", i, "err", err)
		return
	}
	if err := p.cfg.Group.AddThread(sh.TID()); err != nil {
		sh.Stop()
		p.cfg.Log.Warn("pool worker runs its kernels on its own thread", "worker", i, "err", err)
		return
	}
	// The shadow polls for the next call as long as a worker polls for
	// the next job.
	sh.SetSpin(p.cfg.Spin)
	p.teams[i].RecruitThrough(p.recruitFD)
	p.shadows[i] = sh
	p.shadowTids[i].Store(int32(sh.TID()))
}

// stopShadow ends worker i's shadow, if it has one.
func (p *Pool) stopShadow(i int) {
	p.shadowTids[i].Store(0)
	p.shadows[i].Stop()
	p.shadows[i] = nil
}

// shadowMinWork is the least work (kernels.Call.Work) a job needs for its
// worker to send it to its shadow. A hand-off costs two wake-ups, and a
// thread of the compute cgroup (idle, where this was measured, or of the
// least weight) starts only once no other thread wants its CPU, which a
// polling caller or the Go runtime's own spinning threads may for a
// while: a modsum of 10^6 iterations (55 µs alone) came back in 270-320
// µs through a shadow, in 50-80 µs on the worker's own thread
// (BenchmarkDispatch). Most jobs below this run for about half a
// millisecond or less (10^7 iterations of modsum: 0.44-0.79 ms; 10^7
// multiply-adds of gemm: 0.45 ms, from gemm 256's 0.75 ms on one thread).
// Stats, whose unit is an element read from memory, is the exception: up
// to about 4 ms (10^7 elements took 3.7-4.4 ms). Either way a client in
// another session waits behind such a job no longer than the job.
const shadowMinWork = 1e7

// useShadow sends x's C calls to worker i's shadow, if it has one and job
// is worth the hand-off (shadowMinWork).
func (p *Pool) useShadow(x *cgo.Ctx, job *Job, i int) {
	if sh := p.shadows[i]; sh != nil && job.Call.Work >= shadowMinWork {
		x.SetShadow(sh)
	}
}

// startRecruiter opens the eventfd the teams of workers with a shadow
// recruit through, and starts serveRecruits. Without it the workers run
// their kernels themselves.
func (p *Pool) startRecruiter() {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		p.cfg.Log.Warn("pool workers run their kernels on their own threads", "err", fmt.Errorf("eventfd: %w", err))
		return
	}
	// Non-blocking, so reads park the goroutine in the runtime's poller
	// and Close ends them; fd itself is kept for the teams, since File.Fd
	// would make the file blocking.
	p.recruitFD, p.recruits = fd, os.NewFile(uintptr(fd), "crunch-recruit")
	p.recruiter.Add(1)
	go p.serveRecruits()
}

// serveRecruits answers the teams' requests for helpers until the eventfd
// is closed: each wake-up may stand for several requests, so every team
// is asked for its own.
func (p *Pool) serveRecruits() {
	defer p.recruiter.Done()
	var count [8]byte
	for {
		if _, err := p.recruits.Read(count[:]); err != nil {
			return
		}
		for _, t := range p.teams {
			if want := t.TakeRecruitRequest(); want > 0 {
				if lack := want - t.Attached(); lack > 0 {
					poolRecruiter{p}.Recruit(t, lack)
				}
			}
		}
	}
}

// stopRecruiter closes the eventfd and waits for serveRecruits to end;
// called once no call runs, so that no team writes to it.
func (p *Pool) stopRecruiter() {
	if p.recruits == nil {
		return
	}
	p.recruits.Close()
	p.recruiter.Wait()
}
