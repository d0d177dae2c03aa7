package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// The test binary doubles as the subprocess worker: started with
// CRUNCH_TEST_WORKER=1 (and no arguments, so no test flag is parsed and no
// test runs), it serves jobs from testRegistry, misbehaving ops included.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("CRUNCH_TEST_WORKER") == "1":
		if err := WorkerMain(os.Stdin, os.Stdout, testRegistry()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case os.Getenv("CRUNCH_TEST_SERVER") == "1":
		serveForever()
	}
	os.Exit(m.Run())
}

// serveForever plays a server for TestWorkersDieWithServer: it starts two
// workers, one of them spinning (deaf to the end of its stdin), prints
// their pids and waits to be killed.
func serveForever() {
	s, err := NewSubprocess(SubprocessConfig{Workers: 2, Command: []string{os.Args[0]},
		Env: []string{"CRUNCH_TEST_SERVER=", "CRUNCH_TEST_WORKER=1"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	op, _ := testRegistry().Lookup("spin")
	call, _ := op.Prepare(nil)
	go s.Run(context.Background(), &Job{Call: call, Impl: kernels.ImplGo})
	// A worker spins once the job frame has reached it: it is runnable
	// for good, where an idle worker sleeps in its read.
	if !testutil.Poll(time.Minute, func() bool { return running(s.pids()[0]) || running(s.pids()[1]) }) {
		fmt.Fprintln(os.Stderr, "no worker took the spinning job within a minute")
		os.Exit(1)
	}
	fmt.Println(s.pids()[0], s.pids()[1])
	select {}
}

// newSub starts a Subprocess whose workers are this test binary (2 of them
// unless cfg says otherwise), closed when the test ends. Its log is shown
// if the test fails.
func newSub(t testing.TB, cfg SubprocessConfig) (*Subprocess, *testutil.SyncBuffer) {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	cfg.Command = []string{os.Args[0]}
	cfg.Env = append(cfg.Env, "CRUNCH_TEST_WORKER=1",
		// A race-detector binary sleeps a second at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	logs := &testutil.SyncBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	s, err := NewSubprocess(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Errorf("Close still waits after 20 s: Load %+v", s.Load())
		}
		if t.Failed() {
			t.Logf("executor log:\n%s", logs)
		}
	})
	return s, logs
}

// gone reports whether no process has pid any more (it was reaped).
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// dead reports whether pid is gone or a zombie (an orphan waiting for init
// to reap it).
func dead(pid int) bool {
	state, err := procState(pid)
	if err != nil {
		return gone(pid)
	}
	return state == 'Z'
}

// running reports whether a thread of pid is running or waiting only for a CPU (state
// R), as a process busy computing is, and not asleep.
func running(pid int) bool {
	// /proc/PID/stat shows the main thread only; a Go worker may spin on
	// any of its threads.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, task := range tasks {
		tid, err := strconv.Atoi(filepath.Base(task))
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid)); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'R' {
				return true
			}
		}
	}
	return false
}

// procState is the state letter of /proc/PID/stat.
func procState(pid int) (byte, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i <= 0 || i+2 >= len(stat) {
		return 0, fmt.Errorf("/proc/%d/stat: no state in %q", pid, stat)
	}
	return stat[i+2], nil
}

// allUp reports whether every slot has a live worker, none of them in
// dead.
func allUp(s *Subprocess, dead ...int) bool {
	pids := s.pids()
	for _, p := range pids {
		if p == 0 || slices.Contains(dead, p) {
			return false
		}
	}
	return true
}

// wantCode checks that err is a protocol error with code and that its
// message mentions every string in mention.
func wantCode(t *testing.T, err error, code wire.Code, mention ...string) *wire.Error {
	t.Helper()
	e := wire.AsError(err)
	if e == nil || e.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	for _, m := range mention {
		if !strings.Contains(e.Message, m) {
			t.Errorf("message %q does not mention %q", e.Message, m)
		}
	}
	return e
}

// checkModsum runs a small modsum and checks its answer; it returns the
// worker that ran it.
func checkModsum(t *testing.T, s *Subprocess, impl string) int {
	t.Helper()
	out, err := s.Run(context.Background(), modsumJob(t, 7, 100000, impl))
	if err != nil {
		t.Fatalf("modsum/%s: %v", impl, err)
	}
	if got, want := total(t, out), modsumRef(7, 100000); got != want {
		t.Fatalf("modsum/%s: total %d, want %d", impl, got, want)
	}
	if out.Worker == 0 {
		t.Errorf("modsum/%s: outcome names no worker", impl)
	}
	return out.Worker
}

func TestSubprocessRightResults(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{})
	if s.Name() != NameSubprocess || s.Load().Slots != 2 {
		t.Fatalf("name %q, load %+v", s.Name(), s.Load())
	}
	for _, impl := range []string{kernels.ImplC, kernels.ImplGo} {
		if w := checkModsum(t, s, impl); !slices.Contains(s.pids(), w) {
			t.Errorf("worker %d is not one of %v", w, s.pids())
		}
	}

	r := rand.New(rand.NewPCG(1, 2))
	const m, k, n = 37, 23, 19
	a, _ := tensor.New(tensor.F64, m, k)
	b, _ := tensor.New(tensor.F64, k, n)
	for _, x := range [][]float64{a.Float64(), b.Float64()} {
		for i := range x {
			x[i] = r.Float64()*2 - 1
		}
	}
	for _, impl := range []string{kernels.ImplC, kernels.ImplGonum} {
		job := testJob(t, "gemm", wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}, impl)
		out, err := s.Run(context.Background(), job)
		if err != nil {
			t.Fatalf("gemm/%s: %v", impl, err)
		}
		c, err := out.Result.Tensor("c")
		if err != nil || c.DType != tensor.F64 || !slices.Equal(c.Shape, []int{m, n}) {
			t.Fatalf("gemm/%s: result %v (%v)", impl, c, err)
		}
		for i := range m {
			for j := range n {
				var want float64
				for p := range k {
					want += a.Float64()[i*k+p] * b.Float64()[p*n+j]
				}
				if got := c.Float64()[i*n+j]; math.Abs(got-want) > 1e-12*float64(k) {
					t.Fatalf("gemm/%s: c[%d,%d] = %g, want %g", impl, i, j, got, want)
				}
			}
		}
	}

	// A failure inside the worker comes back as the kernel's own error.
	_, err := s.Run(context.Background(), testJob(t, "modsum", wire.Args{"n": wire.Int(1)}, "gonum"))
	wantCode(t, err, wire.NotFound, "gonum")
	// A stray print to stdout in the worker does not break the pipe.
	if _, err := s.Run(context.Background(), testJob(t, "stdout", nil, kernels.ImplGo)); err != nil {
		t.Fatalf("stdout op: %v", err)
	}
	checkModsum(t, s, kernels.ImplC)
}

func TestSubprocessProgress(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	var mu sync.Mutex
	var seen []float64
	// Cancelled at the third report: the worker may wait for a CPU for a
	// while on a busy machine, so no fixed deadline stands for "reports".
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job := modsumJob(t, 3, 3e10, kernels.ImplGo) // tens of seconds of Go loop
	job.Progress = func(f float64) {
		mu.Lock()
		defer mu.Unlock()
		if seen = append(seen, f); len(seen) == 3 {
			cancel()
		}
	}
	start := time.Now()
	_, err := s.Run(ctx, job)
	took := time.Since(start)
	wantCode(t, err, wire.Canceled)
	mu.Lock()
	defer mu.Unlock()
	// Reports come about every 100 ms of the job's run, never in a burst.
	if len(seen) < 3 || time.Duration(len(seen)-1)*50*time.Millisecond > took {
		t.Errorf("%d progress reports in %v, want 3 about 100 ms apart: %v", len(seen), took, seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] || seen[i] > 1 {
			t.Errorf("progress not increasing: %v", seen)
		}
	}
}

func TestSubprocessCancelKeepsWorker(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	pid := s.pids()[0]
	for _, impl := range []string{kernels.ImplC, kernels.ImplGo} {
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(50*time.Millisecond, func() { cancel(wire.Errorf(wire.Canceled, "canceled by request 8")) })
		start := time.Now()
		_, err := s.Run(ctx, modsumJob(t, 3, 1e15, impl))
		if e := wantCode(t, err, wire.Canceled); e.Message != "canceled by request 8" {
			t.Errorf("%s: message %q, want the cancel's cause", impl, e.Message)
		}
		if took := time.Since(start); took > 300*time.Millisecond {
			t.Errorf("%s: cancel took %v", impl, took)
		}
		// The kernel polls its cancel flag: same worker, no kill.
		if w := checkModsum(t, s, kernels.ImplC); w != pid {
			t.Errorf("%s: worker %d after the cancel, want %d still", impl, w, pid)
		}
	}
}

func TestSubprocessDeadline(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	pid := s.pids()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, modsumJob(t, 3, 1e15, kernels.ImplC))
	wantCode(t, err, wire.DeadlineExceeded)
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("deadline answered after %v", took)
	}
	if w := checkModsum(t, s, kernels.ImplGo); w != pid {
		t.Errorf("worker %d after the deadline, want %d still", w, pid)
	}
}

func TestSubprocessSpinKilled(t *testing.T) {
	s, logs := newSub(t, SubprocessConfig{Workers: 1, KillGrace: 200 * time.Millisecond})
	pid := s.pids()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, testJob(t, "spin", nil, kernels.ImplGo))
	wantCode(t, err, wire.DeadlineExceeded)
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Errorf("deadline answered after %v: Run must not wait for the kill", took)
	}
	// The next job waits for the kill and the restart, then runs right.
	if w := checkModsum(t, s, kernels.ImplC); w == pid {
		t.Errorf("the spinning worker %d still serves", pid)
	}
	if !testutil.Poll(time.Second, func() bool { return gone(pid) }) {
		t.Errorf("worker %d still exists", pid)
	}
	if !strings.Contains(logs.String(), "ignored the cancel") {
		t.Errorf("the kill was not logged:\n%s", logs)
	}
}

func TestSubprocessCrash(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 2})
	before := s.pids()
	_, err := s.Run(context.Background(), testJob(t, "crash", nil, kernels.ImplGo))
	e := wantCode(t, err, wire.WorkerFailed, "killed by signal SIGSEGV while running crash")
	var pid int
	for _, p := range before {
		if strings.Contains(e.Message, fmt.Sprintf("worker %d ", p)) {
			pid = p
		}
	}
	if pid == 0 {
		t.Fatalf("message %q names none of the workers %v", e.Message, before)
	}
	if !gone(pid) {
		t.Errorf("crashed worker %d was not reaped", pid)
	}
	if !testutil.Poll(5*time.Second, func() bool { return allUp(s, pid) }) {
		t.Fatalf("workers %v did not recover from the crash of %d", s.pids(), pid)
	}
	checkModsum(t, s, kernels.ImplC)
}

func TestSubprocessIdleDeath(t *testing.T) {
	s, logs := newSub(t, SubprocessConfig{Workers: 1})
	pid := s.pids()[0]
	syscall.Kill(pid, syscall.SIGKILL)
	if !testutil.Poll(5*time.Second, func() bool { return allUp(s, pid) }) {
		t.Fatalf("worker %d was not replaced: %v", pid, s.pids())
	}
	if want := fmt.Sprintf("worker %d killed by signal SIGKILL while idle", pid); !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
	checkModsum(t, s, kernels.ImplC)
}

func TestSubprocessExit(t *testing.T) {
	s, logs := newSub(t, SubprocessConfig{Workers: 1})
	pid := s.pids()[0]
	_, err := s.Run(context.Background(), testJob(t, "exit", nil, kernels.ImplGo))
	wantCode(t, err, wire.WorkerFailed, fmt.Sprintf("worker %d exited with status 3 while running exit", pid), "goodbye")
	if w := checkModsum(t, s, kernels.ImplGo); w == pid {
		t.Errorf("the exited worker %d still serves", pid)
	}
	// Its stderr reached the log, tagged with its pid.
	if !strings.Contains(logs.String(), fmt.Sprintf("exit op: goodbye\" executor=subprocess pid=%d", pid)) {
		t.Errorf("worker stderr not logged with its pid:\n%s", logs)
	}
}

func TestSubprocessMemoryLimit(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("a race-detector worker reserves terabytes of address space: RLIMIT_AS cannot apply")
	}
	s, _ := newSub(t, SubprocessConfig{Workers: 1, MemoryLimit: 256 << 20})
	_, err := s.Run(context.Background(), testJob(t, "alloc", nil, kernels.ImplGo))
	e := wantCode(t, err, wire.WorkerFailed, "while running alloc", "out of memory")
	t.Log(e.Message)
	checkModsum(t, s, kernels.ImplC)
}

// modsumRef computes modsum the slow, obvious way.
func modsumRef(n, iters int64) int64 {
	var s int64
	r := (n%97 + 97) % 97
	for i := range iters {
		s += (i % 97) * r % 97
	}
	return s
}

func TestSubprocessOverloaded(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1, Queue: 1})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the cleanup's Close, which waits for running jobs
	long := modsumJob(t, 3, 1e15, kernels.ImplC)
	// One running, then one queued: started together, the second could
	// find the first still in the queue and be refused.
	for i := range 2 {
		wg.Go(func() { s.Run(ctx, long) })
		if !testutil.Poll(2*time.Second, func() bool { return s.Load().Busy == 1 && s.Load().Queued == i }) {
			t.Fatalf("load %+v, want 1 busy and %d queued", s.Load(), i)
		}
	}
	start := time.Now()
	_, err := s.Run(ctx, modsumJob(t, 1, 1, kernels.ImplC))
	if e := wantCode(t, err, wire.Overloaded); e.RetryAfterMS <= 0 {
		t.Errorf("retry_after_ms %d", e.RetryAfterMS)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("overloaded answered after %v", took)
	}
}

func TestSubprocessClose(t *testing.T) {
	base := runtime.NumGoroutine()
	s, _ := newSub(t, SubprocessConfig{Workers: 2, Queue: 10})
	pids := s.pids()

	type result struct {
		out *Outcome
		err error
	}
	results := make(chan result, 10)
	for i := range 7 {
		iters := int64(100000)
		if i < 2 {
			iters = 2e10 // about 600 ms of C: running when Close comes
		}
		job := modsumJob(t, 5, iters, kernels.ImplC)
		go func() {
			out, err := s.Run(context.Background(), job)
			results <- result{out, err}
		}()
		if i == 1 {
			testutil.Poll(2*time.Second, func() bool { return s.Load().Busy == 2 })
		}
	}
	if !testutil.Poll(2*time.Second, func() bool { return s.Load().Queued == 5 }) {
		t.Fatalf("load %+v, want 2 busy and 5 queued", s.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ok, closed := 0, 0
	for range 7 {
		select {
		case r := <-results:
			switch {
			case r.err == nil:
				ok++
			case errors.Is(r.err, ErrClosed):
				closed++
			default:
				t.Errorf("unexpected result %v", r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a job got no result")
		}
	}
	if ok != 2 || closed != 5 {
		t.Errorf("%d finished and %d refused, want the 2 running to finish and the 5 queued refused", ok, closed)
	}
	if _, err := s.Run(context.Background(), modsumJob(t, 1, 1, kernels.ImplC)); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("worker %d outlived Close", pid)
		}
	}
	if !testutil.Poll(2*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Workers die with their server, however it dies: an idle worker sees its
// stdin end, a busy one is killed by PR_SET_PDEATHSIG.
func TestSubprocessWorkersDieWithServer(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CRUNCH_TEST_SERVER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var a, b int
	if _, err := fmt.Fscan(out, &a, &b); err != nil {
		t.Fatalf("reading the workers' pids: %v", err)
	}
	if dead(a) || dead(b) {
		t.Fatalf("workers %d and %d are not running", a, b)
	}
	cmd.Process.Kill()
	for _, pid := range []int{a, b} {
		if !testutil.Poll(5*time.Second, func() bool { return dead(pid) }) {
			t.Errorf("worker %d outlived its server", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func TestSubprocessStartFailures(t *testing.T) {
	base := runtime.NumGoroutine()
	for _, tc := range []struct {
		name    string
		cmd     []string
		mention string
	}{
		{"no such command", []string{"/nonexistent/crunch"}, "no such file"},
		{"exits at once", []string{"/bin/sh", "-c", "echo broken >&2; exit 7"}, "exited with status 7 before its hello (stderr: broken)"},
		{"never says hello", []string{"/bin/sleep", "30"}, "no hello within"},
		{"says something else", []string{"/bin/echo", "hello"}, "unexpected frame kind"},
	} {
		_, err := NewSubprocess(SubprocessConfig{Workers: 2, Command: tc.cmd, StartTimeout: 300 * time.Millisecond,
			Log: slog.New(slog.NewTextHandler(&testutil.SyncBuffer{}, nil))})
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.mention)
		}
	}
	if !testutil.Poll(2*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		t.Errorf("%d goroutines after failed starts, %d before", runtime.NumGoroutine(), base)
	}
}

// BenchmarkSubprocessEmpty measures a round trip through the executors:
// modsum with iters=0 (dispatch cost alone), and for the subprocess an
// 8 MiB f64 gemm argument and result whose arithmetic is trivial (pipe
// cost).
func BenchmarkSubprocessEmpty(b *testing.B) {
	sub, _ := newSub(b, SubprocessConfig{Workers: 1})
	pool := NewPool(PoolConfig{Workers: 1})
	defer pool.Close()
	empty := modsumJob(b, 1, 0, kernels.ImplC)
	for _, ex := range []Executor{NewDirect(0), pool, sub} {
		b.Run("modsum0/"+ex.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, err := ex.Run(context.Background(), empty); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	a, _ := tensor.New(tensor.F64, 1<<20, 1) // 8 MiB
	one, _ := tensor.New(tensor.F64, 1, 1)
	one.Float64()[0] = 2
	big := testJob(b, "gemm", wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(one)}, kernels.ImplC)
	for _, ex := range []Executor{NewDirect(0), sub} {
		b.Run("gemm8MiB/"+ex.Name(), func(b *testing.B) {
			b.SetBytes(16 << 20) // in and out
			for b.Loop() {
				if _, err := ex.Run(context.Background(), big); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSubprocessBackoff(t *testing.T) {
	want := []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
	for q, w := range want {
		if got := backoff(q); got != w {
			t.Errorf("backoff(%d) = %v, want %v", q, got, w)
		}
	}
	if got := backoff(1000); got != maxBackoff {
		t.Errorf("backoff(1000) = %v", got)
	}
}

// A connection that queues twenty jobs delays another's one job by at most
// one job: the subprocess queue serves connections in turn, as the pool's
// does.
func TestSubprocessServesTenantsInTurn(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	blockCtx, unblock := context.WithCancel(context.Background())
	defer unblock()
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	run := func(ctx context.Context, name string, j *Job) {
		wg.Go(func() {
			_, err := s.Run(ctx, j)
			if ctx == blockCtx {
				return // ends canceled, by design
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		})
	}
	waitLoad := func(what string, cond func(Load) bool) {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, what, func() bool { return cond(s.Load()) })
	}
	// The worker is busy with a job that runs until canceled.
	blocker := modsumJob(t, 3, 1e15, kernels.ImplC)
	blocker.Tenant = 1
	run(blockCtx, "blocker", blocker)
	waitLoad("busy", func(l Load) bool { return l.Busy == 1 })
	for i := range 20 {
		j := modsumJob(t, 3, 1e6, kernels.ImplC)
		j.Tenant = 1
		run(context.Background(), fmt.Sprint("greedy", i), j)
	}
	waitLoad("20 queued", func(l Load) bool { return l.Queued == 20 })
	polite := modsumJob(t, 5, 1e6, kernels.ImplC)
	polite.Tenant = 2
	run(context.Background(), "polite", polite)
	waitLoad("21 queued", func(l Load) bool { return l.Queued == 21 })
	unblock()
	wg.Wait()
	if i := slices.Index(order, "polite"); i < 0 || i > 2 {
		t.Fatalf("the polite job finished in position %d: %v", i, order)
	}
	if len(order) != 21 {
		t.Fatalf("%d jobs answered, want 21: %v", len(order), order)
	}
}

// One caller's jobs, one after another, all go to the worker that ran the
// last one: it is still polling its arena, while the other sleeps.
func TestSubprocessPrefersTheHotWorker(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 2})
	seen := map[int]int{}
	for i := range 50 {
		out, err := s.Run(context.Background(), modsumJob(t, int64(i), 100, kernels.ImplC))
		if err != nil {
			t.Fatal(err)
		}
		seen[out.Worker]++
	}
	if len(seen) != 1 {
		t.Errorf("50 sequential jobs ran on workers %v, want all on one", seen)
	}
}

// Under a backlog every worker works, although new tasks wake the worker
// that answered last first.
func TestSubprocessBacklogUsesEveryWorker(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 2})
	var mu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 50 {
				out, err := s.Run(context.Background(), modsumJob(t, int64(i), 30_000, kernels.ImplGo))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[out.Worker]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 2 {
		t.Fatalf("400 jobs from 8 callers ran on workers %v, want both", seen)
	}
	for pid, n := range seen {
		if n < 40 {
			t.Errorf("worker %d ran %d of 400 jobs: %v", pid, n, seen)
		}
	}
}

// Crashes interleaved with normal jobs from many goroutines: each crash
// costs exactly its own job, every other job gets its right answer, and
// the workers are all back afterwards.
func TestSubprocessCrashStorm(t *testing.T) {
	crashes, normal := 100, 1000
	if testutil.RaceEnabled { // a race-detector worker takes a while to start
		crashes, normal = 20, 200
	}
	const workers = 2
	s, _ := newSub(t, SubprocessConfig{Workers: workers, Queue: crashes + normal})
	crashJob := testJob(t, "crash", nil, kernels.ImplGo)
	jobs := make([]*Job, normal)
	for n := range jobs {
		jobs[n] = modsumJob(t, int64(n), 10000, kernels.ImplC)
	}
	testutil.Storm(t, normal, crashes, 32, 5, func(_, n int) error {
		if n >= normal {
			_, err := s.Run(context.Background(), crashJob)
			if e := wire.AsError(err); e == nil || e.Code != wire.WorkerFailed ||
				!strings.Contains(err.Error(), "killed by signal SIGSEGV while running crash") {
				return fmt.Errorf("got %v, want worker_failed for SIGSEGV", err)
			}
			return nil
		}
		out, err := s.Run(context.Background(), jobs[n])
		if err != nil || string(out.Result["total"].JSON) != fmt.Sprint(modsumRef(int64(n), 10000)) {
			return fmt.Errorf("modsum n=%d: %v %v", n, out, err)
		}
		return nil
	})
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
	testutil.Concurrently(t, 200, func(i int) error {
		out, err := s2.Run(context.Background(), modsumJob(t, int64(i), 1000, kernels.ImplC))
		if err == nil && string(out.Result["total"].JSON) != fmt.Sprint(modsumRef(int64(i), 1000)) {
			err = fmt.Errorf("job %d: total %s", i, out.Result["total"].JSON)
		}
		return err
	})
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
	if testutil.RaceEnabled {
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
