package executor

import "time"

// The subprocess executor's task intake, kept in this one file so that the
// queue can change without touching the slots: enqueue (Run's side),
// failQueued and queued (Close's and Load's), and take (an idle slot's).
// Tasks wait in a fairQueue, as in Pool, so that connections are served in
// turn; ready carries one token per queued task to wake an idle slot.

// enqueue queues t, or refuses it: ErrClosed after Close, overloaded when
// the queue is full.
func (s *Subprocess) enqueue(t *subTask) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if !s.queue.push(t.job.Tenant, t) {
		queued := s.queue.len()
		wait := s.avgRun.get() * time.Duration(queued/len(s.slots)+1)
		return overloaded(wait, "subprocess: queue full (%d jobs waiting for %d workers)", queued, len(s.slots))
	}
	// One token per queued task, sent after the push: a slot that takes a
	// token always finds a task. The channel holds as many tokens as the
	// queue holds tasks, so this never blocks.
	select {
	case s.ready <- struct{}{}:
	default:
	}
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
// answered with ErrClosed.
func (w *slot) take() (t *subTask, ev takeEvent, alive bool) {
	s := w.s
	for {
		select {
		case <-s.quit:
			return nil, tookClose, false
		case _, ok := <-w.p.frames:
			return nil, tookFrame, ok
		case <-s.ready:
			t, ok := s.queue.pop()
			if !ok {
				continue // Close failed the task this token stood for
			}
			select {
			case <-s.quit: // select picks at random: never start work after Close
				t.finish(nil, ErrClosed)
				return nil, tookClose, false
			default:
				return t, tookTask, false
			}
		}
	}
}
