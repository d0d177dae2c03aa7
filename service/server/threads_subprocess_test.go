package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// On the subprocess executor, a request's threads changes how its kernel
// runs, never its result: gemm, conv2d and fft give the same bits on one
// thread and on two.
func TestSubprocessThreadsSameResult(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	ctx := context.Background()
	a, b, k, x := testutil.ThreadsInputs()
	calls := map[string]func(o *client.Options) (*tensor.Tensor, *wire.Stats, error){
		"gemm":   func(o *client.Options) (*tensor.Tensor, *wire.Stats, error) { return c.Gemm(ctx, a, b, o) },
		"conv2d": func(o *client.Options) (*tensor.Tensor, *wire.Stats, error) { return c.Conv2D(ctx, a, k, "same", o) },
		"fft":    func(o *client.Options) (*tensor.Tensor, *wire.Stats, error) { return c.FFT(ctx, x, o) },
	}
	for op, call := range calls {
		var want []byte
		for _, threads := range []int{1, 2} {
			res, st, err := call(&client.Options{Exec: "subprocess", Impl: "c", Threads: threads})
			if err != nil {
				t.Fatalf("%s, threads %d: %v", op, threads, err)
			}
			if st.Exec != executor.NameSubprocess || st.Worker == 0 {
				t.Errorf("%s, threads %d: stats %+v, want a subprocess worker", op, threads, st)
			}
			if want == nil {
				want = slices.Clone(res.Data)
			} else if !slices.Equal(want, res.Data) {
				t.Errorf("%s: threads %d differs from one thread's", op, threads)
			}
		}
	}
}

// A parallel subprocess request ends at its deadline, its kernel stopped
// in its worker; then both workers serve requests at once again.
func TestSubprocessThreadsDeadline(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	sub := ts.execs[executor.NameSubprocess]
	start := time.Now()
	_, _, err := c.Modsum(context.Background(), 3, 1<<42,
		&client.Options{Exec: "subprocess", Impl: "c", Threads: 2, Timeout: 300 * time.Millisecond})
	if e := wire.AsError(err); e == nil || e.Code != wire.DeadlineExceeded {
		t.Fatalf("modsum past its deadline: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 300 ms deadline answered after %v", took)
	}
	testutil.WaitFor(t, 5*time.Second, "the subprocess workers free", func() bool { return sub.Load().Busy == 0 })

	// Two long requests at once run on the two workers: the slot the
	// parallel request borrowed was given back.
	workers := make(chan int, 2)
	for range 2 {
		go func() {
			_, st, err := c.Modsum(context.Background(), 3, 3e9, &client.Options{Exec: "subprocess", Impl: "c", Threads: 1})
			if err != nil {
				t.Error(err)
				workers <- 0
				return
			}
			workers <- st.Worker
		}()
	}
	w1, w2 := <-workers, <-workers
	if w1 == w2 {
		t.Errorf("both requests ran on worker %d", w1)
	}
}
