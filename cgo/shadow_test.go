package cgo_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"golang.org/x/sys/unix"
)

// startShadow starts a shadow for a test and stops it when the test ends.
func startShadow(t *testing.T) *cgo.Shadow {
	t.Helper()
	s, err := cgo.StartShadow()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// kernelResults runs one call of every kind of binding with x and returns
// what each produced, printed exactly (%x of every float's bits).
func kernelResults(t *testing.T, x *cgo.Ctx) string {
	t.Helper()
	var b strings.Builder
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	const n = 131 // a prime: no SIMD width divides it
	a, c := make([]float64, n*n), make([]float64, n*n)
	for i := range a {
		a[i] = math.Sin(float64(i)) * 1e3
	}
	a[5] = math.NaN()
	must("gemm", cgo.GemmF64(x, false, true, n, n, n, 1, a, n, a, n, 0, c, n))
	fmt.Fprintf(&b, "gemm %x\n", c)
	st, err := cgo.StatsF64(x, a, 1)
	must("stats", err)
	fmt.Fprintf(&b, "stats %+v\n", st)
	s := slices.Clone(a)
	must("sort", cgo.SortF64(x, s, true))
	fmt.Fprintf(&b, "sort %x\n", s)
	in := make([]complex128, 1<<12)
	for i := range in {
		in[i] = cmplx.Rect(1, float64(i*i))
	}
	out := make([]complex128, len(in))
	must("fft", cgo.FFTC128(x, false, cgo.FFTNorm(0), 1, len(in), in, out))
	fmt.Fprintf(&b, "fft %x\n", out)
	counts := make([]uint32, 97*61)
	must("mandelbrot", cgo.Mandelbrot(x, 97, 61, -2, 1, -1, 1, 200, counts))
	fmt.Fprintf(&b, "mandelbrot %v\n", counts)
	sum, err := cgo.Modsum(x, 7, 1e6+3)
	must("modsum", err)
	fmt.Fprintf(&b, "modsum %d\n", sum)
	must("noop", cgo.Noop(x))
	return b.String()
}

// A Ctx with a shadow gets the same results, bit for bit, as one without,
// and the same errors.
func TestShadowSameResults(t *testing.T) {
	s := startShadow(t)
	plain := kernelResults(t, cgo.NewCtx())
	x := cgo.NewCtx()
	x.SetShadow(s)
	for _, spin := range []time.Duration{0, 50 * time.Microsecond} {
		s.SetSpin(spin)
		if got := kernelResults(t, x); got != plain {
			t.Fatalf("spin %v: results through the shadow differ from the caller's own", spin)
		}
	}
	_, err := cgo.Modsum(x, 1, -1)
	if !errors.Is(err, cgo.ErrInvalid) {
		t.Errorf("a refused call through the shadow: %v, want invalid", err)
	}
	x.Reset()
	if got := kernelResults(t, x); got != plain {
		t.Fatal("after Reset: results differ")
	}
}

// threadCPU returns the CPU time thread tid of this process has used.
func threadCPU(t *testing.T, tid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		t.Skipf("SKIPPED: no schedstat: %v", err)
	}
	ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ns)
}

// The kernel runs on the shadow's thread, not the caller's, and the
// shadow is a thread of this process that blocks every signal.
func TestShadowRunsOnItsThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := startShadow(t)
	me := unix.Gettid()
	if s.TID() <= 0 || s.TID() == me {
		t.Fatalf("shadow thread id %d (caller %d)", s.TID(), me)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", s.TID()))
	if err != nil {
		t.Fatalf("the shadow is no thread of this process: %v", err)
	}
	var blocked uint64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:\t"); ok {
			blocked, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	// The signals Go handles for the process, and its preemption signal.
	for _, sig := range []unix.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGCHLD, unix.SIGPIPE, unix.SIGPROF, unix.SIGURG, unix.SIGUSR1} {
		if blocked&(1<<(uint(sig)-1)) == 0 {
			t.Errorf("the shadow does not block %v (SigBlk %x)", sig, blocked)
		}
	}
	x := cgo.NewCtx()
	x.SetShadow(s)
	shadowBefore, mineBefore := threadCPU(t, s.TID()), threadCPU(t, me)
	start := time.Now()
	if _, err := cgo.Modsum(x, 3, 3e8); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	shadowUsed, mineUsed := threadCPU(t, s.TID())-shadowBefore, threadCPU(t, me)-mineBefore
	t.Logf("call %v: shadow used %v, caller %v", wall, shadowUsed, mineUsed)
	if shadowUsed < wall/4 || mineUsed > shadowUsed/4 {
		t.Errorf("call of %v: the shadow used %v of CPU, the caller %v", wall, shadowUsed, mineUsed)
	}
}

// Cancelling a call that runs on a shadow stops it, and the shadow takes
// the next call.
func TestShadowCancel(t *testing.T) {
	s := startShadow(t)
	x := cgo.NewCtx()
	x.SetShadow(s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	stop := x.Watch(ctx)
	start := time.Now()
	_, err := cgo.Modsum(x, 3, 1e15)
	stop()
	if !errors.Is(err, cgo.ErrCanceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancel took %v", took)
	}
	x.Reset()
	x.SetShadow(s)
	if got, err := cgo.Modsum(x, 2, 1000); err != nil || got != modsumRef(t, 2, 1000) {
		t.Fatalf("the call after: %d, %v", got, err)
	}
}

// Many shadows, each with callers taking turns at it as a pool worker's
// jobs do (one at a time), stopped while idle: every result right.
func TestShadowManyCalls(t *testing.T) {
	var wg sync.WaitGroup
	for w := range 4 {
		s := startShadow(t)
		s.SetSpin(time.Duration(w) * 20 * time.Microsecond)
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := cgo.NewCtx()
			for i := range 2000 {
				x.Reset()
				x.SetShadow(s)
				n := int64(i%97 + w)
				got, err := cgo.Modsum(x, n, int64(i))
				if err != nil || got != modsumRef(t, n, int64(i)) {
					t.Errorf("shadow %d call %d: %d, %v", w, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
