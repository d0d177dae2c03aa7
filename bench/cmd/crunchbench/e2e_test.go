package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
)

// fakeRun is a run with the given throughput, latencies and probe figures.
func fakeRun(tput, p50, p99, ping99 float64, threads int, lost, failed int64) load.Result {
	return load.Result{
		Load: load.LoadResult{ThroughputPerS: tput, Failed: failed, AbnormalCloses: 1,
			Latency: load.Latency{Count: 100, P50Ms: p50, P99Ms: p99, P999Ms: 2 * p99}},
		Probe:  &load.ProbeResult{RTT: load.Latency{Count: 100, P50Ms: ping99 / 2, P99Ms: ping99, MaxMs: 2 * ping99}, Lost: lost},
		Server: load.Usage{MaxThreads: threads, MaxChildThreads: 3, MaxRSSBytes: 10 << 20, MaxChildRSSBytes: 2 << 20},
	}
}

func TestSummarizeE2E(t *testing.T) {
	runs := []load.Result{fakeRun(300, 3, 9, 1, 12, 0, 1), fakeRun(100, 1, 5, 3, 14, 2, 0), fakeRun(200, 2, 7, 2, 13, 1, 2)}
	runs[1].Load.Unfinished = 4
	s := summarizeE2E(runs)
	check := func(name string, got, want load.Spread) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
	check("req/s", s.ReqPerS, load.Spread{Median: 200, Min: 100, Max: 300, N: 3})
	check("p50", s.P50Ms, load.Spread{Median: 2, Min: 1, Max: 3, N: 3})
	check("p999", s.P999Ms, load.Spread{Median: 14, Min: 10, Max: 18, N: 3})
	check("ping p99", s.PingP99Ms, load.Spread{Median: 2, Min: 1, Max: 3, N: 3})
	check("lost", s.PingsLost, load.Spread{Median: 1, Min: 0, Max: 2, N: 3})
	check("threads", s.Threads, load.Spread{Median: 16, Min: 15, Max: 17, N: 3})
	check("RSS", s.RSSMiB, load.Spread{Median: 12, Min: 12, Max: 12, N: 3})
	if s.Failed != 3 || s.AbnormalCloses != 3 || s.Unfinished != 4 {
		t.Errorf("failed %d, closes %d, unfinished %d: want 3, 3, 4", s.Failed, s.AbnormalCloses, s.Unfinished)
	}
	runs[0].Probe = nil                // a run without probe is left out, not a crash
	runs[1].Probe.RTT = load.Latency{} // nor does a run that lost every ping count as 0 ms
	if got := summarizeE2E(runs).PingP99Ms; got != (load.Spread{Median: 2, Min: 2, Max: 2, N: 1}) {
		t.Errorf("ping p99 over one answered run = %+v", got)
	}
	if s := summarizeE2E(nil); s.ReqPerS.N != 0 || s.oneLine() != "no run succeeded" {
		t.Errorf("no runs: %+v", s)
	}
}

func TestRunWindows(t *testing.T) {
	const (
		warm, win, maxRun = 300 * time.Millisecond, time.Second, 6 * time.Second
	)
	cases := []struct {
		cycle          time.Duration
		warmup, window time.Duration
		drain          time.Duration
		short          bool
	}{
		{time.Millisecond, warm, win, 500 * time.Millisecond, false},                                // fast calls: the base windows
		{time.Second, time.Second, 2 * time.Second, time.Second, false},                             // a cycle of warm-up, two per window
		{4 * time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3 * time.Second, true},  // capped at maxRun
		{20 * time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3 * time.Second, true}, // drain capped at maxRun/2
	}
	for _, c := range cases {
		w, x, d, s := runWindows(c.cycle, warm, win, maxRun, 2)
		if w != c.warmup || x != c.window || d != c.drain || s != c.short {
			t.Errorf("cycle %v: got %v %v %v %v, want %v %v %v %v", c.cycle, w, x, d, s, c.warmup, c.window, c.drain, c.short)
		}
	}
}

// planFixture is a matrix of two systems, one fast and one slow workload.
func planFixture() ([]e2eCaseKey, map[string]e2eCalibration, e2eSettings) {
	cals := map[string]e2eCalibration{
		"a": {System: "a", StartStopS: 0.2, CallMs: map[string]float64{"fast": 0.1, "slow": 50}},
		"b": {System: "b", StartStopS: 1, CallMs: map[string]float64{"fast": 1}},
	}
	var keys []e2eCaseKey
	for _, k := range []int{1, 4, 16, 64} {
		keys = append(keys, e2eCaseKey{"a", "fast", k}, e2eCaseKey{"b", "fast", k}, e2eCaseKey{"a", "slow", k})
	}
	s := e2eSettings{Reps: 5, Window: time.Second, Warmup: 300 * time.Millisecond, MaxRun: 30 * time.Second}
	return keys, cals, s
}

func TestPlanE2E(t *testing.T) {
	keys, cals, s := planFixture()
	free := planE2E(keys, cals, 2, s, 0)
	if free.Scale != 1 || len(free.Cases) != len(keys) {
		t.Fatalf("no budget: scale %v, %d cases", free.Scale, len(free.Cases))
	}
	var sum time.Duration
	for _, c := range free.Cases {
		sum += c.Est
		if c.Est != c.Start+c.Run || c.Run < c.Warmup+5*c.Window {
			t.Errorf("%+v: estimate is not start + warm-up + reps × window + drain", c.e2eCaseKey)
		}
	}
	if sum != free.Total {
		t.Errorf("total %v, cases sum to %v", free.Total, sum)
	}
	// a/slow at K=64 on 2 CPUs: 32 calls of 50 ms in a row.
	slow := free.Cases[len(free.Cases)-1]
	if slow.Cycle != 1600*time.Millisecond || slow.Warmup != slow.Cycle || slow.Window != 2*slow.Cycle {
		t.Errorf("slow case: cycle %v, warm-up %v, window %v", slow.Cycle, slow.Warmup, slow.Window)
	}

	fitted := planE2E(keys, cals, 2, s, free.Total*2/3)
	if fitted.Scale >= 1 || fitted.Scale < minScale || fitted.Total > free.Total*2/3 || fitted.OverBudget {
		t.Errorf("fitted to 2/3: scale %v, total %v of %v, over %v", fitted.Scale, fitted.Total, free.Total*2/3, fitted.OverBudget)
	}
	if c := fitted.Cases[1]; c.Window >= s.Window || c.Window < time.Duration(minScale*float64(s.Window)) {
		t.Errorf("fast case's window %v was not shortened within bounds", c.Window)
	}
	if over := planE2E(keys, cals, 2, s, time.Second); !over.OverBudget || over.Scale != minScale {
		t.Errorf("1 s budget: over %v, scale %v", over.OverBudget, over.Scale)
	}
	s.Fixed = true
	if fixed := planE2E(keys, cals, 2, s, time.Second); fixed.Total != free.Total {
		t.Errorf("fixed windows changed with the budget: %v, want %v", fixed.Total, free.Total)
	}
}

func TestEtaOf(t *testing.T) {
	if got := etaOf(10*time.Second, 0, time.Second); got != 10*time.Second {
		t.Errorf("nothing done: %v", got)
	}
	if got := etaOf(10*time.Second, 5*time.Second, 10*time.Second); got != 20*time.Second {
		t.Errorf("running at half speed: %v, want 20s", got)
	}
}

func TestE2ESettings(t *testing.T) {
	def, err := e2eSettingsFromFlags(false, false)
	if err != nil || def.Reps != 5 || len(def.Conns) != 4 || len(def.Workloads) != 4 || def.Budget != 4*time.Minute || def.Fixed {
		t.Errorf("default: %+v, %v", def, err)
	}
	q, _ := e2eSettingsFromFlags(true, false)
	if q.Reps != 1 || len(q.Conns) != 2 || len(q.Workloads) != 2 || q.Budget != 40*time.Second {
		t.Errorf("quick: %+v", q)
	}
	f, _ := e2eSettingsFromFlags(false, true)
	if f.Reps != 5 || f.Budget != 0 || !f.Fixed || f.Window != 2*time.Second {
		t.Errorf("full: %+v", f)
	}
	if _, err := parseConns("1,x"); err == nil {
		t.Errorf("parseConns accepted x")
	}
}

// fakeReport is a finished e2e report: two systems, K = 1 and 16, and a
// workload only the first serves.
func fakeReport() *e2eReport {
	r := &e2eReport{
		Settings:  e2eSettings{Reps: 3, Conns: []int{1, 16}, MaxRun: 6 * time.Second},
		Systems:   []string{"crunch direct", "crunch pool"},
		Workloads: []e2eWorkload{{Key: "gemm16", Class: "tiny", Op: "gemm", Desc: "gemm 16×16 f64"}, {Key: "gemm1024", Class: "heavy", Op: "gemm", Desc: "gemm 1024×1024 f64"}},
	}
	add := func(sys, wl string, k int, tput, ping99 float64) {
		runs := []load.Result{fakeRun(tput, 1, 2, ping99, 20, 0, 0), fakeRun(tput*1.1, 1, 2, ping99, 20, 0, 0), fakeRun(tput*0.9, 1, 2, ping99, 20, 0, 0)}
		r.Cases = append(r.Cases, &e2eCase{e2eCaseKey: e2eCaseKey{sys, wl, k}, Runs: runs, Summary: summarizeE2E(runs)})
	}
	add("crunch direct", "gemm16", 1, 1000, 0.5)
	add("crunch pool", "gemm16", 1, 800, 0.4)
	add("crunch direct", "gemm16", 16, 4000, 4)
	add("crunch pool", "gemm16", 16, 2000, 1)
	add("crunch direct", "gemm1024", 1, 30, 0.5)
	r.Cases = append(r.Cases, &e2eCase{e2eCaseKey: e2eCaseKey{"crunch direct", "gemm1024", 16}, Errors: []string{"rep 1: boom"}})
	return r
}

func TestE2EFindings(t *testing.T) {
	f := strings.Join(e2eFindings(fakeReport()), "\n")
	for _, want := range []string{
		"gemm 16×16 f64, K=16: throughput against crunch direct (4000 req/s): crunch pool 0.50×",
		"probe ping p99: crunch direct 4.00 ms, crunch pool 1.00 ms",
		"Throughput at K=16 over K=1: crunch direct 4.00×, crunch pool 2.50×",
		"gemm 1024×1024 f64, K=16", // no K=16 row: left out
		"crunch direct 23 (gemm16, K=1)",
		"crunch direct 0 errors, 9 abnormal closes",
	} {
		has := strings.Contains(f, want)
		if want == "gemm 1024×1024 f64, K=16" {
			has = !has
		}
		if !has {
			t.Errorf("findings lack %q:\n%s", want, f)
		}
	}
}

func TestWriteE2E(t *testing.T) {
	var buf bytes.Buffer
	r := fakeReport()
	r.FastAPIMissing = "no python3 here"
	writeE2E(&env{out: &buf}, r)
	out := buf.String()
	for _, want := range []string{"### tiny: gemm 16×16 f64", "| crunch pool   |  16 | 2000 (1800–2200) |   1.00 |",
		"FastAPI server was skipped: no python3 here", "a run failed: rep 1: boom", "What it shows"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteE2EPlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots")
	files, err := writeE2EPlots(dir, fakeReport())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"e2e-throughput-gemm16.svg", "e2e-latency-gemm16.svg", "e2e-probe-gemm16.svg",
		"e2e-throughput-gemm1024.svg", "e2e-latency-gemm1024.svg", "e2e-probe-gemm1024.svg"}
	if len(files) != len(want) {
		t.Fatalf("files %q, want %q", files, want)
	}
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Errorf("file %d is %s, want %s", i, f, want[i])
		}
		data, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(data, []byte("<svg")) || !bytes.Contains(data, []byte("crunch direct")) {
			t.Errorf("%s: not an SVG with a legend (%v, %d bytes)", f, err, len(data))
		}
	}
	if k, w := plotKindOf(files[1]); k != "latency" || w != "gemm16" {
		t.Errorf("plotKindOf(%s) = %s, %s", files[1], k, w)
	}
	empty := &e2eReport{Settings: e2eSettings{Conns: []int{1}}, Systems: []string{"x"}, Workloads: []e2eWorkload{{Key: "w"}}}
	if files, err := writeE2EPlots(dir, empty); err != nil || len(files) != 0 {
		t.Errorf("a report without results gave %q, %v", files, err)
	}
}

func TestChosen(t *testing.T) {
	for _, c := range []struct {
		picked []string
		name   string
		want   bool
	}{
		{nil, "fastapi inline", true},
		{[]string{"crunch"}, "crunch pool", true},
		{[]string{"crunch"}, "fastapi inline", false},
		{[]string{"crunch pool", "fastapi"}, "crunch direct", false},
		{[]string{"crunch pool", "fastapi"}, "fastapi thread", true},
	} {
		if got := chosen(c.picked, c.name); got != c.want {
			t.Errorf("chosen(%q, %q) = %v", c.picked, c.name, got)
		}
	}
}

// TestPoolShortCase: a short case's cells are the whole run's, within the
// windows' range.
func TestPoolShortCase(t *testing.T) {
	run := fakeRun(2, 900, 1000, 5, 10, 0, 0)
	for _, tput := range []float64{0, 0, 6, 0, 4} { // bursts: most windows see none
		w := fakeRun(tput, 800, 1000, 4, 10, 0, 0)
		if tput == 0 {
			w.Load.Latency = load.Latency{}
		}
		run.Load.Windows = append(run.Load.Windows, w.Load)
		run.Probe.Windows = append(run.Probe.Windows, *w.Probe)
	}
	s := summarizeE2E([]load.Result{run})
	if s.ReqPerS.Median != 0 || s.Pooled {
		t.Fatalf("windows' median = %v (pooled %v), want 0", s.ReqPerS.Median, s.Pooled)
	}
	s.pool([]load.Result{run})
	// Windows without calls have no latency, which is not 0 ms.
	if s.P50Ms != (load.Spread{Median: 900, Min: 800, Max: 900, N: 2}) {
		t.Errorf("pooled p50: %+v", s.P50Ms)
	}
	if !s.Pooled || s.ReqPerS != (load.Spread{Median: 2, Min: 0, Max: 6, N: 5}) || s.PingP99Ms.Median != 5 || s.PingP99Ms.Max != 5 {
		t.Errorf("pooled: %+v", s)
	}
}

// An error's lines after the first (a server's threads and output) show in
// the report as a code block under its list item, bounded.
func TestErrorDetail(t *testing.T) {
	if got := errorDetail("one line\n"); got != "" {
		t.Errorf("one line: %q", got)
	}
	got := errorDetail("stop: did not stop. Its threads then:\npid 1 tid 1 python3 state R\nIts output:\n")
	if !strings.Contains(got, "\n  ```\n  pid 1 tid 1 python3 state R\n  Its output:\n  ```\n") {
		t.Errorf("two lines: %q", got)
	}
	long := "first" + strings.Repeat("\nline", errorDetailLines+5)
	if got := errorDetail(long); strings.Count(got, "  line\n") != errorDetailLines || !strings.Contains(got, "5 more lines in the JSON") {
		t.Errorf("long: %q", got)
	}
}
