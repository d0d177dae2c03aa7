package load

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/wire"
)

// crunchBin is the crunch binary, built once for the package's tests.
var crunchBin string

func TestMain(m *testing.M) {
	if IsProbeChild() { // the test binary doubles as the probe process
		os.Exit(ProbeChildMain())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "crunch-load-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if crunchBin, err = Build(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func TestReadProcStatus(t *testing.T) {
	st, err := ReadProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.Threads < 1 || st.RSSBytes < 1<<20 {
		t.Errorf("our own status: %+v: want ≥ 1 thread and ≥ 1 MiB", st)
	}
	if _, err := ReadProcStatus(1 << 30); err == nil {
		t.Errorf("a process that does not exist: no error")
	}
}

// TestMeasureShort runs a real server for about a second under two
// connections of small modsum jobs, one on each executor that has slots
// to spare, and checks that everything was counted.
func TestMeasureShort(t *testing.T) {
	t.Run("probe in this process", func(t *testing.T) { measureShort(t, nil) })
	t.Run("probe in its own", func(t *testing.T) { measureShort(t, []string{os.Args[0]}) })
}

func measureShort(t *testing.T, probeCommand []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := StartServer(ctx, ServerConfig{
		Binary: crunchBin,
		// Normal priority: subprocess workers below it (the default puts
		// them in a cgroup of the least weight) get almost no CPU while
		// other programs on the machine want it, and this test counts
		// jobs in every window.
		Args: []string{"--pool-workers", "1", "--workers", "1", "--compute-priority", "normal", "--log-level", "warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	execs := []string{"pool", "subprocess"}
	args := wire.Args{"n": wire.Int(1_000_003), "iters": wire.Int(1_000_000)}
	var statuses int
	var lastStatus Status
	res, err := Measure(ctx, srv, MeasureConfig{
		Load: LoadConfig{
			Conns: 2, InFlight: 2, Warmup: 200 * time.Millisecond, Duration: 1200 * time.Millisecond, Windows: 3,
			Request: func(conn, seq int) Request {
				return Request{Op: "modsum", Args: args, Exec: execs[conn%2], Impl: "c", Timeout: 10 * time.Second}
			},
		},
		Probe:        ProbeConfig{Interval: 10 * time.Millisecond, Timeout: time.Second},
		ProbeCommand: probeCommand,
		Status:       func(s Status) { statuses++; lastStatus = s },
	})
	if err != nil {
		t.Fatal(err)
	}
	l, p, u := res.Load, res.Probe, res.Server
	t.Logf("load: %.0f req/s, p50 %.2f ms, p99 %.2f ms; probe: %d/%d answered, p99 %.2f ms; server: %d threads, %d MiB, %d workers",
		l.ThroughputPerS, l.Latency.P50Ms, l.Latency.P99Ms, p.Answered, p.Sent, p.RTT.P99Ms, u.MaxThreads, u.MaxRSSBytes>>20, u.MaxChildren)
	if l.OK == 0 || l.ThroughputPerS <= 0 || l.Latency.Count != int(l.OK) || l.Latency.P50Ms <= 0 {
		t.Errorf("no throughput: %+v", l)
	}
	if l.Failed != 0 || len(l.ErrorsByCode) != 0 || l.AbnormalCloses != 0 || l.Unfinished != 0 {
		t.Errorf("errors: %+v", l)
	}
	if l.ServerRun.Count != int(l.OK) || l.ServerRun.P50Ms <= 0 {
		t.Errorf("server stats missing: %+v", l.ServerRun)
	}
	if p == nil || p.Sent < 10 || p.Answered != p.Sent || p.Lost != 0 || p.RTT.MaxMs <= 0 {
		t.Errorf("probe: %+v", p)
	}
	if u.Samples < 2 || u.MaxThreads < 2 || u.MaxRSSBytes <= 0 || u.MaxChildren != 1 || u.MaxChildRSSBytes <= 0 {
		t.Errorf("server usage: %+v", u)
	}
	if u.CPUCores <= 0 || u.LoadGenCPUCores <= 0 || u.MachineBusyCores <= 0 {
		t.Errorf("no CPU use measured: %+v", u)
	}
	if len(u.ThreadClasses) == 0 || len(u.ChildThreadClasses) == 0 {
		t.Errorf("no scheduling classes: %+v", u)
	}
	if statuses == 0 || lastStatus.Pings == 0 {
		t.Errorf("Status was called %d times, the last with %d pings", statuses, lastStatus.Pings)
	}
	checkWindows(t, res, 3)
	if err := srv.Stop(); err != nil {
		t.Errorf("stopping: %v", err)
	}
}

// TestStartServerBadFlag: a server that cannot start says why.
func TestStartServerBadFlag(t *testing.T) {
	_, err := StartServer(context.Background(), ServerConfig{Binary: crunchBin, Args: []string{"--no-such-flag"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("got %v, want an error quoting the server's complaint", err)
	}
}

func TestThreadClasses(t *testing.T) {
	classes := ThreadClasses(os.Getpid())
	n := 0
	for _, c := range classes {
		n += c
	}
	st, err := ReadProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Threads may come and go between the two reads; allow some slack.
	if n < 1 || n > st.Threads+8 {
		t.Errorf("ThreadClasses = %v (%d threads), but status says %d threads", classes, n, st.Threads)
	}
	if got := FormatClasses(map[string]int{"normal": 3, "idle": 2}); got != "idle×2, normal×3" {
		t.Errorf("FormatClasses = %q", got)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	fmt.Fprint(b, "abc")
	if got := b.String(); got != "abc" {
		t.Errorf("short: %q", got)
	}
	fmt.Fprint(b, "defghijkl\n")
	if got := b.String(); got != "[…]fghijkl" {
		t.Errorf("cut: %q", got)
	}
}

// checkWindows checks that res has n windows whose counts add up to the
// run's, each with calls and pings of its own.
func checkWindows(t *testing.T, res Result, n int) {
	t.Helper()
	ws := res.Windows()
	if len(ws) != n || len(res.Load.Windows) != n || len(res.Probe.Windows) != n {
		t.Fatalf("%d windows (load %d, probe %d), want %d", len(ws), len(res.Load.Windows), len(res.Probe.Windows), n)
	}
	var ok, sent, answered int64
	for i, w := range ws {
		if w.Load.OK == 0 || w.Load.Latency.Count != int(w.Load.OK) || math.Abs(w.Load.DurationS-res.Load.DurationS/float64(n)) > 1e-9 {
			t.Errorf("window %d: load %+v", i, w.Load)
		}
		if w.Probe == nil || w.Probe.Sent == 0 || w.Probe.RTT.Count != int(w.Probe.Answered) {
			t.Errorf("window %d: probe %+v", i, w.Probe)
		}
		if w.Server.Samples != res.Server.Samples {
			t.Errorf("window %d: not the run's server usage", i)
		}
		ok += w.Load.OK
		if w.Probe != nil {
			sent, answered = sent+w.Probe.Sent, answered+w.Probe.Answered
		}
	}
	if ok != res.Load.OK || sent != res.Probe.Sent || answered != res.Probe.Answered {
		t.Errorf("windows add up to %d calls, %d/%d pings; the run has %d, %d/%d", ok, answered, sent, res.Load.OK, res.Probe.Answered, res.Probe.Sent)
	}
}

// TestWindowOf: an instant belongs to the window it falls in; the bounds
// go to the first and last.
func TestWindowOf(t *testing.T) {
	start := time.Unix(100, 0)
	each := 100 * time.Millisecond
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{-time.Second, 0}, {0, 0}, {99 * time.Millisecond, 0}, {100 * time.Millisecond, 1}, {299 * time.Millisecond, 2}, {300 * time.Millisecond, 2}, {time.Hour, 2}} {
		if got := windowOf(start.Add(c.at), start, each, 3); got != c.want {
			t.Errorf("windowOf(start%+v) = %d, want %d", c.at, got, c.want)
		}
	}
}

// TestProbeProcessCannotDial: a probe process that cannot reach the server
// says why, and Measure fails before any load.
func TestProbeProcessCannotDial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := startProbeProcess(ctx, ProbeSpec{Command: []string{os.Args[0]}}, ProbeConfig{Addr: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "probe process") {
		t.Fatalf("err = %v, want the probe process's dial error", err)
	}
	t.Log(err)
}

// TestThreadStates: a line per thread of this process, with its state.
func TestThreadStates(t *testing.T) {
	got := ThreadStates(os.Getpid())
	if want := fmt.Sprintf("pid %d tid %d ", os.Getpid(), os.Getpid()); !strings.Contains(got, want) || !strings.Contains(got, " state R ") {
		t.Errorf("ThreadStates(self) = %q, want a line starting %q and a running thread", got, want)
	}
}
