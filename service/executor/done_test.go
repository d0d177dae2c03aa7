package executor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/wire"
)

// doneCounter is a Job.Done that counts its calls and notes whether the
// "deaf" op had returned by the first.
type doneCounter struct {
	calls      atomic.Int32
	afterEnded atomic.Bool
	ch         chan struct{}
}

func newDoneCounter() *doneCounter { return &doneCounter{ch: make(chan struct{}, 8)} }

func (d *doneCounter) done() {
	if d.calls.Add(1) == 1 {
		d.afterEnded.Store(deafEnded.Load())
	}
	d.ch <- struct{}{}
}

// wait waits for the first call and checks that no second one follows.
func (d *doneCounter) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-d.ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Done never called", what)
	}
	// A second call is what must not happen: no state says it never will,
	// so the test gives it 20 ms to show up.
	time.Sleep(20 * time.Millisecond)
	if n := d.calls.Load(); n != 1 {
		t.Fatalf("%s: Done called %d times", what, n)
	}
}

// A cancelled job's Run answers at once, but Done waits for the kernel:
// memory its arguments live in (shared memory, say) must outlive it.
func TestJobDoneAfterKernelReturns(t *testing.T) {
	pool := NewPool(PoolConfig{Workers: 1})
	defer pool.Close()
	for _, ex := range []Executor{pool, NewDirect(0)} {
		deafEnded.Store(false)
		job := testJob(t, "deaf", wire.Args{"ms": wire.Int(300)}, "go")
		d := newDoneCounter()
		job.Done = d.done
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		_, err := ex.Run(ctx, job)
		cancel()
		if err == nil && ex.Name() == NamePool {
			t.Fatalf("%s: a job past its deadline succeeded", ex.Name())
		}
		d.wait(t, ex.Name())
		if !d.afterEnded.Load() {
			t.Errorf("%s: Done came before the kernel returned", ex.Name())
		}
	}
}

// Done comes exactly once on every path: success, refusal, a job dropped
// from the queue, a closed executor; on the subprocess executor too.
func TestJobDoneOncePerPath(t *testing.T) {
	sub, _ := newSub(t, SubprocessConfig{Workers: 1, Queue: 1})
	pool := NewPool(PoolConfig{Workers: 1, Queue: 1})
	defer pool.Close()
	for _, ex := range []Executor{pool, sub, NewDirect(0)} {
		name := ex.Name()
		job := testJob(t, "deaf", wire.Args{"ms": wire.Int(1)}, "go")
		d := newDoneCounter()
		job.Done = d.done
		if _, err := ex.Run(context.Background(), job); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d.wait(t, name+", success")
		if name == NameDirect {
			continue
		}

		// One long job runs, one waits, a third is refused; the waiting one
		// is abandoned and dropped when its turn comes.
		long := testJob(t, "deaf", wire.Args{"ms": wire.Int(300)}, "go")
		dLong := newDoneCounter()
		long.Done = dLong.done
		go ex.Run(context.Background(), long)
		testutil.WaitFor(t, 10*time.Second, name+": the long job running", func() bool { return ex.Load().Busy == 1 })
		queued := testJob(t, "deaf", wire.Args{"ms": wire.Int(1)}, "go")
		dQueued := newDoneCounter()
		queued.Done = dQueued.done
		qctx, qcancel := context.WithCancel(context.Background())
		qerr := make(chan error, 1)
		go func() { _, err := ex.Run(qctx, queued); qerr <- err }()
		testutil.WaitFor(t, 10*time.Second, name+": the second job queued", func() bool { return ex.Load().Queued == 1 })
		refused := testJob(t, "deaf", wire.Args{"ms": wire.Int(1)}, "go")
		dRefused := newDoneCounter()
		refused.Done = dRefused.done
		if _, err := ex.Run(context.Background(), refused); wire.AsError(err).Code != wire.Overloaded {
			t.Fatalf("%s: a job beyond the queue: %v, want overloaded", name, err)
		}
		dRefused.wait(t, name+", refused")
		qcancel()
		<-qerr
		dLong.wait(t, name+", long")
		dQueued.wait(t, name+", dropped from the queue")
	}
	sub.Close()
	job := testJob(t, "deaf", wire.Args{"ms": wire.Int(1)}, "go")
	d := newDoneCounter()
	job.Done = d.done
	if _, err := sub.Run(context.Background(), job); err == nil {
		t.Fatal("a closed executor ran a job")
	}
	d.wait(t, "closed subprocess")
}
