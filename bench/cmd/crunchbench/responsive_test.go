package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/bench/load"
)

// fakeProbedRun is a run with a Go probe's and a Python probe's round trips,
// the Python one not run when pyNotRun says why.
func fakeProbedRun(goP99, pyP99 float64, pyNotRun string) load.Result {
	goRes := &load.ProbeResult{Sent: 100, Answered: 100, RTT: load.Latency{Count: 100, P50Ms: 0.4, P99Ms: goP99, MaxMs: goP99 + 1}}
	r := load.Result{Probe: goRes, Probes: []load.ProbeRun{{Name: "Go", Result: goRes}, {Name: "Python", NotRun: pyNotRun}}}
	if pyNotRun == "" {
		r.Probes[1].Result = &load.ProbeResult{Sent: 100, Answered: 99, Lost: 1, AbnormalCloses: 1, RTT: load.Latency{Count: 99, P50Ms: 0.6, P99Ms: pyP99, MaxMs: pyP99 + 1}}
	}
	r.Load.ThroughputPerS = 10
	return r
}

// TestSummarizeProbes: each probe's figures are the medians over the runs
// it answered in; a probe that did not run keeps why.
func TestSummarizeProbes(t *testing.T) {
	s := summarize([]load.Result{fakeProbedRun(0.5, 4, ""), fakeProbedRun(0.7, 3, ""), fakeProbedRun(0.6, 5, "")})
	if len(s.Probes) != 2 || s.Probes[0].Name != "Go" || s.Probes[1].Name != "Python" {
		t.Fatalf("probes %+v", s.Probes)
	}
	if g, p := s.Probes[0], s.Probes[1]; g.PingP99Ms.Median != 0.6 || g.PingP99Ms.Min != 0.5 || p.PingP99Ms.Median != 4 || p.PingsLost.Median != 1 || p.PingP99Ms.N != 3 {
		t.Errorf("summaries %+v", s.Probes)
	}
	if s.AbnormalCloses != 3 {
		t.Errorf("abnormal closes %d, want the Python probe's 3", s.AbnormalCloses)
	}
	s = summarize([]load.Result{fakeProbedRun(0.5, 0, "no numpy")})
	if p := s.Probes[1]; p.NotRun != "no numpy" || p.PingP99Ms.N != 0 {
		t.Errorf("not run: %+v", p)
	}
}

// TestWriteResponsive: both probes side by side, and a probe that did not
// run says why instead of failing the report.
func TestWriteResponsive(t *testing.T) {
	rep := &responsiveReport{
		Conns: 8, InFlightPerConn: 1, Reps: 1, PrioritySupported: true, Sessions: sessionsApart, Autogroup: "1",
		Probes: []load.ProbeSpec{{Name: "Go", Command: []string{"crunchbench"}, OwnSession: true}, {Name: "Python", NotRun: "no python3 can import numpy"}},
		Cases: []*responsiveCase{
			{Exec: "pool", Priority: "idle", Runs: []load.Result{fakeProbedRun(0.52, 0, "no python3 can import numpy")}},
			{Exec: "pool", Priority: "low", Errors: []string{"boom"}},
		},
	}
	for _, c := range rep.Cases {
		c.Summary = summarize(c.Runs)
	}
	var buf bytes.Buffer
	writeResponsive(&env{out: &buf}, rep)
	out := buf.String()
	for _, want := range []string{
		"| Go ping p50 ms | Go ping p99 ms | Go ping max ms | Python ping p50 ms | Python ping p99 ms |",
		"| pool | idle     |           0.40 |           0.52 |            1.5 |            not run |",
		"The Python probe was not run: no python3 can import numpy.",
		"Sessions: apart", "`sched_autogroup_enabled` = 1", "a run failed: boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestParseVariants(t *testing.T) {
	v, err := parseVariants("cgroup off=--compute-cgroup off; default=")
	if err != nil || len(v) != 2 || v[0].name != "cgroup off" || len(v[0].flags) != 2 || v[1].name != "default" || len(v[1].flags) != 0 {
		t.Errorf("parseVariants = %+v, %v", v, err)
	}
	if v, err := parseVariants(""); err != nil || len(v) != 1 || v[0].name != "" {
		t.Errorf("no variants: %+v, %v", v, err)
	}
	if v, err := parseVariants("old=bin=/tmp/old/crunch --pool-workers 1"); err != nil || v[0].bin != "/tmp/old/crunch" || len(v[0].flags) != 2 {
		t.Errorf("a variant with its binary: %+v, %v", v, err)
	}
	if _, err := parseVariants("nameless"); err == nil {
		t.Errorf("a variant without = was taken")
	}
}

// TestWriteResponsiveVariants: with -variants, a column says which server.
func TestWriteResponsiveVariants(t *testing.T) {
	rep := &responsiveReport{Reps: 1, Sessions: sessionsApart, Probes: []load.ProbeSpec{{Name: "Go"}}}
	for _, v := range []string{"cgroup off", "default"} {
		c := &responsiveCase{Exec: "pool", Priority: "idle", Variant: v, Runs: []load.Result{fakeProbedRun(0.5, 1, "")}}
		c.Runs[0].Probes = c.Runs[0].Probes[:1]
		c.Summary = summarize(c.Runs)
		rep.Cases = append(rep.Cases, c)
	}
	rep.Cases[1].Flags = nil
	rep.Cases[0].Flags = []string{"--compute-cgroup", "off"}
	var buf bytes.Buffer
	writeResponsive(&env{out: &buf}, rep)
	for _, want := range []string{"| exec | priority | server     |", "| pool | idle     | cgroup off |", "| pool | idle     | default    |", "cgroup off: `--compute-cgroup off`"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}
