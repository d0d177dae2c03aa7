package server_test

import (
	"context"
	"math/rand/v2"
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
// the kernel OOM killer or an operator would. Registered only in this test
// binary, which both serves and plays the subprocess worker: no normal
// build can reach it.
var selfKillOp = &kernels.Op{
	Name: "test_selfkill", Doc: "test only: the process running it dies of SIGKILL",
	Impls: []string{kernels.ImplGo},
	Bind: func(kernels.Args) (*kernels.Call, error) {
		return kernels.NewCall(nil, 1, 0, map[string]kernels.RunFunc{
			kernels.ImplGo: func(*cgo.Ctx, kernels.Out) (wire.Result, error) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // SIGKILL cannot be caught: this never returns
			},
		}), nil
	},
}

func init() { kernels.Default().Register(selfKillOp) }

// Through the real server: 100 jobs whose worker dies, shuffled among
// 1,000 normal ones on 8 connections, give exactly 100 worker_failed
// (naming the pid and the signal) and 1,000 right answers; the server
// keeps serving and both workers are back.
func TestWorkerDeathsThroughServer(t *testing.T) {
	ts := start(t, nil)
	deaths, normal := 100, 1000
	type job struct {
		die bool
		n   int64
	}
	jobs := make([]job, 0, deaths+normal)
	want := map[int64]int64{}
	for i := range normal {
		jobs = append(jobs, job{n: int64(i)})
		want[int64(i)] = modsumRef(t, int64(i), 1000)
	}
	for range deaths {
		jobs = append(jobs, job{die: true})
	}
	r := rand.New(rand.NewPCG(7, 8))
	r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	feed := make(chan job)
	go func() {
		for _, j := range jobs {
			feed <- j
		}
		close(feed)
	}()
	var mu sync.Mutex
	failed, right := 0, 0
	var wg sync.WaitGroup
	opts := &client.Options{Exec: "subprocess"}
	for range 8 {
		c := ts.dial(t)
		wg.Go(func() {
			for j := range feed {
				var err error
				ok := false
				if j.die {
					_, err = c.Do(context.Background(), &wire.Request{Op: selfKillOp.Name}, opts)
					e := wire.AsError(err)
					ok = e != nil && e.Code == wire.WorkerFailed && strings.Contains(e.Message, "SIGKILL") &&
						strings.Contains(e.Message, "worker")
				} else {
					var got int64
					got, _, err = c.Modsum(context.Background(), j.n, 1000, opts)
					ok = err == nil && got == want[j.n]
				}
				mu.Lock()
				if !ok {
					t.Errorf("job %+v: %v", j, err)
				} else if j.die {
					failed++
				} else {
					right++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != deaths || right != normal {
		t.Errorf("%d worker_failed and %d right answers, want %d and %d", failed, right, deaths, normal)
	}
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
