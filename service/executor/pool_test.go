package executor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

func TestFairQueueTurns(t *testing.T) {
	q := newFairQueue[string](100)
	for i := range 3 {
		q.push(1, fmt.Sprint("a", i))
	}
	q.push(2, "b0")
	q.push(2, "b1")
	q.push(3, "c0")
	var got []string
	for {
		v, ok := q.pop()
		if !ok {
			break
		}
		got = append(got, v)
		if v == "a1" { // a newcomer waits until every waiting tenant had a turn
			q.push(4, "d0")
		}
	}
	want := []string{"a0", "b0", "c0", "a1", "b1", "a2", "d0"}
	if !slices.Equal(got, want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	if q.len() != 0 {
		t.Fatalf("len %d after draining", q.len())
	}
}

func TestFairQueueLimit(t *testing.T) {
	q := newFairQueue[int](2)
	if !q.push(1, 1) || !q.push(2, 2) {
		t.Fatal("refused below the limit")
	}
	if q.push(3, 3) {
		t.Fatal("accepted beyond the limit")
	}
	q.pop()
	if !q.push(3, 3) {
		t.Fatal("refused after a pop")
	}
}

// recorder builds jobs whose Go kernel appends their name to a shared log;
// a job built with a gate waits for it to close first.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) job(name string, tenant uint64, gate <-chan struct{}) *Job {
	op := &kernels.Op{Name: "record", Impls: []string{kernels.ImplGo}}
	call := kernels.NewCall(op, 1, 1, map[string]kernels.RunFunc{
		kernels.ImplGo: func(*cgo.Ctx, kernels.Out) (wire.Result, error) {
			if gate != nil {
				<-gate
			}
			r.mu.Lock()
			r.log = append(r.log, name)
			r.mu.Unlock()
			return wire.Result{}, nil
		},
	})
	return &Job{Call: call, Impl: kernels.ImplGo, Tenant: tenant}
}

// A greedy connection's backlog does not delay another connection's job
// by more than one turn.
func TestPoolServesTenantsInTurn(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1})
	defer p.Close()
	var r recorder
	gate := make(chan struct{})
	var wg sync.WaitGroup
	run := func(j *Job) {
		wg.Go(func() {
			if _, err := p.Run(context.Background(), j); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued := func(n int) {
		t.Helper()
		testutil.WaitFor(t, 5*time.Second, fmt.Sprintf("%d jobs queued", n), func() bool { return p.Load().Queued >= n })
	}
	run(r.job("greedy-gate", 1, gate))
	testutil.WaitFor(t, 5*time.Second, "the gate job running", func() bool { return p.Load().Busy > 0 })
	for i := range 20 {
		run(r.job(fmt.Sprint("greedy", i), 1, nil))
	}
	waitQueued(20)
	run(r.job("polite", 2, nil))
	waitQueued(21)
	close(gate)
	wg.Wait()
	if i := slices.Index(r.log, "polite"); i < 0 || i > 2 {
		t.Fatalf("the polite job ran in position %d: %v", i, r.log)
	}
	if len(r.log) != 22 {
		t.Fatalf("%d jobs ran, want 22", len(r.log))
	}
}

// Every job of many tenants gets its answer, under contention.
func TestPoolManyTenants(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 2, Queue: 1000})
	defer p.Close()
	var wg sync.WaitGroup
	for tenant := range 16 {
		wg.Go(func() {
			for i := range 50 {
				j := modsumJob(t, int64(tenant+2), int64(i), kernels.ImplC)
				j.Tenant = uint64(tenant)
				out, err := p.Run(context.Background(), j)
				if err != nil {
					t.Error(err)
					return
				}
				want, _ := kernels.ModsumGo(nil, int64(tenant+2), int64(i))
				if got := total(t, out); got != want {
					t.Errorf("tenant %d job %d: total %d, want %d", tenant, i, got, want)
				}
			}
		})
	}
	wg.Wait()
}

// Workers' threads take the configured priority and CPU: the kernel reads
// its own thread's settings, since it runs on the worker's thread.
func TestPoolThreadSettings(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	cpu := -1
	for c := range 1024 {
		if allowed.IsSet(c) {
			cpu = c
		}
	}
	p := NewPool(PoolConfig{Workers: 1, Priority: PriorityIdle, CPUs: []int{cpu}})
	defer p.Close()
	op := &kernels.Op{Name: "whoami", Impls: []string{kernels.ImplGo}}
	call := kernels.NewCall(op, 1, 1, map[string]kernels.RunFunc{
		kernels.ImplGo: func(*cgo.Ctx, kernels.Out) (wire.Result, error) {
			attr, err := unix.SchedGetAttr(0, 0)
			if err != nil {
				return nil, err
			}
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(0, &set); err != nil {
				return nil, err
			}
			if attr.Policy != unix.SCHED_IDLE {
				return nil, fmt.Errorf("policy %d, want SCHED_IDLE", attr.Policy)
			}
			if set.Count() != 1 || !set.IsSet(cpu) {
				return nil, fmt.Errorf("runs on %d CPUs, want CPU %d alone", set.Count(), cpu)
			}
			return wire.Result{}, nil
		},
	})
	if _, err := p.Run(context.Background(), &Job{Call: call, Impl: kernels.ImplGo}); err != nil {
		t.Fatal(err)
	}
}

func TestParsePriority(t *testing.T) {
	for _, s := range []string{"normal", "low", "idle", ""} {
		if _, err := ParsePriority(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParsePriority("high"); err == nil {
		t.Error("accepted high")
	}
}

func TestParseCPUs(t *testing.T) {
	all, err := ParseCPUs("all")
	if err != nil || len(all) == 0 {
		t.Fatalf("all: %v %v", all, err)
	}
	if cpus, err := ParseCPUs(""); err != nil || cpus != nil {
		t.Errorf(`"": %v %v`, cpus, err)
	}
	spec := fmt.Sprint(all[0])
	if len(all) > 1 {
		spec = fmt.Sprintf("%d, %d", all[0], all[1])
	}
	if cpus, err := ParseCPUs(spec); err != nil || cpus[0] != all[0] {
		t.Errorf("%s: %v %v", spec, cpus, err)
	}
	for _, bad := range []string{"x", "3-1", "-1", "0,,1", "100000"} {
		if _, err := ParseCPUs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// spinYielding reports a condition that turns true while it polls, gives
// up after its time, and with no time only looks once.
func TestSpinYielding(t *testing.T) {
	var flag atomic.Bool
	go func() {
		time.Sleep(2 * time.Millisecond)
		flag.Store(true)
	}()
	if !spinYielding(flag.Load, 10*time.Second) {
		t.Fatal("missed a condition that turned true")
	}
	start := time.Now()
	if spinYielding(func() bool { return false }, 3*time.Millisecond) {
		t.Fatal("a false condition reported true")
	}
	if took := time.Since(start); took < 3*time.Millisecond {
		t.Errorf("gave up after %v, before its 3 ms", took)
	}
	if spinYielding(func() bool { return false }, 0) || !spinYielding(func() bool { return true }, -1) {
		t.Error("with no time to poll, the answer is the condition's")
	}
}
