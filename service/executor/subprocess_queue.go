package executor

import (
	"slices"
	"time"
)

// The subprocess executor's task intake, kept in this one file so that the
// queue can change without touching the slots: enqueue (Run's side),
// failQueued and queued (Close's and Load's), and take (an idle slot's).
//
// Tasks wait in a fairQueue, as in Pool, so that connections are served in
// turn. Idle slots wait on a stack, and a new task wakes the slot that
// went idle last: its worker may still be polling its arena (Spin), so the
// task reaches it without a process wake-up, which costs tens of
// microseconds. A FIFO of idle slots (a shared channel) would wake the
// slot idle longest, whose worker surely sleeps.

// enqueue queues t, or refuses it: ErrClosed after Close, overloaded when
// the queue is full.
func (s *Subprocess) enqueue(t *subTask) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if !s.queue.push(t.job.Tenant, t) {
		return queueFull("subprocess", s.avgRun.get(), s.queue.len(), len(s.slots))
	}
	// After the push: a slot that went idle before this sees the task
	// when woken, one that goes idle after it finds it in the queue.
	s.wakeIdle()
	s.wakeLent() // lent slots go back for it (subprocess_loan.go)
	return nil
}

// failQueued answers every queued task with ErrClosed.
func (s *Subprocess) failQueued() {
	for {
		t, ok := s.queue.pop()
		if !ok {
			return
		}
		t.finish(nil, ErrClosed)
		t.job.release()
	}
}

// queued returns the number of tasks waiting for a worker.
func (s *Subprocess) queued() int { return s.queue.len() }

// What an idle slot's wait ended with.
type takeEvent int

const (
	tookTask  takeEvent = iota // a task to run
	tookClose                  // the executor is closing
	tookFrame                  // a frame from the idle worker, or its end
)

// take waits, for slot w whose worker is idle, until a task comes, the
// executor closes, or the worker says something (a spare wake-up, or its
// end: alive is then false). A task taken as the executor closes is
// answered with ErrClosed. A slot lent to a running job takes no task
// until it is given back (subprocess_loan.go).
func (w *slot) take() (t *subTask, ev takeEvent, alive bool) {
	s := w.s
	for {
		if l := w.loan.Load(); l != nil {
			if ev, alive, free := w.waitLent(l); !free {
				return nil, ev, alive
			}
		}
		if t, ok := s.queue.pop(); ok {
			w.leaveIdle()
			if l := w.loan.Load(); l != nil {
				// Lent after the look above: the job goes first, as in
				// the pool, and the borrower's helpers leave.
				w.giveBack(l)
			}
			if s.queue.len() > 0 {
				// More tasks wait, and the wake-ups of their enqueues may
				// have gone to this slot (it goes on the stack before it
				// is idle, see enterIdle): wake another.
				s.wakeIdle()
			}
			return s.claim(t)
		}
		w.enterIdle()
		if s.queue.len() > 0 { // pushed before the slot was on the stack
			continue
		}
		// Pages beyond arenaKeep that the last jobs used go back once the
		// slot has waited arenaIdleRelease for the next.
		var release <-chan time.Time
		var timer *time.Timer
		if w.p.arena.holdsExtra() {
			timer = time.NewTimer(arenaIdleRelease)
			release = timer.C
		}
		select {
		case <-s.quit:
			w.leaveIdle()
			return nil, tookClose, false
		case _, ok := <-w.p.frames:
			w.leaveIdle()
			return nil, tookFrame, ok
		case <-w.wake:
			// enqueue took it off the stack; the task may have gone to a
			// busy slot meanwhile, and then the loop waits again.
		case <-release:
			// This goroutine runs the slot's jobs: none is running.
			w.p.arena.release()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// wakeIdle wakes the slot that went idle last, if any.
func (s *Subprocess) wakeIdle() {
	s.idleMu.Lock()
	var w *slot
	if n := len(s.idle); n > 0 {
		w, s.idle = s.idle[n-1], s.idle[:n-1]
	}
	s.idleMu.Unlock()
	if w != nil {
		select {
		case w.wake <- struct{}{}:
		default: // woken already
		}
	}
}

// enterIdle puts w on top of the idle stack, unless it is there already.
// A slot enters it as soon as its worker has answered, before the answer
// reaches the caller, so that the caller's next task finds it while its
// worker still polls; take, not the stack, is what hands out tasks.
func (w *slot) enterIdle() {
	s := w.s
	s.idleMu.Lock()
	if !slices.Contains(s.idle, w) {
		s.idle = append(s.idle, w)
	}
	s.idleMu.Unlock()
}

// leaveIdle takes w off the idle stack and reports whether it was there.
func (w *slot) leaveIdle() bool {
	s := w.s
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	i := slices.Index(s.idle, w)
	if i >= 0 {
		s.idle = slices.Delete(s.idle, i, i+1)
	}
	return i >= 0
}

// claim hands a popped task to its slot, unless the executor is closing:
// no work starts after Close.
func (s *Subprocess) claim(t *subTask) (*subTask, takeEvent, bool) {
	select {
	case <-s.quit:
		t.finish(nil, ErrClosed)
		t.job.release()
		return nil, tookClose, false
	default:
		return t, tookTask, false
	}
}
