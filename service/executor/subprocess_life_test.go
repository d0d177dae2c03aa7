package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Crashes interleaved with normal jobs from many goroutines: each crash
// costs exactly its own job, every other job gets its right answer, and
// the workers are all back afterwards.
func TestSubprocessCrashStorm(t *testing.T) {
	crashes, normal := 100, 1000
	if raceEnabled { // a race-detector worker takes a while to start
		crashes, normal = 20, 200
	}
	const workers = 2
	s, _ := newSub(t, SubprocessConfig{Workers: workers, Queue: crashes + normal})
	crashJob := testJob(t, "crash", nil, kernels.ImplGo)
	type entry struct {
		crash bool
		n     int64
		job   *Job
	}
	jobs := make([]entry, 0, crashes+normal)
	for i := range normal {
		jobs = append(jobs, entry{n: int64(i), job: modsumJob(t, int64(i), 10000, kernels.ImplC)})
	}
	for range crashes {
		jobs = append(jobs, entry{crash: true, job: crashJob})
	}
	r := rand.New(rand.NewPCG(5, 6))
	r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	feed := make(chan entry)
	go func() {
		for _, e := range jobs {
			feed <- e
		}
		close(feed)
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed, right := 0, 0
	for range 32 {
		wg.Go(func() {
			for e := range feed {
				out, err := s.Run(context.Background(), e.job)
				mu.Lock()
				switch {
				case e.crash && wire.AsError(err) != nil && wire.AsError(err).Code == wire.WorkerFailed &&
					strings.Contains(err.Error(), "killed by signal SIGSEGV while running crash"):
					failed++
				case !e.crash && err == nil && string(out.Result["total"].JSON) == fmt.Sprint(modsumRef(e.n, 10000)):
					right++
				default:
					t.Errorf("job (crash %v, n %d): %v %v", e.crash, e.n, out, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != crashes || right != normal {
		t.Errorf("%d worker_failed and %d right answers, want %d and %d", failed, right, crashes, normal)
	}
	if !testutil.Poll(5*time.Second, func() bool { return allUp(s) }) {
		t.Errorf("workers did not recover: %v", s.pids())
	}
	// A slot counts itself busy until it has answered and, after a crash,
	// started the replacement: its last caller may return a moment earlier.
	idle := func() bool { l := s.Load(); return l.Slots == workers && l.Busy == 0 && l.Queued == 0 }
	if !testutil.Poll(5*time.Second, idle) {
		t.Errorf("load %+v after the storm", s.Load())
	}
}

// A worker killed while idle is replaced, and the next job works even when
// it comes before the executor has noticed the death: a worker that never
// took its job cannot have failed it.
func TestSubprocessKilledWhileIdle(t *testing.T) {
	s, logs := newSub(t, SubprocessConfig{Workers: 1})
	for round := range 3 {
		pid := s.pids()[0]
		syscall.Kill(pid, syscall.SIGKILL)
		if round == 2 {
			// And once after the death was surely noticed.
			testutil.Poll(5*time.Second, func() bool { return allUp(s, pid) })
		}
		if w := checkModsum(t, s, kernels.ImplC); w == pid {
			t.Fatalf("round %d: the killed worker %d answered", round, pid)
		}
		if !gone(pid) {
			t.Errorf("round %d: worker %d was not reaped", round, pid)
		}
		if !strings.Contains(logs.String(), fmt.Sprintf("worker %d killed by signal SIGKILL", pid)) {
			t.Errorf("round %d: the death of %d was not logged:\n%s", round, pid, logs)
		}
	}
	if !allUp(s) {
		t.Errorf("workers %v", s.pids())
	}
}

func TestSubprocessMaxJobs(t *testing.T) {
	s, logs := newSub(t, SubprocessConfig{Workers: 1, MaxJobs: 3})
	var seen []int
	for i := range 10 {
		w := checkModsum(t, s, kernels.ImplC)
		if i%3 == 0 {
			if slices.Contains(seen, w) {
				t.Fatalf("job %d: worker %d again after it retired (%v)", i, w, seen)
			}
			seen = append(seen, w)
		} else if w != seen[len(seen)-1] {
			t.Fatalf("job %d ran on %d, want %d: a worker retired before its 3 jobs", i, w, seen[len(seen)-1])
		}
	}
	for _, pid := range seen[:3] {
		if !testutil.Poll(5*time.Second, func() bool { return gone(pid) }) {
			t.Errorf("retired worker %d was not reaped", pid)
		}
		if want := fmt.Sprintf("worker %d retired after 3 jobs", pid); !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("retiring is no failure, but the log says:\n%s", logs)
	}

	// Under load from many goroutines, no job is lost to a retirement.
	s2, logs2 := newSub(t, SubprocessConfig{Workers: 2, MaxJobs: 5, Queue: 200})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			out, err := s2.Run(context.Background(), modsumJob(t, int64(i), 1000, kernels.ImplC))
			if err == nil && string(out.Result["total"].JSON) != fmt.Sprint(modsumRef(int64(i), 1000)) {
				err = fmt.Errorf("job %d: total %s", i, out.Result["total"].JSON)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := strings.Count(logs2.String(), "retired after 5 jobs"); n < 200/5-2 {
		t.Errorf("%d retirements for 200 jobs at 5 each", n)
	}
	if !testutil.Poll(5*time.Second, func() bool { return allUp(s2) }) {
		t.Errorf("workers %v", s2.pids())
	}
}

// schedOf returns the scheduling policy and nice value of every thread of
// process pid, from /proc/PID/task/TID/stat (fields 41 and 19).
func schedOf(t *testing.T, pid int) map[int][2]int {
	t.Helper()
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(paths) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	out := make(map[int][2]int)
	for _, p := range paths {
		stat, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		// pid (comm) state ...: fields from the 3rd on follow the last ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		policy, err1 := strconv.Atoi(f[41-3])
		nice, err2 := strconv.Atoi(f[19-3])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %q", p, stat)
		}
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		out[tid] = [2]int{policy, nice}
	}
	return out
}

func TestSubprocessPriority(t *testing.T) {
	const schedBatch, schedIdle = 3, 5
	for _, tc := range []struct {
		prio         Priority
		policy, nice int
	}{{PriorityIdle, schedIdle, 0}, {PriorityLow, schedBatch, 19}} {
		s, _ := newSub(t, SubprocessConfig{Workers: 2, Priority: tc.prio})
		check := func(when string) {
			for _, pid := range s.pids() {
				threads := schedOf(t, pid)
				for tid, got := range threads {
					if got != [2]int{tc.policy, tc.nice} {
						t.Errorf("%s, %s: worker %d thread %d has policy %d nice %d, want %d %d",
							tc.prio, when, pid, tid, got[0], got[1], tc.policy, tc.nice)
					}
				}
				if len(threads) < 2 {
					t.Errorf("worker %d has %d threads: is this the right process?", pid, len(threads))
				}
			}
		}
		check("at start")
		// Jobs from several goroutines make the workers' runtimes start
		// more threads (cgo calls, the progress reporter): they inherit.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				job := modsumJob(t, int64(i), 1e7, kernels.ImplC)
				job.Progress = func(float64) {}
				s.Run(context.Background(), job)
			})
		}
		wg.Wait()
		check("after jobs")
		// And the server's own thread is left alone.
		if self := schedOf(t, os.Getpid())[syscall.Gettid()]; self[0] != 0 {
			t.Errorf("the server's thread has policy %d", self[0])
		}
	}
}

// A result never aliases the arena: the next job's result, written to the
// same place, leaves it alone.
func TestSubprocessResultsOwnTheirMemory(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	var outs []*tensor.Tensor
	for i := range 3 {
		a := tensor.FromFloat64([]int{4096, 1}, make([]float64, 4096))
		for j := range a.Float64() {
			a.Float64()[j] = float64(i*10000 + j)
		}
		b := tensor.FromFloat64([]int{1, 1}, []float64{1})
		out, err := s.Run(context.Background(), testJob(t, "gemm", wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}, kernels.ImplC))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := out.Result.Tensor("c")
		outs = append(outs, c)
		// The caller may reuse its arguments once Run has returned.
		clear(a.Float64())
	}
	for i, c := range outs {
		for j, v := range c.Float64() {
			if v != float64(i*10000+j) {
				t.Fatalf("result %d: c[%d] = %g, want %d", i, j, v, i*10000+j)
			}
		}
	}
}

// Both ways of waiting work alike: polling the arena, and sleeping until a
// wake frame (Spin < 0 never polls, so every job and result wakes its
// reader).
func TestSubprocessWakeUps(t *testing.T) {
	for _, spin := range []time.Duration{-1, DefaultSpin, time.Millisecond} {
		s, _ := newSub(t, SubprocessConfig{Workers: 2, Spin: spin})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					n := int64(g*1000 + i)
					out, err := s.Run(context.Background(), modsumJob(t, n, 100, kernels.ImplC))
					if err != nil || string(out.Result["total"].JSON) != fmt.Sprint(modsumRef(n, 100)) {
						t.Errorf("spin %v: job %d: %v %v", spin, n, out, err)
						return
					}
					if i%10 == 0 {
						// The pause is under test: both sides fall asleep now
						// and then, past any spin, and must wake each other.
						time.Sleep(200 * time.Microsecond)
					}
				}
			})
		}
		wg.Wait()
	}
}

// A job's arguments far beyond the memory limit pass through the arena,
// which the limit does not count; the job's own allocations do count.
func TestSubprocessMemoryLimitArena(t *testing.T) {
	if raceEnabled {
		t.Skip("a race-detector worker reserves terabytes of address space: RLIMIT_AS cannot apply")
	}
	s, _ := newSub(t, SubprocessConfig{Workers: 1, MemoryLimit: 192 << 20})
	const m, k = 4 << 20, 8 // a: 256 MiB in; c: 32 MiB out
	a, _ := tensor.New(tensor.F64, m, k)
	x := a.Float64()
	for i := 0; i < m; i++ {
		x[i*k+i%k] = float64(i)
	}
	b, _ := tensor.New(tensor.F64, k, 1)
	for i := range k {
		b.Float64()[i] = 1
	}
	out, err := s.Run(context.Background(), testJob(t, "gemm", wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}, kernels.ImplC))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := out.Result.Tensor("c")
	for _, i := range []int{0, 1, 12345, m - 1} {
		if c.Float64()[i] != float64(i) {
			t.Fatalf("c[%d] = %g", i, c.Float64()[i])
		}
	}
	_, err = s.Run(context.Background(), testJob(t, "alloc", nil, kernels.ImplGo))
	wantCode(t, err, wire.WorkerFailed, "while running alloc", "out of memory")
	checkModsum(t, s, kernels.ImplC)
}

// RaisePriority gives the workers' threads (subprocess) and the pool's
// threads normal priority back, for a server that drains or exits while
// other work keeps the CPUs. Raising needs CAP_SYS_NICE: without it the
// test checks that the error says EPERM.
func TestRaisePriority(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 2, Priority: PriorityIdle})
	p := NewPool(PoolConfig{Workers: 2, Priority: PriorityIdle})
	defer p.Close()
	// The pool's workers set their threads up as they start.
	if !testutil.Poll(5*time.Second, func() bool { return p.tids[0].Load() != 0 && p.tids[1].Load() != 0 }) {
		t.Fatal("the pool's workers never started")
	}
	for _, r := range []PriorityRaiser{s, p} {
		if err := r.RaisePriority(); err != nil {
			if errors.Is(err, syscall.EPERM) {
				t.Skipf("SKIPPED: raising priority is not allowed here (no CAP_SYS_NICE): %v", err)
			}
			t.Fatal(err)
		}
	}
	self := schedOf(t, os.Getpid())
	for i := range p.tids {
		tid := int(p.tids[i].Load())
		if got := self[tid]; got != [2]int{0, 0} {
			t.Errorf("pool thread %d has policy %d nice %d after RaisePriority, want 0 0", tid, got[0], got[1])
		}
	}
	for _, pid := range s.pids() {
		for tid, got := range schedOf(t, pid) {
			if got != [2]int{0, 0} {
				t.Errorf("worker %d thread %d has policy %d nice %d after RaisePriority, want 0 0", pid, tid, got[0], got[1])
			}
		}
	}
	// The workers still answer.
	if _, err := s.Run(context.Background(), modsumJob(t, 3, 1000, kernels.ImplC)); err != nil {
		t.Fatal(err)
	}
}
