package executor

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// slot is one worker's place in the executor: the goroutine in own and the
// process it runs, replaced when it dies or is recycled.
type slot struct {
	s     *Subprocess
	n     int
	p     *workerProc // nil between workers; only own touches it after start
	pid   atomic.Int64
	quick int // consecutive quick deaths or failed starts, for the backoff

	// spare delivers the replacement started for a worker due to retire
	// (SubprocessConfig.MaxJobs); nil when none is starting.
	spare chan spareStart
	msg   shmMsg               // reused to lay out every job
	wake  chan struct{}        // a task was queued for this slot, idle (see take)
	loan  atomic.Pointer[loan] // the running job this idle slot is lent to
}

// spareStart is the outcome of starting a replacement worker.
type spareStart struct {
	p   *workerProc
	err error
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
	defer w.shutdown()
	for {
		if w.p == nil && !w.replace() {
			return
		}
		t, ev, alive := w.take()
		switch ev {
		case tookClose:
			return
		case tookFrame:
			if !alive {
				w.buryIdle()
			}
			continue // else a spare wake-up from a finished job
		}
		if w.died() {
			// It died idle and the select chose the task first: the task
			// deserves a live worker.
			w.buryIdle()
			if !w.replace() {
				t.finish(nil, ErrClosed)
				t.job.release()
				return
			}
		}
		w.run(t)
		if limit := s.cfg.MaxJobs; limit > 0 && w.p != nil && w.p.jobs >= limit {
			w.recycle()
		}
	}
}

// shutdown stops the slot's worker, and its replacement if one is
// starting, when own ends.
func (w *slot) shutdown() {
	if w.spare != nil {
		if r := <-w.spare; r.p != nil {
			r.p.stop(stopGrace)
		}
		w.spare = nil
	}
	if w.p != nil {
		w.p.stop(stopGrace)
		w.setProc(nil)
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

// startSpare starts a replacement for the worker in the background, so
// that retiring it after its last job costs the queue no start-up time.
func (w *slot) startSpare() {
	if w.spare != nil {
		return
	}
	ch := make(chan spareStart, 1)
	w.spare = ch
	go func() {
		p, err := startWorker(&w.s.cfg, w.s.spawn, w.s.quit)
		ch <- spareStart{p, err}
	}()
}

// recycle retires a worker that has run its MaxJobs jobs: it exits
// gracefully in the background while replace takes the spare.
func (w *slot) recycle() {
	old := w.p
	w.setProc(nil)
	w.s.retiring.Go(func() { old.stop(stopGrace) })
	w.s.cfg.Log.Info(fmt.Sprintf("worker %d retired after %d jobs", old.pid, old.jobs))
}

// replace gives the slot a new worker: the spare if one was started, else
// a fresh start after the backoff. It reports false when the executor
// closed meanwhile.
func (w *slot) replace() bool {
	if ch := w.spare; ch != nil {
		w.spare = nil
		r := <-ch // startWorker gives up at once when the executor closes
		if r.err == nil {
			w.setProc(r.p)
			return true
		}
		if errors.Is(r.err, ErrClosed) {
			return false
		}
		w.quick++
		w.s.cfg.Log.Error("starting a replacement worker failed", "slot", w.n, "err", r.err, "retry_in", backoff(w.quick))
	}
	return w.restart()
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
	w.s.deaths.Add(1)
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
