package executor

import (
	"context"
	"golang.org/x/sys/unix"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// cJob builds a pool job whose C kernel is run, with the job's Ctx, by
// kernel; threads records the Ctx's thread budget.
func cJob(threads int, seen *int, kernel func(x *cgo.Ctx) error) *Job {
	op := &kernels.Op{Name: "parallel", Impls: []string{kernels.ImplC}}
	// Work enough to be worth a shadow, on a pool that has them.
	call := kernels.NewCall(op, shadowMinWork, 1, map[string]kernels.RunFunc{
		kernels.ImplC: func(x *cgo.Ctx, _ kernels.Out) (wire.Result, error) {
			*seen = x.Threads()
			return wire.Result{}, kernel(x)
		},
	})
	return &Job{Call: call, Impl: kernels.ImplC, Threads: threads}
}

// waitAllIdle waits until every worker of p waits for work, so that a
// parallel job's first round finds a helper.
func waitAllIdle(t *testing.T, p *Pool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "every worker idle", func() bool { return int(p.idle.Load()) == p.cfg.Workers })
}

// A job's result is the same, bit for bit, on one thread and on two, and
// on two the pool's second worker really helps.
func TestPoolParallelSameResult(t *testing.T) {
	forPoolModes(t, func(t *testing.T, p *Pool) {
		const n = 600
		a, b := make([]float64, n*n), make([]float64, n*n)
		for i := range a {
			a[i] = math.Sin(float64(i))
			b[i] = math.Cos(float64(3 * i))
		}
		// more holds the results of the later ops, one after another.
		run := func(threads int) ([]float64, []uint32, cgo.Stats, []float64) {
			t.Helper()
			c := make([]float64, n*n)
			var more []float64
			counts := make([]uint32, 512*300)
			var st cgo.Stats
			var seen int
			waitAllIdle(t, p)
			job := cJob(threads, &seen, func(x *cgo.Ctx) error {
				if err := cgo.GemmF64(x, false, true, n, n, n, 1, a, n, b, n, 0, c, n); err != nil {
					return err
				}
				p.resetHere(x, min(threads, 2))
				if err := cgo.Mandelbrot(x, 512, 300, -2, 1, -1, 1, 300, counts); err != nil {
					return err
				}
				var err error
				if st, err = cgo.StatsF64(x, a, 1); err != nil {
					return err
				}
				// conv2d: bands of 2^21 multiply-adds, several of them here.
				conv := make([]float64, n*n)
				p.resetHere(x, min(threads, 2))
				if err := cgo.Conv2DF64(x, cgo.ConvSame, n, n, a, 7, 7, b[:49], conv); err != nil {
					return err
				}
				more = append(more, conv...)
				// sort: chunks of 2^16 elements, five of them and a part.
				sorted := append([]float64(nil), b...)
				sorted[7], sorted[n*n/2] = math.NaN(), math.Copysign(0, -1)
				p.resetHere(x, min(threads, 2))
				if err := cgo.SortF64(x, sorted, false); err != nil {
					return err
				}
				more = append(more, sorted...)
				// solve: with n right-hand sides, the substitution's updates are
				// several gemm pieces on every path.
				// (a and b are of rank 2: sin and cos of sums.)
				r := rand.New(rand.NewPCG(3, 4))
				sa := make([]float64, n*n)
				for i := range sa {
					sa[i] = 2*r.Float64() - 1
				}
				sx := make([]float64, n*n)
				p.resetHere(x, min(threads, 2))
				if err := cgo.SolveF64(x, n, n, sa, n, b, n, sx, n); err != nil {
					return err
				}
				more = append(more, sx...)
				return nil
			})
			if _, err := p.Run(context.Background(), job); err != nil {
				t.Fatalf("threads %d: %v", threads, err)
			}
			if want := min(max(threads, 1), 2); seen != want {
				t.Errorf("threads %d: the kernel's Ctx had a budget of %d, want %d", threads, seen, want)
			}
			return c, counts, st, more
		}
		c1, m1, s1, o1 := run(1)
		helpedBefore := p.helped()
		var c2 []float64
		var m2 []uint32
		var s2 cgo.Stats
		var o2 []float64
		// The second worker may be busy finishing its spin when the call
		// offers help; a few tries see it help.
		for try := 0; try < 20 && p.helped() == helpedBefore; try++ {
			c2, m2, s2, o2 = run(2)
			if !slices.Equal(c1, c2) || !slices.Equal(m1, m2) || s1 != s2 || !sameBits(o1, o2) {
				t.Fatalf("threads 2 (try %d): results differ from one thread's", try)
			}
		}
		if p.helped() == helpedBefore {
			t.Errorf("the second worker never helped a parallel call")
		}
		// A budget above the pool's workers is capped, and still the same.
		c8, _, _, _ := run(8)
		if !slices.Equal(c1, c8) {
			t.Fatal("threads 8: gemm differs from one thread's")
		}
	})
}

// A parallel job that starts while the other worker is busy gets it as a
// helper once it is free, even within a round: the worker recruits
// between two of its tasks. (The helper of the call before, on its way
// back to the queue, is such a worker when the next call starts; a call
// of one round, as mandelbrot's, would otherwise run alone.)
func TestPoolParallelRecruitsLater(t *testing.T) {
	forPoolModes(t, func(t *testing.T, p *Pool) {
		counts := make([]uint32, 1024*1024)
		helped := false
		for try := 0; try < 5 && !helped; try++ {
			release := make(chan struct{})
			var seenBlock int
			blocker := cJob(1, &seenBlock, func(*cgo.Ctx) error { <-release; return nil })
			blocked := make(chan error, 1)
			go func() { _, err := p.Run(context.Background(), blocker); blocked <- err }()
			testutil.WaitFor(t, 10*time.Second, "the blocking job running", func() bool { return p.Load().Busy == 1 })

			var seen int
			started := make(chan struct{})
			before := p.helped()
			job := cJob(2, &seen, func(x *cgo.Ctx) error {
				close(started)
				// One round of 256 bands, about 0.2 s of work on one thread:
				// the other worker goes idle while it runs.
				return cgo.Mandelbrot(x, 1024, 1024, -2, 1, -1, 1, 2000, counts)
			})
			go func() {
				<-started
				time.Sleep(2 * time.Millisecond)
				close(release)
			}()
			if _, err := p.Run(context.Background(), job); err != nil {
				t.Fatal(err)
			}
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
			if seen != 2 {
				t.Fatalf("the job's Ctx had a budget of %d threads, want 2", seen)
			}
			helped = p.helped() > before
		}
		if !helped {
			t.Error("the other worker, idle during a parallel call, never helped it")
		}
	})
}

// sameBits reports whether x and y hold the same values bit for bit
// (NaNs included, which slices.Equal never finds equal).
func sameBits(x, y []float64) bool {
	return slices.EqualFunc(x, y, func(u, v float64) bool { return math.Float64bits(u) == math.Float64bits(v) })
}

// Cancelling a parallel job stops all of its tasks promptly: the job
// answers at once, and both workers are free again soon after.
func TestPoolParallelCancel(t *testing.T) {
	forPoolModes(t, func(t *testing.T, p *Pool) {
		const n = 2000
		a := make([]float64, n*n)
		for i := range a {
			a[i] = float64(i%7) - 3
		}
		c := make([]float64, n*n)
		var seen int
		var ended time.Time
		job := cJob(2, &seen, func(x *cgo.Ctx) error {
			defer func() { ended = time.Now() }()
			// Ten products of about 0.1 to 0.5 s each: far longer than the test.
			for range 10 {
				if err := cgo.GemmF64(x, false, false, n, n, n, 1, a, n, a, n, 0, c, n); err != nil {
					return err
				}
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		waitAllIdle(t, p)
		go func() {
			_, err := p.Run(ctx, job)
			done <- err
		}()
		testutil.WaitFor(t, 10*time.Second, "the job running", func() bool { return p.Load().Busy > 0 })
		time.Sleep(50 * time.Millisecond)
		cancelAt := time.Now()
		cancel()
		if err := <-done; wire.AsError(err).Code != wire.Canceled {
			t.Fatalf("cancelled job: %v", err)
		}
		testutil.WaitFor(t, 5*time.Second, "the workers free", func() bool { return p.Load().Busy == 0 })
		// Loose: a shared machine may not run the workers at once; the tasks
		// poll every few tens of microseconds of work.
		if took := ended.Sub(cancelAt); took > 500*time.Millisecond {
			t.Errorf("the kernel returned %v after the cancel", took)
		} else {
			t.Logf("the kernel returned %v after the cancel (threads %d)", took, seen)
		}
		// Both workers take new work: nobody is stuck in the cancelled call.
		for i := range 4 {
			if _, err := p.Run(context.Background(), modsumJob(t, 3, 1000, kernels.ImplC)); err != nil {
				t.Fatalf("job %d after the cancel: %v", i, err)
			}
		}
	})
}

// A job queued while a parallel job borrows the idle worker gets that
// worker back after the helper's current piece, not after the parallel
// job: helpers give their slot back between pieces.
func TestPoolParallelYields(t *testing.T) {
	forPoolModes(t, func(t *testing.T, p *Pool) {
		long := modsumJob(t, 3, 1<<42, kernels.ImplC) // hours on one core: only a cancel ends it
		long.Threads = 2
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		before := p.helped()
		waitAllIdle(t, p)
		go func() {
			_, err := p.Run(ctx, long)
			done <- err
		}()
		testutil.WaitFor(t, 10*time.Second, "a worker helping the long job", func() bool { return p.helped() > before })
		start := time.Now()
		out, err := p.Run(context.Background(), modsumJob(t, 3, 1000, kernels.ImplC))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("the long job ended first: %v", err)
		default:
		}
		// A piece is 2^22 iterations, a few milliseconds at most; a loose
		// bound for a shared machine.
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the queued job took %v (queued %d µs) beside a parallel job", took, out.QueueUS)
		} else {
			t.Logf("the queued job took %v (queued %d µs) beside a parallel job", took, out.QueueUS)
		}
		cancel()
		if err := <-done; wire.AsError(err).Code != wire.Canceled {
			t.Fatalf("the long job: %v", err)
		}
	})
}

// forPoolModes runs test on a pool of 2 workers running their kernels on
// their own threads, then on one running them on shadows in an idle
// cgroup (where this machine allows one), whose helpers are recruited
// through the eventfd.
func forPoolModes(t *testing.T, test func(t *testing.T, p *Pool)) {
	t.Run("threads=own", func(t *testing.T) {
		p := NewPool(PoolConfig{Workers: 2})
		defer p.Close()
		test(t, p)
	})
	t.Run("threads=shadow", func(t *testing.T) {
		p := NewPool(PoolConfig{Workers: 2, Group: newTestGroup(t, PriorityIdle)})
		defer p.Close()
		testutil.WaitFor(t, 10*time.Second, "every worker's shadow", func() bool {
			return p.shadowTids[0].Load() != 0 && p.shadowTids[1].Load() != 0
		})
		shadows := []int{int(p.shadowTids[0].Load()), int(p.shadowTids[1].Load())}
		before := threadCPU(t, shadows[0]) + threadCPU(t, shadows[1])
		test(t, p)
		if used := threadCPU(t, shadows[0]) + threadCPU(t, shadows[1]) - before; used < time.Millisecond {
			t.Errorf("the shadows used %v of CPU: the kernels ran elsewhere", used)
		}
	})
}

// workerHere returns the index of the pool worker whose thread calls it.
func (p *Pool) workerHere() int {
	tid := int32(unix.Gettid())
	for i := range p.tids {
		if p.tids[i].Load() == tid {
			return i
		}
	}
	panic("not on a worker's thread")
}

// resetHere resets x for the next C call of a job that makes several, with
// threads on its worker's team, on its worker's shadow if it has one.
func (p *Pool) resetHere(x *cgo.Ctx, threads int) {
	i := p.workerHere()
	x.Reset()
	x.SetTeam(p.teams[i], threads)
	x.SetShadow(p.shadows[i])
}
