package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// modsumJob prepares a modsum call.
func modsumJob(t testing.TB, n, iters int64, impl string) *Job {
	t.Helper()
	return testJob(t, "modsum", wire.Args{"n": wire.Int(n), "iters": wire.Int(iters)}, impl)
}

func total(t testing.TB, out *Outcome) int64 {
	t.Helper()
	v, ok := out.Result["total"]
	if !ok {
		t.Fatalf("no total in %v", out.Result)
	}
	var n int64
	if _, err := fmt.Sscan(string(v.JSON), &n); err != nil {
		t.Fatalf("total %s: %v", v.JSON, err)
	}
	return n
}

// inProcess lists the executors that run in this process, fresh for each
// test.
func inProcess(t *testing.T) map[string]Executor {
	execs := map[string]Executor{
		NameDirect: NewDirect(0),
		NamePool:   NewPool(PoolConfig{Workers: 2, Queue: 4}),
	}
	t.Cleanup(func() {
		for _, ex := range execs {
			ex.Close()
		}
	})
	return execs
}

func TestRightResult(t *testing.T) {
	for name, ex := range inProcess(t) {
		for _, impl := range []string{kernels.ImplC, kernels.ImplGo} {
			out, err := ex.Run(context.Background(), modsumJob(t, 7, 100000, impl))
			if err != nil {
				t.Fatalf("%s/%s: %v", name, impl, err)
			}
			// sum over i < 100000 of 7i mod 97, computed independently (Python)
			if got := total(t, out); got != 4799853 {
				t.Errorf("%s/%s: total %d, want 4799853", name, impl, got)
			}
		}
	}
}

func TestCancelWhileRunning(t *testing.T) {
	for name, ex := range inProcess(t) {
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(30*time.Millisecond, func() { cancel(wire.Errorf(wire.Canceled, "canceled by request 8")) })
		start := time.Now()
		_, err := ex.Run(ctx, modsumJob(t, 3, 1e15, kernels.ImplC))
		if e := wire.AsError(err); e == nil || e.Code != wire.Canceled || e.Message != "canceled by request 8" {
			t.Fatalf("%s: got %v, want the cancel's cause", name, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: cancel took %v", name, took)
		}
		// Healthy afterwards.
		if _, err := ex.Run(context.Background(), modsumJob(t, 1, 10, kernels.ImplC)); err != nil {
			t.Fatalf("%s after cancel: %v", name, err)
		}
	}
}

func TestDeadline(t *testing.T) {
	for name, ex := range inProcess(t) {
		for _, impl := range []string{kernels.ImplC, kernels.ImplGo} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, err := ex.Run(ctx, modsumJob(t, 3, 1e15, impl))
			cancel()
			if e := wire.AsError(err); e == nil || e.Code != wire.DeadlineExceeded {
				t.Fatalf("%s/%s: got %v, want deadline_exceeded", name, impl, err)
			}
		}
	}
}

func TestProgressReported(t *testing.T) {
	for name, ex := range inProcess(t) {
		var mu sync.Mutex
		var seen []float64
		job := modsumJob(t, 3, 2e9, kernels.ImplGo) // about a second of Go loop
		job.Progress = func(f float64) { mu.Lock(); seen = append(seen, f); mu.Unlock() }
		ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
		ex.Run(ctx, job)
		cancel()
		mu.Lock()
		if len(seen) < 2 || len(seen) > 6 {
			t.Errorf("%s: %d progress reports in 450 ms, want about 4: %v", name, len(seen), seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] || seen[i] > 1 {
				t.Errorf("%s: progress not increasing: %v", name, seen)
			}
		}
		mu.Unlock()
	}
}

func TestPoolOverloaded(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, Queue: 1})
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	// One running, then one queued: the second is started only once the
	// first runs, so that it never meets the first still in the queue (a
	// queue of one would refuse it).
	waitFor := func(what string, cond func(Load) bool) {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, what, func() bool { return cond(p.Load()) })
	}
	start := func() {
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx, modsumJob(t, 3, 1e15, kernels.ImplC)) }()
	}
	start()
	waitFor("one job running", func(l Load) bool { return l.Busy == 1 })
	start()
	waitFor("one job queued", func(l Load) bool { return l.Queued == 1 })
	// Bounded, so that a pool that wrongly queues this job fails the test
	// instead of hanging it.
	third, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	_, err := p.Run(third, modsumJob(t, 1, 1, kernels.ImplC))
	e := wire.AsError(err)
	if e == nil || e.Code != wire.Overloaded || e.RetryAfterMS <= 0 {
		t.Fatalf("got %v, want overloaded with retry_after_ms", err)
	}
	cancel()
	wg.Wait()
}

// Beyond its cap, a direct call waits for a slot (holding no thread) until
// its context ends, and runs once one is free.
func TestDirectCap(t *testing.T) {
	d := NewDirect(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, modsumJob(t, 3, 1e15, kernels.ImplC)); close(done) }()
	testutil.WaitFor(t, 10*time.Second, "the first job running", func() bool { return d.Load().Busy > 0 })
	short, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	_, err := d.Run(short, modsumJob(t, 1, 1, kernels.ImplC))
	if e := wire.AsError(err); e == nil || e.Code != wire.DeadlineExceeded {
		t.Fatalf("got %v, want deadline_exceeded while waiting for the slot", err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := d.Run(context.Background(), modsumJob(t, 1, 1, kernels.ImplC))
		waited <- err
	}()
	testutil.WaitFor(t, 10*time.Second, "the second job waiting", func() bool { return d.Load().Queued == 1 })
	if l := d.Load(); l.Busy != 1 {
		t.Fatalf("load %+v, want one running", l)
	}
	cancel()
	<-done
	if err := <-waited; err != nil {
		t.Fatalf("the waiting job, once the slot was free: %v", err)
	}
}

// panicking is a Call whose Go code panics: the executor must turn that
// into an internal error and live on.
func TestPanicBecomesInternal(t *testing.T) {
	op := &kernels.Op{Name: "boom", Impls: []string{"go"}}
	call := kernels.NewCall(op, 1, 1, map[string]kernels.RunFunc{
		"go": func(*cgo.Ctx, kernels.Out) (wire.Result, error) { panic("kaboom") },
	})
	for name, ex := range inProcess(t) {
		_, err := ex.Run(context.Background(), &Job{Call: call, Impl: "go"})
		if e := wire.AsError(err); e == nil || e.Code != wire.Internal {
			t.Fatalf("%s: got %v, want internal", name, err)
		}
		if _, err := ex.Run(context.Background(), modsumJob(t, 1, 10, kernels.ImplC)); err != nil {
			t.Fatalf("%s after panic: %v", name, err)
		}
	}
}

func TestClosedRefuses(t *testing.T) {
	for name, ex := range inProcess(t) {
		ex.Close()
		_, err := ex.Run(context.Background(), modsumJob(t, 1, 10, kernels.ImplC))
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s: got %v after Close", name, err)
		}
	}
}
