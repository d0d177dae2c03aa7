package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// Flags of the responsive mode.
var (
	respExecs      = flag.String("execs", "direct,pool,subprocess", `responsive: executors to load; "none" keeps the load's connections open and silent, the probes' floor on this machine`)
	respPriorities = flag.String("priorities", "normal,low,idle", "responsive: values of the server's --compute-priority")
	respJob        = flag.Duration("job", 100*time.Millisecond, "responsive: target time of one modsum job alone; iters are calibrated to it")
	respIters      = flag.Int64("iters", 0, "responsive: modsum iters per job (0: calibrate to -job)")
	respPyProbe    = flag.Bool("py-probe", true, "responsive: a second probe beside the Go one, in Python with the crunch package's AsyncClient.ping() (bench/load/pyprobe.py), pinging at the same time")
	respVariants   = flag.String("variants", "", `responsive: servers started with different flags, compared in the same run (reps outermost, so that a noisy minute spreads over all): "NAME=FLAGS;NAME=FLAGS", each variant's flags after -serve-flags, e.g. "cgroup off=--compute-cgroup off;default="; a first word bin=PATH runs that crunch binary instead of the one built from this tree (an older build, say)`)
	respSessions   = flag.String("sessions", sessionsApart, `responsive: "apart": the server and each probe process in a session of its own (setsid), so with autogroup scheduling in a scheduling group of its own, as a service and its clients started apart are; "shared": all in this program's session, one group`)
)

// execNone, in -execs, is a run without load.
const execNone = "none"

// The values of -sessions.
const (
	sessionsApart  = "apart"
	sessionsShared = "shared"
)

// modsumN is the multiplier of every modsum job: any value works; this one
// is the FastAPI comparison's.
const modsumN = 1_000_003

// jobTimeout is the deadline sent with every job: far beyond a job's time,
// so that a job times out only when something is wrong.
const jobTimeout = time.Minute

// responsiveReport is the responsive mode's JSON.
type responsiveReport struct {
	Conns             int               `json:"conns"`
	InFlightPerConn   int               `json:"in_flight_per_conn"`
	WarmupS           float64           `json:"warmup_s"`
	DurationS         float64           `json:"duration_s"`
	Reps              int               `json:"reps"`
	PrioritySupported bool              `json:"priority_supported"`
	Sessions          string            `json:"sessions"`        // -sessions
	Autogroup         string            `json:"sched_autogroup"` // /proc/sys/kernel/sched_autogroup_enabled
	Probes            []load.ProbeSpec  `json:"probes"`          // as each run starts them
	ProbeGroups       []load.ProbeRun   `json:"probe_groups"`    // where the first run's probes were, without results
	ServerGroup       load.SchedGroup   `json:"server_group"`    // where the first run's server was
	Calibration       calibration       `json:"calibration"`
	Cases             []*responsiveCase `json:"cases"`
}

// calibration is the job every connection sends, and what it costs alone.
type calibration struct {
	N         int64           `json:"n"`
	Iters     int64           `json:"iters"`
	JobMs     float64         `json:"job_alone_ms"` // median run_us on the pool, impl c, nothing else running
	ISA       string          `json:"isa"`
	Executors json.RawMessage `json:"executors"` // as the info op reports them
}

// responsiveCase is one exec × priority, over every rep.
type responsiveCase struct {
	Exec     string            `json:"exec"`
	Priority string            `json:"priority"`
	Variant  string            `json:"variant,omitempty"` // -variants: its name
	Flags    []string          `json:"variant_flags,omitempty"`
	Bin      string            `json:"variant_bin,omitempty"` // the variant's own crunch binary
	Runs     []load.Result     `json:"runs"`
	Errors   []string          `json:"errors,omitempty"` // runs that failed outright
	Summary  responsiveSummary `json:"summary"`
}

// runResponsive: every executor slot busy with long modsum jobs from many
// connections while the probe pings, for each exec and compute priority.
func runResponsive(ctx context.Context, e *env) (any, error) {
	execs := splitList(*respExecs)
	prios := splitList(*respPriorities)
	rep := &responsiveReport{
		Conns: *conns, InFlightPerConn: *inflight, WarmupS: e.warmup.Seconds(),
		DurationS: e.window.Seconds(), Reps: e.reps,
	}
	if *respSessions != sessionsApart && *respSessions != sessionsShared {
		return nil, fmt.Errorf("-sessions %q: want %s or %s", *respSessions, sessionsApart, sessionsShared)
	}
	rep.Sessions = *respSessions
	rep.Autogroup = readAutogroupSetting()
	var err error
	if rep.Probes, err = responsiveProbes(ctx); err != nil {
		return nil, err
	}
	if rep.PrioritySupported, err = supportsPriority(ctx, e.bin); err != nil {
		return nil, err
	}
	if !rep.PrioritySupported {
		if slices.ContainsFunc(prios, func(p string) bool { return p != "normal" }) {
			e.status.note("this crunch serve has no --compute-priority: measuring normal priority only")
		}
		prios = []string{"normal"}
	}
	if rep.Calibration, err = calibrate(ctx, e, rep.PrioritySupported); err != nil {
		return nil, err
	}
	cal := rep.Calibration
	variants, err := parseVariants(*respVariants)
	if err != nil {
		return nil, err
	}
	for _, x := range execs {
		for _, p := range prios {
			for _, v := range variants {
				rep.Cases = append(rep.Cases, &responsiveCase{Exec: x, Priority: p, Variant: v.name, Flags: v.flags, Bin: v.bin})
			}
		}
	}

	args := wire.Args{"n": wire.Int(cal.N), "iters": wire.Int(cal.Iters)}
	total := e.reps * len(rep.Cases)
	k := 0
	// Reps outermost, so that a noisy minute of a shared machine spreads
	// over every case rather than spoiling one.
	for r := range e.reps {
		for _, c := range rep.Cases {
			k++
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			label := fmt.Sprintf("[%d/%d] exec=%s priority=%s rep %d/%d", k, total, c.Exec, c.Priority, r+1, e.reps)
			if c.Variant != "" {
				label = fmt.Sprintf("[%d/%d] exec=%s priority=%s %s rep %d/%d", k, total, c.Exec, c.Priority, c.Variant, r+1, e.reps)
			}
			res, err := responsiveRun(ctx, e, c, args, rep, label)
			if err != nil {
				c.Errors = append(c.Errors, err.Error())
				e.status.note("%s: %v", label, err)
				continue
			}
			c.Runs = append(c.Runs, res)
			if rep.ProbeGroups == nil {
				rep.ServerGroup = res.ServerGroup
				for _, pr := range res.Probes {
					pr.Result = nil
					rep.ProbeGroups = append(rep.ProbeGroups, pr)
				}
			}
			e.status.note("%s: %.1f jobs/s, job p50 %.0f ms, ping p50/p99/max %s ms, %d threads",
				label, res.Load.ThroughputPerS, res.Load.Latency.P50Ms, pingNote(res.Probes), res.Server.MaxThreads)
		}
	}
	e.status.clear()
	for _, c := range rep.Cases {
		c.Summary = summarize(c.Runs)
	}
	writeResponsive(e, rep)
	return rep, nil
}

// responsiveRun launches a server for one case, measures, and stops it.
func responsiveRun(ctx context.Context, e *env, c *responsiveCase, args wire.Args, rep *responsiveReport, label string) (load.Result, error) {
	var extra []string
	if rep.PrioritySupported {
		extra = append(extra, "--compute-priority="+c.Priority)
	}
	extra = append(extra, "--log-level=warn")
	if c.Exec == "direct" {
		// Every connection's job runs directly, as the table has always
		// measured: without it, --direct-max (GOMAXPROCS) would refuse
		// most of them.
		extra = append(extra, "--direct-max=0")
	}
	extra = append(extra, c.Flags...)
	cfg := e.serverConfig(extra...)
	if c.Bin != "" {
		cfg.Binary = c.Bin
	}
	cfg.OwnSession = rep.Sessions == sessionsApart
	srv, err := load.StartServer(ctx, cfg)
	if err != nil {
		return load.Result{}, err
	}
	defer srv.Stop()
	lc := load.LoadConfig{
		Conns: *conns, InFlight: *inflight, Warmup: e.warmup, Duration: e.window,
		Request: func(int, int) load.Request {
			return load.Request{Op: "modsum", Args: args, Exec: c.Exec, Impl: "c", Timeout: jobTimeout}
		},
		Idle: c.Exec == execNone,
	}
	res, err := measureRun(ctx, e, srv, lc, rep.Probes, func() string { return label })
	if err != nil {
		return res, err
	}
	if err := srv.Stop(); err != nil {
		return res, err
	}
	return res, nil
}

// measureRun runs one measured load against srv with the probes given, or
// (nil) the one the flags configure, showing its progress on the status
// line after prefix() (a function, so that callers can keep an ETA in it
// up to date).
func measureRun(ctx context.Context, e *env, srv *load.Server, lc load.LoadConfig, probes []load.ProbeSpec, prefix func() string) (load.Result, error) {
	var probeCommand []string
	if *probeOwn && probes == nil {
		self, err := os.Executable()
		if err != nil {
			return load.Result{}, fmt.Errorf("finding this program for the probe process: %w", err)
		}
		probeCommand = []string{self}
	}
	return load.Measure(ctx, srv, load.MeasureConfig{
		Load:         lc,
		Probe:        load.ProbeConfig{Interval: *probeInterval, Timeout: *probeTimeout},
		ProbeCommand: probeCommand,
		Probes:       probes,
		Status: func(s load.Status) {
			e.status.set("%s · %s %.1f/%.1f s · %d done, %d failed · pings %d, lost %d",
				prefix(), s.Phase, s.Elapsed.Seconds(), s.Window.Seconds(), s.OK, s.Failed, s.Pings, s.Lost)
		},
	})
}

// probeWhere says in the report where the probe runs (-probe-process).
func probeWhere() string {
	if *probeOwn {
		return "(in a process of its own, so that the load generator's pauses do not show)"
	}
	return "(in the load generator's process: its pauses show in the round trips)"
}

// responsiveProbes are the probes of every responsive run: the Go one (in
// a process of its own with -probe-process) and, with -py-probe, the
// Python one, which says "not run" where no python3 can run it. With
// -sessions apart, each process is in a session of its own.
func responsiveProbes(ctx context.Context) ([]load.ProbeSpec, error) {
	apart := *respSessions == sessionsApart
	goProbe := load.ProbeSpec{Name: "Go"}
	if *probeOwn {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program for the probe process: %w", err)
		}
		goProbe.Command, goProbe.OwnSession = []string{self}, apart
	}
	probes := []load.ProbeSpec{goProbe}
	if *respPyProbe {
		py := load.PythonProbe(ctx, "Python")
		py.OwnSession = apart
		probes = append(probes, py)
	}
	return probes, nil
}

// pingNote is "0.41/0.52/1.2 (Go), 0.60/3.90/4.4 (Python)" for a status
// note: each probe's p50/p99/max.
func pingNote(runs []load.ProbeRun) string {
	var parts []string
	for _, pr := range runs {
		switch {
		case pr.NotRun != "":
			parts = append(parts, fmt.Sprintf("not run (%s)", pr.Name))
		case pr.Result != nil:
			r := pr.Result
			parts = append(parts, fmt.Sprintf("%.2f/%.2f/%.1f lost %d (%s)", r.RTT.P50Ms, r.RTT.P99Ms, r.RTT.MaxMs, r.Lost, pr.Name))
		}
	}
	return strings.Join(parts, ", ")
}

// readAutogroupSetting returns /proc/sys/kernel/sched_autogroup_enabled
// ("1": every session is a scheduling group), or "absent".
func readAutogroupSetting() string {
	data, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	if err != nil {
		return "absent"
	}
	return strings.TrimSpace(string(data))
}

// supportsPriority tells whether `crunch serve` has --compute-priority.
func supportsPriority(ctx context.Context, bin string) (bool, error) {
	// -h exits non-zero after printing the flags: only the text matters.
	out, _ := exec.CommandContext(ctx, bin, "serve", "-h").CombinedOutput()
	if !strings.Contains(string(out), "-addr") {
		return false, fmt.Errorf("%s serve -h printed no flags: %q", bin, out)
	}
	return strings.Contains(string(out), "-compute-priority"), nil
}

// calibrate finds the modsum iters for which one job takes -job alone on
// the pool (or takes -iters as given), and measures that job's time.
func calibrate(ctx context.Context, e *env, withPriority bool) (calibration, error) {
	e.status.set("calibrating modsum …")
	cal := calibration{N: modsumN}
	extra := []string{"--log-level=warn"}
	if withPriority {
		extra = append(extra, "--compute-priority=normal")
	}
	srv, err := load.StartServer(ctx, e.serverConfig(extra...))
	if err != nil {
		return cal, err
	}
	defer srv.Stop()
	c, err := client.Dial(ctx, srv.Addr)
	if err != nil {
		return cal, fmt.Errorf("calibration: %w", err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		return cal, fmt.Errorf("calibration: info: %w", err)
	}
	cal.Executors = info["executors"]
	var cpu struct{ ISA string }
	json.Unmarshal(info["cpu"], &cpu)
	cal.ISA = cpu.ISA

	// jobTime is the median server-side run time of a few jobs.
	jobTime := func(iters int64) (time.Duration, error) {
		var ts []float64
		for range 5 {
			_, st, err := c.Modsum(ctx, modsumN, iters, &client.Options{Exec: "pool", Impl: "c", Timeout: jobTimeout})
			if err != nil {
				return 0, fmt.Errorf("calibration: modsum iters=%d: %w", iters, err)
			}
			ts = append(ts, float64(st.RunUS))
		}
		return time.Duration(load.SpreadOf(ts).Median) * time.Microsecond, nil
	}
	cal.Iters = *respIters
	if cal.Iters <= 0 {
		const probeIters = 100_000_000
		t, err := jobTime(probeIters)
		if err != nil {
			return cal, err
		}
		perIter := float64(max(t, time.Microsecond)) / probeIters
		cal.Iters = int64(math.Round(float64(*respJob)/perIter/1e6)) * 1_000_000
		cal.Iters = max(cal.Iters, 1_000_000)
	}
	t, err := jobTime(cal.Iters)
	if err != nil {
		return cal, err
	}
	cal.JobMs = float64(t) / float64(time.Millisecond)
	return cal, srv.Stop()
}

// variant is one of -variants.
type variant struct {
	name  string
	flags []string
	bin   string // "": the crunch built from this tree
}

// parseVariants reads -variants; "" is one unnamed variant with no flags.
func parseVariants(s string) ([]variant, error) {
	if strings.TrimSpace(s) == "" {
		return []variant{{}}, nil
	}
	var out []variant
	for _, part := range strings.Split(s, ";") {
		name, flags, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("-variants: %q is not NAME=FLAGS", part)
		}
		v := variant{name: name, flags: strings.Fields(flags)}
		if len(v.flags) > 0 && strings.HasPrefix(v.flags[0], "bin=") {
			v.bin, v.flags = strings.TrimPrefix(v.flags[0], "bin="), v.flags[1:]
		}
		out = append(out, v)
	}
	return out, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
