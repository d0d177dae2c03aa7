package executor

import "time"

// The subprocess executor's task intake, kept in this one file so that the
// queue can change without touching the slots: enqueue (Run's side),
// failQueued and queued (Close's and Load's), and take (an idle slot's).

// enqueue queues t, or refuses it: ErrClosed after Close, overloaded when
// the queue is full.
func (s *Subprocess) enqueue(t *subTask) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.tasks <- t:
		return nil
	default:
		wait := s.avgRun.get() * time.Duration(len(s.tasks)/len(s.slots)+1)
		return overloaded(wait, "subprocess: queue full (%d jobs waiting for %d workers)", len(s.tasks), len(s.slots))
	}
}

// failQueued answers every queued task with ErrClosed.
func (s *Subprocess) failQueued() {
	for {
		select {
		case t := <-s.tasks:
			t.finish(nil, ErrClosed)
		default:
			return
		}
	}
}

// queued returns the number of tasks waiting for a worker.
func (s *Subprocess) queued() int { return len(s.tasks) }

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
// answered with ErrClosed.
func (w *slot) take() (t *subTask, ev takeEvent, alive bool) {
	s := w.s
	select {
	case <-s.quit:
		return nil, tookClose, false
	case _, ok := <-w.p.frames:
		return nil, tookFrame, ok
	case t := <-s.tasks:
		select {
		case <-s.quit: // select picks at random: never start work after Close
			t.finish(nil, ErrClosed)
			return nil, tookClose, false
		default:
			return t, tookTask, false
		}
	}
}
