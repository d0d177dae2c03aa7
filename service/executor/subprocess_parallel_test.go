package executor

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// waitSubIdle waits until every slot of s is idle and none is lent: a
// parallel job borrows only idle slots.
func waitSubIdle(t testing.TB, s *Subprocess) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "every slot idle", func() bool {
		s.idleMu.Lock()
		defer s.idleMu.Unlock()
		return len(s.idle) == len(s.slots) && s.lent.Load() == 0
	})
}

// helpingNow returns the helper threads inside a kernel in all of s's
// workers, as their arenas say. No worker is replaced in these tests, so
// the slots' processes stay put.
func helpingNow(s *Subprocess) int {
	n := 0
	for _, w := range s.slots {
		n += int(w.p.arena.u32(ctlHelping).Load())
	}
	return n
}

// Results on a worker granted two threads are those of one, bit for bit,
// for gemm, conv2d and fft.
func TestSubprocessParallelSameResult(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 2})
	a, b, k, x := testutil.ThreadsInputs()
	calls := []struct {
		op, result string
		args       wire.Args
	}{
		{"gemm", "c", wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}},
		{"conv2d", "out", wire.Args{"image": wire.TensorValue(a), "kernel": wire.TensorValue(k)}},
		{"fft", "y", wire.Args{"x": wire.TensorValue(x)}},
	}
	for _, c := range calls {
		var want []byte
		for _, threads := range []int{1, 2, 8} {
			waitSubIdle(t, s)
			job := testJob(t, c.op, c.args, kernels.ImplC)
			job.Threads = threads
			out, err := s.Run(context.Background(), job)
			if err != nil {
				t.Fatalf("%s, threads %d: %v", c.op, threads, err)
			}
			res, err := out.Result.Tensor(c.result)
			if err != nil {
				t.Fatalf("%s, threads %d: %v", c.op, threads, err)
			}
			if want == nil {
				want = slices.Clone(res.Data)
			} else if !slices.Equal(want, res.Data) {
				t.Errorf("%s: threads %d differs from one thread's", c.op, threads)
			}
		}
	}
	waitSubIdle(t, s) // every lent slot came back
}

// A parallel job borrows the idle slot, whose thread helps in the job's
// worker; a job queued meanwhile gets the slot back after a piece of the
// kernel, not after the job; a cancel stops the job and its helpers; and
// afterwards every slot takes work again.
func TestSubprocessParallelLendYieldCancel(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 2})
	long := modsumJob(t, 3, 1<<42, kernels.ImplC) // hours on one core: only a cancel ends it
	long.Threads = 2
	done := make(chan error, 1)
	// startLong starts the long job on idle slots and waits until the
	// lent one's thread helps it in the job's worker.
	startLong := func(ctx context.Context) {
		waitSubIdle(t, s)
		go func() {
			_, err := s.Run(ctx, long)
			done <- err
		}()
		testutil.WaitFor(t, 10*time.Second, "a lent slot helping the long job", func() bool {
			return s.lent.Load() == 1 && helpingNow(s) == 1
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startLong(ctx)
	if l := s.Load(); l.Busy != 1 {
		t.Errorf("load %+v with one job running, want Busy 1", l)
	}

	// The queued job recalls the helper and runs on the lent slot.
	start := time.Now()
	if got, want := total(t, mustRun(t, s, modsumJob(t, 7, 100000, kernels.ImplC))), modsumRef(7, 100000); got != want {
		t.Fatalf("modsum beside the parallel job: %d, want %d", got, want)
	}
	took := time.Since(start)
	select {
	case err := <-done:
		t.Fatalf("the long job ended first: %v", err)
	default:
	}
	// A piece is 2^22 iterations, a few milliseconds; loose for a shared
	// machine.
	if took > 2*time.Second {
		t.Errorf("the queued job took %v beside a parallel job", took)
	} else {
		t.Logf("the queued job took %v beside a parallel job", took)
	}
	if n := helpingNow(s); n != 0 || s.lent.Load() != 0 {
		t.Errorf("after the recall: %d helpers, %d slots lent; want none", n, s.lent.Load())
	}

	cancelAt := time.Now()
	cancel()
	if err := <-done; wire.AsError(err).Code != wire.Canceled {
		t.Fatalf("the long job: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "the workers free", func() bool { return s.Load().Busy == 0 })
	t.Logf("the cancelled job's worker was free %v after the cancel", time.Since(cancelAt))

	// A second parallel job borrows again, and its cancel stops both of
	// its threads within the kill grace (else the worker is killed).
	deaths := s.Deaths()
	ctx2, cancel2 := context.WithCancel(context.Background())
	startLong(ctx2)
	cancel2()
	if err := <-done; wire.AsError(err).Code != wire.Canceled {
		t.Fatalf("the second long job: %v", err)
	}
	waitSubIdle(t, s)
	if n := helpingNow(s); n != 0 || s.Deaths() != deaths {
		t.Errorf("after the cancel: %d helpers, %d deaths; want none", n, s.Deaths()-deaths)
	}

	// Both slots take jobs: two run at once on two workers.
	outs := make(chan *Outcome, 2)
	for range 2 {
		go func() {
			out, err := s.Run(context.Background(), testJob(t, "deaf", wire.Args{"ms": wire.Int(300)}, kernels.ImplGo))
			if err != nil {
				t.Error(err)
			}
			outs <- out
		}()
	}
	o1, o2 := <-outs, <-outs
	if o1 == nil || o2 == nil {
		return
	}
	if o1.Worker == o2.Worker {
		t.Errorf("both jobs ran on worker %d: a slot was not given back", o1.Worker)
	}
}

// mustRun runs job on s and fails the test on an error.
func mustRun(t *testing.T, s *Subprocess, job *Job) *Outcome {
	t.Helper()
	out, err := s.Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkParallelGemm is one gemm of 2048×2048 f64 through the pool and
// through the subprocess executor (2 workers each, normal priority), on 1
// thread and on 2: what a request's threads gain on each. Besides the
// round trip per op it reports the kernel's own time (the outcome's
// run_us), which on subprocess includes the arrays' way through the
// worker's arena.
func BenchmarkParallelGemm(b *testing.B) {
	sub, _ := newSub(b, SubprocessConfig{Workers: 2, Priority: PriorityNormal})
	pool := NewPool(PoolConfig{Workers: 2})
	defer pool.Close()
	execs := []Executor{pool, sub}
	// Kernels on shadow threads in an idle cgroup, where this machine
	// allows one: the recruits of a parallel call go through an eventfd.
	if g, err := NewComputeGroup(PriorityIdle); err == nil {
		defer g.Close()
		shadowed := NewPool(PoolConfig{Workers: 2, Group: g})
		defer shadowed.Close()
		execs = append(execs, shadowed)
	}
	const n = 2048
	a, _ := tensor.New(tensor.F64, n, n)
	for i := range a.Float64() {
		a.Float64()[i] = math.Sin(float64(i))
	}
	for k, ex := range execs {
		name := ex.Name()
		if k == 2 {
			name = "pool-shadow"
		}
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("exec=%s/threads=%d", name, threads), func(b *testing.B) {
				var runUS int64
				for b.Loop() {
					waitSubIdle(b, sub) // every lent slot back
					job := testJob(b, "gemm", wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(a)}, kernels.ImplC)
					job.Threads = threads
					out, err := ex.Run(context.Background(), job)
					if err != nil {
						b.Fatal(err)
					}
					runUS += out.RunUS
				}
				b.ReportMetric(float64(runUS)/1e3/float64(b.N), "run-ms/op")
			})
		}
	}
}
