package server_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// selfKillOp is a test-only op whose worker kills itself with SIGKILL, as
// the kernel OOM killer or an operator would.
var selfKillOp = testOp("test_selfkill", "test only: the process running it dies of SIGKILL", 0,
	func(*cgo.Ctx, kernels.Out) (wire.Result, error) {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught: this never returns
	})

// Through the real server: 100 jobs whose worker dies, shuffled among
// 1,000 normal ones on 8 connections, give exactly 100 worker_failed
// (naming the pid and the signal) and 1,000 right answers; the server
// keeps serving and both workers are back.
func TestWorkerDeathsThroughServer(t *testing.T) {
	ts := start(t, nil)
	deaths, normal := 100, 1000
	want := make([]int64, normal)
	for n := range want {
		want[n] = modsumRef(t, int64(n), 1000)
	}
	opts := &client.Options{Exec: "subprocess"}
	conns := make([]*client.Client, 8)
	for w := range conns {
		conns[w] = ts.dial(t)
	}
	testutil.Storm(t, normal, deaths, len(conns), 7, func(w, n int) error {
		c := conns[w]
		if n >= normal {
			_, err := c.Do(context.Background(), &wire.Request{Op: selfKillOp.Name}, opts)
			if e := wire.AsError(err); e == nil || e.Code != wire.WorkerFailed ||
				!strings.Contains(e.Message, "SIGKILL") || !strings.Contains(e.Message, "worker") {
				return fmt.Errorf("got %v, want worker_failed naming the worker and SIGKILL", err)
			}
			return nil
		}
		got, _, err := c.Modsum(context.Background(), int64(n), 1000, opts)
		if err != nil || got != want[n] {
			return fmt.Errorf("modsum n=%d: %d, %v; want %d", n, got, err, want[n])
		}
		return nil
	})
	// The server still serves, and the subprocess executor has its two
	// workers back: two long jobs at once run on two live, distinct pids
	// (restarts happen in the background, with backoff).
	c := ts.dial(t)
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping after the deaths: %v", err)
	}
	pids := make([]int, 2)
	var errs [2]error
	back := testutil.Poll(10*time.Second, func() bool {
		var both sync.WaitGroup
		for i := range pids {
			both.Go(func() {
				_, st, err := c.Modsum(context.Background(), 3, 200_000_000, opts)
				pids[i] = 0
				if err == nil {
					pids[i] = st.Worker
				}
				errs[i] = err
			})
		}
		both.Wait()
		return errs[0] == nil && errs[1] == nil && pids[0] != pids[1] &&
			syscall.Kill(pids[0], 0) == nil && syscall.Kill(pids[1], 0) == nil
	})
	if !back {
		t.Fatalf("two workers not back after 10 s: pids %v, errors %v", pids, errs)
	}
}
