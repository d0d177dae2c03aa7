package executor

import (
	"context"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Every executor gives the job's allocator the result: computed in its
// memory in this process, copied into it from a worker's arena; and the
// pooled memory is the pool's again after Release.
func TestResultsInJobMemory(t *testing.T) {
	execs := inProcess(t)
	execs[NameSubprocess], _ = newSub(t, SubprocessConfig{Workers: 1})
	a := tensor.FromFloat64([]int{256, 256}, make([]float64, 256*256))
	for i := range 256 {
		a.Float64()[i*256+i] = 2 // c = 2·b
	}
	b := tensor.FromFloat64([]int{256, 256}, make([]float64, 256*256))
	for i := range b.Float64() {
		b.Float64()[i] = float64(i)
	}
	args := wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}
	op, err := kernels.Default().Lookup("gemm")
	if err != nil {
		t.Fatal(err)
	}
	for name, ex := range execs {
		pool := msgbuf.New(1<<30, time.Minute)
		out := NewPooledResults(pool)
		call, err := op.Prepare(args)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ex.Run(context.Background(), &Job{Call: call, Impl: kernels.ImplC, Args: args, Out: out})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := res.Result["c"].Tensor
		for i, v := range c.Float64() {
			if v != 2*float64(i) {
				t.Fatalf("%s: c[%d] = %v, want %v", name, i, v, 2*float64(i))
			}
		}
		if pool.InUse() != 512<<10 {
			t.Errorf("%s: %d bytes of the pool in use, want the 512 KiB result", name, pool.InUse())
		}
		out.Release()
		if pool.InUse() != 0 {
			t.Errorf("%s: %d bytes in use after Release", name, pool.InUse())
		}
	}
}
