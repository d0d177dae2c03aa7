package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// The benchmark binary doubles as the subprocess worker.
func TestMain(m *testing.M) {
	if os.Getenv("CRUNCH_BENCH_WORKER") != "1" {
		os.Exit(m.Run())
	}
	err := executor.WorkerMain(os.Stdin, os.Stdout, kernels.Default())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// BenchmarkCgoNoop is the floor: one call into C and back.
func BenchmarkCgoNoop(b *testing.B) {
	for b.Loop() {
		cgo.Noop(nil)
	}
}

// executors starts one of each executor, each with the given number of
// workers (0: as many as CPUs), for a benchmark; they are closed when it
// ends. Where this machine allows an idle compute cgroup, a second pool,
// named pool-shadow, runs its C kernels on shadow threads in it, as
// `crunch serve` does by default (PoolConfig.Group).
func executors(b *testing.B, workers int) []executor.Executor {
	b.Helper()
	sub, err := executor.NewSubprocess(executor.SubprocessConfig{
		Workers: workers, Command: []string{os.Args[0]}, Env: []string{"CRUNCH_BENCH_WORKER=1"},
	})
	if err != nil {
		b.Fatal(err)
	}
	execs := []executor.Executor{executor.NewDirect(0), executor.NewPool(executor.PoolConfig{Workers: workers}), sub}
	if g, err := executor.NewComputeGroup(executor.PriorityIdle); err == nil {
		shadowed := executor.NewPool(executor.PoolConfig{Workers: workers, Group: g})
		execs = append(execs, named{"pool-shadow", shadowed})
		b.Cleanup(func() { g.Close() }) // after the executors: cleanups run last first
	} else {
		b.Logf("no pool-shadow: %v", err)
	}
	b.Cleanup(func() {
		for _, ex := range execs {
			ex.Close()
		}
	})
	return execs
}

// named is an executor under another name, for a benchmark's sub-names.
type named struct {
	name string
	executor.Executor
}

// Name returns the name the benchmark gave it.
func (n named) Name() string { return n.name }

// BenchmarkDispatch is the round trip of an empty kernel (modsum with
// iters = 0) through each executor, one caller at a time, of a short one
// (iters = 10^6, about 55 µs: longer than the pool's spin) and of one of
// about 0.5 ms (iters = 10^7: the least work pool-shadow sends to a shadow
// thread, where the hand-off adds two wake-ups). Besides the mean
// (ns/op), it reports the median and the 99th percentile of single round
// trips (p50-ns, p99-ns): on a shared machine a few trips that lose the CPU
// for a scheduler tick move the mean far from the typical trip.
func BenchmarkDispatch(b *testing.B) {
	execs := executors(b, 1)
	ctx := context.Background()
	for _, iters := range []int64{0, 1e6, 1e7} {
		args := wire.Args{"n": wire.Int(1), "iters": wire.Int(iters)}
		call := prepare(b, "modsum", args)
		job := &executor.Job{Call: call, Impl: kernels.ImplC, Args: args}
		for _, ex := range execs {
			b.Run(fmt.Sprintf("iters=%d/exec=%s", iters, ex.Name()), func(b *testing.B) {
				trips := make([]time.Duration, 0, 1<<16)
				for b.Loop() {
					start := time.Now()
					if _, err := ex.Run(ctx, job); err != nil {
						b.Fatal(err)
					}
					trips = append(trips, time.Since(start))
				}
				reportPercentiles(b, trips)
			})
		}
	}
}

// BenchmarkDispatchMany is BenchmarkDispatch with 4 callers per CPU at
// once, each executor with as many workers as CPUs: ns/op is then wall
// time over calls, the inverse of the executor's throughput of empty
// jobs.
func BenchmarkDispatchMany(b *testing.B) {
	execs := executors(b, 0)
	args := wire.Args{"n": wire.Int(1), "iters": wire.Int(0)}
	call := prepare(b, "modsum", args)
	for _, ex := range execs {
		b.Run("exec="+ex.Name(), func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				job := &executor.Job{Call: call, Impl: kernels.ImplC, Args: args}
				for pb.Next() {
					if _, err := ex.Run(context.Background(), job); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// prepare is op's call with args, or the end of the benchmark.
func prepare(b *testing.B, op string, args wire.Args) *kernels.Call {
	o, _ := kernels.Default().Lookup(op)
	call, err := o.Prepare(args)
	if err != nil {
		b.Fatal(err)
	}
	return call
}

// reportPercentiles adds the median and 99th percentile of trips to b's
// metrics.
func reportPercentiles(b *testing.B, trips []time.Duration) {
	if len(trips) == 0 {
		return
	}
	slices.Sort(trips)
	at := func(q float64) float64 { return float64(trips[int(q*float64(len(trips)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

// BenchmarkTransfer is the cost of moving 8 MiB in and 8 MiB out through
// each executor: a gemm of a = [1048576, 1] f64 by b = [1, 1], whose
// arithmetic is trivial, so that the subprocess's extra cost (arguments
// and result through shared memory) shows against the in-process ones.
func BenchmarkTransfer(b *testing.B) {
	execs := executors(b, 1)
	a, err := tensor.New(tensor.F64, 1<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	x := a.Float64()
	for i := range x {
		x[i] = float64(i)
	}
	one := tensor.FromFloat64([]int{1, 1}, []float64{2})
	args := wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(one)}
	call := prepare(b, "gemm", args)
	job := &executor.Job{Call: call, Impl: kernels.ImplC, Args: args}
	ctx := context.Background()
	for _, ex := range execs {
		b.Run("exec="+ex.Name(), func(b *testing.B) {
			b.SetBytes(2 * int64(len(a.Data))) // in and out
			for b.Loop() {
				out, err := ex.Run(ctx, job)
				if err != nil {
					b.Fatal(err)
				}
				if c, err := out.Result.Tensor("c"); err != nil || c.Float64()[3] != 6 {
					b.Fatalf("c = %v (%v), want 2a", c, err)
				}
			}
		})
	}
}
