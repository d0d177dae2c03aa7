package executor

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/service/kernels"
)

// Parallel jobs on the subprocess executor: the pool's policy (see
// parallel.go), with slots for workers. A job whose Threads is above 1
// borrows, as it is posted, slots that are idle at that moment, up to
// Threads-1 of them, and only while no job waits in the queue; its worker
// process is told how many threads it was granted and runs the kernel's
// tasks on that many threads of its own (worker_threads.go). A lent slot
// takes no job, so the threads computing never outnumber the workers.
//
// As in the pool, borrowed threads go back as soon as a job waits: the
// enqueue wakes the lent slots, and a lent slot that finds a job waiting
// recalls the borrower's helper threads (ctlHelpStop), which leave its
// kernel between two tasks, waits until none is left inside it
// (ctlHelping), and goes back to taking jobs. A recall ends the loan for
// every slot of it, as every helper of a pool call leaves when a job
// waits. When the borrower's job ends, or its worker dies, its slots go
// back at once.

// loan is the slots lent to one running job.
type loan struct {
	id    int64  // the borrower's job
	a     *arena // the borrower's arena; read only while !ended, under mu
	slots int    // how many were lent

	mu       sync.Mutex
	ended    bool // the job's worker answered or died: no helper is left
	recalled atomic.Bool
	done     chan struct{} // closed when the loan ends
}

// threads is the thread budget the loan gives its job: its own thread and
// one per lent slot.
func (l *loan) threads() int {
	if l == nil {
		return 1
	}
	return 1 + l.slots
}

// lend lends borrower, about to post t, up to t's Threads-1 idle slots,
// if no job waits; nil when it lends none. Only C kernels take a runner,
// so only they borrow. Slots are taken from the top of the idle stack (the
// last to go idle), where enqueue would look first: the same slots a
// queued job would get.
func (s *Subprocess) lend(borrower *slot, t *subTask) *loan {
	want := min(t.job.Threads, len(s.slots)) - 1
	if want <= 0 || t.job.Impl != kernels.ImplC || s.queue.len() > 0 {
		return nil
	}
	l := &loan{id: t.id, a: borrower.p.arena, done: make(chan struct{})}
	var lent []*slot
	s.idleMu.Lock()
	for i := len(s.idle) - 1; i >= 0 && len(lent) < want; i-- {
		if v := s.idle[i]; v != borrower && v.loan.Load() == nil {
			lent = append(lent, v)
			// Under idleMu: a slot that pops a job leaves the stack under
			// it too, and then sees its loan (take).
			v.loan.Store(l)
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
		}
	}
	s.idleMu.Unlock()
	if len(lent) == 0 {
		return nil
	}
	l.slots = len(lent)
	s.lent.Add(int32(len(lent)))
	for _, v := range lent {
		v.poke() // to wait as a lent slot, not as an idle one
	}
	return l
}

// end ends the loan: the borrower's worker has answered (its kernel, and
// so every helper, has returned) or died. Its arena is not read after.
func (l *loan) end() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
	close(l.done)
}

// recall asks the borrower's helpers to leave, and reports whether none is
// left inside its kernel (or the loan ended).
func (l *loan) recall() bool {
	l.recalled.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return true
	}
	// Before the count: a helper that joins after the count was read sees
	// the id before its first task, and leaves (worker_threads.go).
	l.a.u64(ctlHelpStop).Store(uint64(l.id))
	return l.a.u32(ctlHelping).Load() == 0
}

// giveBack recalls l's helpers, waits until none runs, and takes w out
// of l: w may take jobs again.
func (w *slot) giveBack(l *loan) {
	// A helper leaves between two tasks: a fraction of a millisecond to a
	// few milliseconds. A worker that dies instead ends the loan.
	for wait := time.Microsecond; !l.recall(); wait = min(2*wait, 100*time.Microsecond) {
		select {
		case <-l.done:
		case <-time.After(wait):
		}
	}
	w.loan.Store(nil)
	w.s.lent.Add(-1)
}

// waitLent waits while w is lent to l: until the loan ends, or is
// recalled, or a job waits (then w recalls it), or the executor closes
// (tookClose), or w's idle worker says something (tookFrame: alive false
// when it ended). ok reports that w is free again.
func (w *slot) waitLent(l *loan) (ev takeEvent, alive, ok bool) {
	s := w.s
	for {
		if s.queue.len() > 0 || l.recalled.Load() {
			w.giveBack(l)
			return 0, false, true
		}
		select {
		case <-l.done:
			w.giveBack(l)
			return 0, false, true
		case <-s.quit:
			return tookClose, false, false
		case _, alive := <-w.p.frames:
			return tookFrame, alive, false
		case <-w.wake:
		}
	}
}

// wakeLent wakes every lent slot: a job waits, which lent slots go back
// for.
func (s *Subprocess) wakeLent() {
	if s.lent.Load() == 0 {
		return
	}
	for _, w := range s.slots {
		if w.loan.Load() != nil {
			w.poke()
		}
	}
}

// poke wakes w if it waits in take.
func (w *slot) poke() {
	select {
	case w.wake <- struct{}{}:
	default: // woken already
	}
}

// Threads returns the most threads a job on s may use: its workers.
func (s *Subprocess) Threads() int { return len(s.slots) }
