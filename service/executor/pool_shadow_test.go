package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time thread tid of this process has used.
func threadCPU(t *testing.T, tid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
	return time.Duration(ns)
}

// With a Group, each pool worker runs its C kernels on a shadow thread in
// the group, at the pool's priority, while the worker's own thread stays
// out of the group; RaisePriority takes the shadows out and gives them
// normal priority; Close ends them.
func TestPoolShadows(t *testing.T) {
	g := newTestGroup(t, PriorityIdle)
	p := NewPool(PoolConfig{Workers: 2, Priority: PriorityIdle, Group: g})
	defer p.Close()
	testutil.WaitFor(t, 10*time.Second, "every worker's shadow", func() bool {
		return p.shadowTids[0].Load() != 0 && p.shadowTids[1].Load() != 0
	})
	in := func(tid int) bool {
		ok, err := g.Contains(os.Getpid(), tid)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	var shadows []int
	for i := range 2 {
		sh, worker := int(p.shadowTids[i].Load()), int(p.tids[i].Load())
		shadows = append(shadows, sh)
		if !in(sh) {
			t.Errorf("worker %d's shadow %d is not in %s", i, sh, g.Dir())
		}
		if in(worker) {
			t.Errorf("worker %d's own thread %d is in %s", i, worker, g.Dir())
		}
		if attr, err := unix.SchedGetAttr(sh, 0); err != nil || attr.Policy != unix.SCHED_IDLE {
			t.Errorf("worker %d's shadow: policy %v, %v; want SCHED_IDLE", i, attr, err)
		}
	}

	// A C job's kernel runs on a shadow: the shadows use its CPU time,
	// the workers' own threads next to none. (Not compared with run_us,
	// which is wall time: with the machine busy, a thread of the group
	// waits for a CPU much of the job.)
	cpuOf := func(tids ...int) (d time.Duration) {
		for _, tid := range tids {
			d += threadCPU(t, tid)
		}
		return d
	}
	workers := []int{int(p.tids[0].Load()), int(p.tids[1].Load())}
	before, beforeWorkers := cpuOf(shadows...), cpuOf(workers...)
	start := time.Now()
	out, err := p.Run(context.Background(), modsumJob(t, 3, 5e8, kernels.ImplC))
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	used, usedWorkers := cpuOf(shadows...)-before, cpuOf(workers...)-beforeWorkers
	t.Logf("job of %v (run %d µs): the shadows used %v of CPU, the workers' threads %v", wall, out.RunUS, used, usedWorkers)
	// 5·10^8 iterations take 13-25 ms of CPU on the machines measured.
	if used < 5*time.Millisecond || used < 4*usedWorkers {
		t.Errorf("a job that ran %d µs: its shadows used %v of CPU, the workers' own threads %v", out.RunUS, used, usedWorkers)
	}

	if err := p.RaisePriority(); err != nil {
		t.Fatal(err)
	}
	for _, sh := range shadows {
		if in(sh) {
			t.Errorf("shadow %d still in %s after RaisePriority", sh, g.Dir())
		}
		if attr, err := unix.SchedGetAttr(sh, 0); err != nil || attr.Policy != unix.SCHED_NORMAL {
			t.Errorf("shadow %d after RaisePriority: policy %v, %v; want SCHED_NORMAL", sh, attr, err)
		}
	}
	p.Close()
	for _, sh := range shadows {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", sh)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("shadow %d still runs after Close: %v", sh, err)
		}
	}
}

// A pool whose group cannot take its shadows (a removed cgroup) says so
// and runs its kernels on its own threads.
func TestPoolShadowRefused(t *testing.T) {
	g := newTestGroup(t, PriorityIdle)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	log := &testutil.SyncBuffer{}
	p := NewPool(PoolConfig{Workers: 1, Group: g, Log: slog.New(slog.NewTextHandler(log, nil))})
	defer p.Close()
	got, err := p.Run(context.Background(), modsumJob(t, 5, 1000, kernels.ImplC))
	if err != nil || got.Result == nil {
		t.Fatalf("job: %v", err)
	}
	if p.shadows[0] != nil || p.shadowTids[0].Load() != 0 {
		t.Error("a shadow outside its group")
	}
	if !strings.Contains(log.String(), "runs its kernels on its own thread") {
		t.Errorf("log %q", log.String())
	}
}
