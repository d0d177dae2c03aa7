package load

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/service/wire"
)

// TestMeasureProbes runs the Go probe and the Python one at once, each in a
// process and a session of its own, beside a probe that cannot run, and
// checks that each has its own result, windows and scheduling group.
func TestMeasureProbes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	py := PythonProbe(ctx, "python")
	if py.NotRun != "" {
		t.Logf("the Python probe cannot run here, so only its report is checked: %s", py.NotRun)
	}
	srv, err := StartServer(ctx, ServerConfig{
		Binary: crunchBin, OwnSession: true,
		Args: []string{"--pool-workers", "1", "--workers", "0", "--log-level", "warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	args := wire.Args{"n": wire.Int(1_000_003), "iters": wire.Int(1_000_000)}
	specs := []ProbeSpec{
		{Name: "go", Command: []string{os.Args[0]}, OwnSession: true},
		py,
		{Name: "missing", NotRun: "no such interpreter"},
	}
	specs[1].OwnSession = true
	res, err := Measure(ctx, srv, MeasureConfig{
		Load: LoadConfig{
			Conns: 2, InFlight: 1, Warmup: 200 * time.Millisecond, Duration: 900 * time.Millisecond, Windows: 3,
			Request: func(int, int) Request {
				return Request{Op: "modsum", Args: args, Exec: "pool", Impl: "c", Timeout: 10 * time.Second}
			},
		},
		Probe:  ProbeConfig{Interval: 10 * time.Millisecond, Timeout: time.Second},
		Probes: specs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Probes) != len(specs) {
		t.Fatalf("%d probe results, want %d", len(res.Probes), len(specs))
	}
	if g := res.ServerGroup; g.PID != srv.PID() || g.Session != srv.PID() {
		t.Errorf("server group %+v: want a session of its own", g)
	}
	for i, pr := range res.Probes {
		t.Logf("%s: group %s; %+v", pr.Name, pr.Group, pr.Result)
		if pr.Name != specs[i].Name || pr.NotRun != specs[i].NotRun {
			t.Errorf("probe %d: %q (not run: %q), want %q (%q)", i, pr.Name, pr.NotRun, specs[i].Name, specs[i].NotRun)
		}
		if pr.NotRun != "" {
			if pr.Result != nil || pr.Group.PID != 0 {
				t.Errorf("%s did not run, yet has a result or a process: %+v", pr.Name, pr)
			}
			continue
		}
		p := pr.Result
		if p == nil || p.Sent < 50 || p.Answered != p.Sent || p.Lost != 0 || p.RTT.Count != int(p.Answered) || p.RTT.P50Ms <= 0 {
			t.Errorf("%s: %+v", pr.Name, p)
			continue
		}
		if g := pr.Group; g.PID == 0 || g.Session != g.PID || g.Session == res.ServerGroup.Session {
			t.Errorf("%s: group %+v, want a session of its own", pr.Name, g)
		}
		if len(p.Windows) != 3 {
			t.Errorf("%s: %d windows, want 3", pr.Name, len(p.Windows))
		}
	}
	if res.Probe != res.Probes[0].Result {
		t.Errorf("Result.Probe is not the first probe's")
	}
	for i, w := range res.Windows() {
		if len(w.Probes) != len(specs) || w.Probes[0].Result == nil || w.Probes[0].Result.Sent == 0 {
			t.Errorf("window %d: probes %+v", i, w.Probes)
		}
	}
}

// TestProbePingsResult: the fates a probe process reports are summed up as
// the parent's own probe's are, each ping in the window it was due in.
func TestProbePingsResult(t *testing.T) {
	from := time.Unix(1000, 0)
	until := from.Add(300 * time.Millisecond)
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	pp := &probePings{
		Fates: []probeFate{
			{SentNS: from.UnixNano(), RTTNS: ms(1)},
			{SentNS: from.UnixNano() + ms(50), RTTNS: ms(3)},
			{SentNS: from.UnixNano() + ms(150), Lost: true, Code: "overloaded"},
			{SentNS: from.UnixNano() + ms(250), RTTNS: ms(2)},
			{SentNS: from.UnixNano() + ms(260), Lost: true},
		},
		AbnormalCloses: 1,
		ConnErrors:     []ErrorCount{{Message: "closed", Count: 1}},
	}
	r := pp.result(ProbeConfig{}.withDefaults(), from, until, 3)
	if r.Sent != 5 || r.Answered != 3 || r.Lost != 2 || r.ErrorsByCode["overloaded"] != 1 || r.AbnormalCloses != 1 || len(r.ConnErrors) != 1 {
		t.Errorf("counts: %+v", r)
	}
	if r.RTT.Count != 3 || r.RTT.P50Ms != 2 || r.RTT.MaxMs != 3 || r.IntervalMs != 10 || r.TimeoutMs != 1000 {
		t.Errorf("round trips: %+v", r)
	}
	if len(r.Windows) != 3 || r.Windows[0].Sent != 2 || r.Windows[1].Lost != 1 || r.Windows[2].Answered != 1 || r.Windows[2].Lost != 1 {
		t.Errorf("windows: %+v", r.Windows)
	}
}

// TestPythonProbeSpec: the spec runs pyprobe.py with the client package on
// PYTHONPATH, or says why it cannot.
func TestPythonProbeSpec(t *testing.T) {
	s := PythonProbe(context.Background(), "python")
	if s.NotRun != "" {
		if len(s.Command) != 0 || !strings.Contains(s.String(), "not run (") {
			t.Errorf("not run, yet %+v (%s)", s, s)
		}
		t.Skipf("no Python for the probe: %s", s.NotRun)
	}
	if len(s.Command) != 3 || !strings.HasSuffix(s.Command[2], PythonProbeScript) || len(s.Env) != 1 || !strings.HasSuffix(s.Env[0], PythonClientDir) {
		t.Errorf("spec %+v", s)
	}
}

func TestSchedGroupOf(t *testing.T) {
	g := SchedGroupOf(os.Getpid())
	// A session led from outside this PID namespace reads as 0 (CI
	// runners start tests that way), so compare with getsid, not with 0.
	sid, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	if g.PID != os.Getpid() || g.Session != sid {
		t.Errorf("SchedGroupOf(self) = %+v, getsid says %d", g, sid)
	}
	if data, err := os.ReadFile("/proc/self/autogroup"); err == nil && g.Autogroup != strings.TrimSpace(string(data)) {
		t.Errorf("autogroup %q, /proc says %q", g.Autogroup, data)
	}
	if got := SchedGroupOf(1 << 30); got.Session != 0 || got.String() == "" {
		t.Errorf("a process that does not exist: %+v", got)
	}
	for _, c := range []struct{ in, want string }{
		{"4:memory:/x\n2:cpuacct,cpu:/crunch\n0::/user.slice\n", "/crunch"},
		{"1:cpu:/\n0::/\n", "/"},
		{"0::/system.slice/crunch.service\n", "/system.slice/crunch.service"},
		{"", ""},
	} {
		if got := cpuCgroup(c.in); got != c.want {
			t.Errorf("cpuCgroup(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestIdleLoad: an idle load opens its connections, sends nothing, and
// ends with its window; the probe still pings.
func TestIdleLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := StartServer(ctx, ServerConfig{Binary: crunchBin, Args: []string{"--workers", "0", "--log-level", "warn"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	start := time.Now()
	res, err := Measure(ctx, srv, MeasureConfig{
		Load:  LoadConfig{Conns: 3, Idle: true, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond},
		Probe: ProbeConfig{Interval: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("an idle load of 0.6 s took %v", took)
	}
	if res.Load.OK != 0 || res.Load.Failed != 0 || res.Load.Conns != 3 {
		t.Errorf("idle load: %+v", res.Load)
	}
	if res.Probe == nil || res.Probe.Answered < 20 {
		t.Errorf("probe: %+v", res.Probe)
	}
}
