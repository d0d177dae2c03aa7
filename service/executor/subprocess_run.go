package executor

import (
	"fmt"
	"time"

	"github.com/crunchsvc/crunch/service/wire"
)

// exchange is one task's trip through a slot's worker: it answers the task
// exactly once, whatever the worker does.
type exchange struct {
	w        *slot
	t        *subTask
	answered bool
	loan     *loan // the slots lent to this attempt, until it ends
}

// endLoan gives back the slots lent to the job: its worker has answered
// or died.
func (x *exchange) endLoan() {
	x.loan.end()
	x.loan = nil
}

func (x *exchange) answer(out *Outcome, err error) {
	if !x.answered {
		x.answered = true
		x.t.finish(out, err)
	}
}

// run runs t on the slot's worker. A worker that dies before it has even
// taken the job (killed while idle, say, just before the job came) cannot
// have been harmed by it: the job is given once more to its replacement.
func (w *slot) run(t *subTask) {
	defer t.job.release()   // the arguments were copied to the worker, or never will be
	if t.ctx.Err() != nil { // abandoned while queued: its Run already answered
		t.finish(nil, StopReason(t.ctx))
		return
	}
	w.s.busy.Add(1)
	defer w.s.busy.Add(-1)
	x := &exchange{w: w, t: t}
	for attempt := 0; ; attempt++ {
		if !x.once(attempt) {
			return
		}
		if !w.replace() {
			x.answer(nil, ErrClosed)
			return
		}
	}
}

// once posts the task to the worker and waits for its result, forwarding
// progress. When the task's context ends, the worker is told to cancel the
// job and given KillGrace to answer before it is killed. It reports true
// when the worker died without taking the job, on the first attempt: the
// caller then retries on a new worker.
func (x *exchange) once(attempt int) (retry bool) {
	w, t := x.w, x.t
	s, p := w.s, w.p
	p.markStderr()
	start := time.Now()
	x.loan = s.lend(w, t)
	defer x.endLoan()
	posted, err := w.post(t, x.loan.threads())
	if err != nil || !posted {
		if err == nil {
			err = StopReason(t.ctx) // the caller gave up: it has its answer already
		}
		x.answer(nil, err)
		return false
	}
	p.jobs++
	if s.cfg.MaxJobs > 0 && p.jobs == s.cfg.MaxJobs {
		w.startSpare()
	}

	a := p.arena
	results, sleeping := a.u32(ctlResSeq), a.u32(ctlServerSleeping)
	got := spinUntilChange(results, p.seq-1, s.cfg.Spin)
	ctxDone := t.ctx.Done()
	var grace <-chan time.Time
	killed := false
	for !got {
		// Set before the last look, so that a result posted after it
		// comes with a wake frame (pipe.go).
		sleeping.Store(1)
		if got = results.Load() == p.seq; got {
			break
		}
		select {
		case f, ok := <-p.frames:
			if !ok {
				return x.died(p, killed, attempt)
			}
			if f.kind == frameProgress {
				x.progress(f.payload)
			} // a wake: look again
		case <-ctxDone:
			// Run has answered already; stop the kernel, and keep the
			// worker if it stops in time.
			ctxDone = nil
			x.answer(nil, StopReason(t.ctx))
			a.u64(ctlCancel).Store(uint64(t.id))
			p.send(frameCancel, idPayload(t.id))
			timer := time.NewTimer(s.cfg.KillGrace)
			defer timer.Stop()
			grace = timer.C
		case <-grace:
			grace = nil
			killed = true
			p.kill() // its death arrives through frames
		}
	}
	sleeping.Store(0)
	x.endLoan()
	took := time.Since(start)
	w.quick = 0

	// Tensors are copied out of the arena, which the next job overwrites,
	// into the job's result memory, unless the job was cancelled and
	// stopped in time: nobody wants its result then, and it is read only
	// for its size.
	op := t.job.Call.Op.Name
	r := newShmReader(a, a.u64(ctlResOff).Load(), a.u64(ctlResHdr).Load(), !x.answered)
	r.alloc = t.job.Out
	rep, err := r.result()
	a.peak = max(a.peak, r.end)
	if x.answered {
		a.release()
		return false
	}
	if err == nil && rep.ID != t.id {
		err = fmt.Errorf("result of job %d, want %d", rep.ID, t.id)
	}
	if err != nil {
		// A worker that sends garbage cannot be trusted with more.
		e := wire.Errorf(wire.WorkerFailed, "worker %d sent an undecodable result while running %s: %v", p.pid, op, err)
		s.cfg.Log.Error(e.Message + "; killing it")
		x.answer(nil, e)
		p.kill()
		w.bury()
		return false
	}
	// The pages beyond arenaKeep that the job used stay for the next one
	// (faulting them in again cost a gemm of 2048 a third of its time);
	// the slot gives them back once idle for arenaIdleRelease (take).
	s.avgRun.add(took)
	if s.cfg.MaxJobs == 0 || p.jobs < s.cfg.MaxJobs { // a worker due to retire takes no more
		w.enterIdle()
	}
	switch {
	case rep.OK:
		x.answer(&Outcome{Result: rep.Result, QueueUS: micros(start.Sub(t.enqueued)), RunUS: micros(took), Worker: p.pid}, nil)
	case rep.Error != nil:
		x.answer(nil, rep.Error)
	default:
		x.answer(nil, wire.Errorf(wire.Internal, "worker %d answered %s with neither a result nor an error", p.pid, op))
	}
	return false
}

// post lays t's job out in the worker's arena, granted threads threads,
// and tells the worker. It reports false, posting nothing, when t's caller
// has given up: the arguments may be in use again.
func (w *slot) post(t *subTask, threads int) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.abandoned {
		return false, nil
	}
	p, op := w.p, t.job.Call.Op.Name
	a := p.arena
	if err := w.msg.job(t.id, t.job, threads); err != nil {
		w.msg.reset()
		return false, wire.Errorf(wire.Internal, "subprocess: encoding the %s job: %v", op, err)
	}
	hdr := len(w.msg.hdr)
	_, err := w.msg.place(a, arenaCtlSize)
	w.msg.reset() // holds the caller's tensors otherwise
	if err != nil {
		return false, wire.Errorf(wire.TooLarge, "subprocess: the %s job: %v", op, err)
	}
	a.u64(ctlJobHdr).Store(uint64(hdr))
	p.seq++
	a.u32(ctlJobSeq).Store(p.seq)
	// After the store: a worker that set its flag before it sees the job.
	if a.u32(ctlWorkerSleeping).Swap(0) != 0 {
		p.send(frameWake, nil)
	}
	return true, nil
}

// progress forwards a progress frame of the running job to its caller.
func (x *exchange) progress(payload []byte) {
	id, f, err := parseProgress(payload)
	if err == nil && id == x.t.id && !x.answered && x.t.job.Progress != nil {
		x.t.job.Progress(f)
	}
}

// died buries a worker that died while it had x's job, answers the job
// unless it never reached the worker, and says so in the log. It reports
// true when the job should be retried.
func (x *exchange) died(p *workerProc, killed bool, attempt int) (retry bool) {
	w := x.w
	log := w.s.cfg.Log
	// Read before bury unmaps the arena.
	taken := p.arena.u32(ctlTaken).Load() == p.seq
	x.endLoan() // before bury unmaps the arena the loan reads
	op := x.t.job.Call.Op.Name
	reason, said := w.bury()
	switch {
	case killed:
		log.Warn(fmt.Sprintf("worker %d ignored the cancel of its %s job for %v and was killed; restarting it", p.pid, op, w.s.cfg.KillGrace))
	case x.answered:
		log.Warn(fmt.Sprintf("worker %d %s after its %s job was answered%s; restarting it", p.pid, reason, op, said))
	case !taken && attempt == 0:
		if time.Since(p.started) < quickDeath {
			w.quick++
		}
		log.Warn(fmt.Sprintf("worker %d %s before taking its %s job%s; restarting it and giving it the job", p.pid, reason, op, said))
		return true
	default:
		msg := fmt.Sprintf("worker %d %s while running %s%s", p.pid, reason, op, said)
		log.Warn(msg + "; restarting it")
		x.answer(nil, wire.Errorf(wire.WorkerFailed, "%s", msg))
	}
	return false
}
