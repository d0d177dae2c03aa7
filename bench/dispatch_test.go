package bench

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// The benchmark binary doubles as the subprocess worker.
func TestMain(m *testing.M) {
	if os.Getenv("CRUNCH_BENCH_WORKER") == "1" {
		if err := executor.WorkerMain(os.Stdin, os.Stdout, kernels.Default()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkCgoNoop is the floor: one call into C and back.
func BenchmarkCgoNoop(b *testing.B) {
	for b.Loop() {
		cgo.Noop(nil)
	}
}

// BenchmarkDispatch is the round trip of an empty kernel (modsum with
// iters = 0) through each executor, one caller at a time.
func BenchmarkDispatch(b *testing.B) {
	sub, err := executor.NewSubprocess(executor.SubprocessConfig{
		Workers: 1, Command: []string{os.Args[0]}, Env: []string{"CRUNCH_BENCH_WORKER=1"},
	})
	if err != nil {
		b.Fatal(err)
	}
	execs := []executor.Executor{executor.NewDirect(0), executor.NewPool(executor.PoolConfig{Workers: 1}), sub}
	defer func() {
		for _, ex := range execs {
			ex.Close()
		}
	}()
	args := wire.Args{"n": wire.Int(1), "iters": wire.Int(0)}
	op, _ := kernels.Default().Lookup("modsum")
	call, err := op.Prepare(args)
	if err != nil {
		b.Fatal(err)
	}
	job := &executor.Job{Call: call, Impl: kernels.ImplC, Args: args}
	ctx := context.Background()
	for _, ex := range execs {
		b.Run("exec="+ex.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, err := ex.Run(ctx, job); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
