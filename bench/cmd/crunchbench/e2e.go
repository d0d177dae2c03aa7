package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Flags of the e2e mode. It has its own repetitions and windows, rather
// than -reps and -duration, because its matrix is large: the windows are
// fitted to a time budget unless -e2e-window is given.
var (
	e2eReps      = flag.Int("e2e-reps", 0, "e2e: measured windows (repetitions) of each case, one after another after one warm-up (0: 5; 1 with -quick)")
	e2eConnsFlag = flag.String("e2e-conns", "", "e2e: connection counts K, comma-separated (default 1,4,16,64; -quick 1,16)")
	e2eWLFlag    = flag.String("e2e-workloads", "", "e2e: workloads among gemm16, gemm256, modsum, gemm1024 (default all; -quick gemm16,modsum)")
	e2eWindow    = flag.Duration("e2e-window", 0, "e2e: shortest length of each measured window (0: fitted to -e2e-budget, at most 1 s; 2 s with -full)")
	e2eWarmup    = flag.Duration("e2e-warmup", 0, "e2e: shortest warm-up of a run (0: 30% of the window)")
	e2eBudget    = flag.Duration("e2e-budget", 0, "e2e: time for the whole matrix, which the windows are shortened to fit (0: 4m; 40s with -quick; none with -full)")
	e2eMaxRun    = flag.Duration("e2e-max-run", 0, "e2e: longest warm-up + windows of one case, however slow its calls (0: 6s; 3s with -quick; 20s with -full)")
	e2eSysFlag   = flag.String("e2e-systems", "", "e2e: systems to measure, by name or first word, comma-separated (e.g. \"crunch\", \"crunch pool,fastapi\"; default all)")
	plotsDir     = flag.String("plots", "", "write the e2e mode's plots (SVG) into this directory (default: none; NAME-plots with -results)")
)

// e2eIters is the heavy modsum's iteration count.
const e2eIters = 10_000_000

// e2eWorkload is one kind of request that the load repeats.
type e2eWorkload struct {
	Key   string `json:"key"`   // in -e2e-workloads and in plot file names
	Class string `json:"class"` // tiny, medium or heavy
	Op    string `json:"op"`
	Desc  string `json:"desc"` // the arguments, for people
	args  func() (wire.Args, error)
}

// e2eWorkloads lists every workload, lightest first.
func e2eWorkloads() []e2eWorkload {
	gemm := func(n int) func() (wire.Args, error) {
		return func() (wire.Args, error) {
			// Fixed seed: every system multiplies the same matrices.
			r := rand.New(rand.NewPCG(uint64(n), 1))
			return tensors(r, map[string][]int{"a": {n, n}, "b": {n, n}}, tensor.F64)
		}
	}
	return []e2eWorkload{
		{"gemm16", "tiny", "gemm", "gemm 16×16 f64", gemm(16)},
		{"gemm256", "medium", "gemm", "gemm 256×256 f64", gemm(256)},
		{"modsum", "heavy", "modsum", fmt.Sprintf("modsum n=%d iters=%d", modsumN, e2eIters), func() (wire.Args, error) {
			return wire.Args{"n": wire.Int(modsumN), "iters": wire.Int(e2eIters)}, nil
		}},
		{"gemm1024", "heavy", "gemm", "gemm 1024×1024 f64", gemm(1024)},
	}
}

// crunchSystems is a crunch server per executor, every request naming it.
func crunchSystems(e *env) []system {
	ops := []string{"ping"}
	for _, op := range kernels.Default().Ops() {
		ops = append(ops, op.Name)
	}
	var out []system
	for _, x := range []string{"direct", "pool", "subprocess"} {
		flags := []string{"--log-level=warn", "--grace=3s"}
		if x == "direct" {
			// Every call direct, as this system has always been measured:
			// the default --direct-max (GOMAXPROCS) would refuse most of a
			// loaded run's calls.
			flags = append(flags, "--direct-max=0")
		}
		out = append(out, system{
			Name: "crunch " + x,
			Exec: x,
			Ops:  ops,
			Start: func(ctx context.Context) (*load.Server, error) {
				return load.StartServer(ctx, e.serverConfig(flags...))
			},
		})
	}
	return out
}

// serves tells whether s serves w's op.
func (s system) serves(w e2eWorkload) bool { return slices.Contains(s.Ops, w.Op) }

// runE2E drives each system with each workload from K connections, with
// the probe pinging beside them, and reports, plots and returns it all.
func runE2E(ctx context.Context, e *env) (any, error) {
	set, err := e2eSettingsFromFlags(*quick, *full)
	if err != nil {
		return nil, err
	}
	rep := &e2eReport{Settings: set, InFlightPerConn: *inflight, ProbeIntervalMs: ms(*probeInterval), ProbeTimeoutMs: ms(*probeTimeout)}
	started := time.Now()

	var wls []e2eWorkload
	args := map[string]wire.Args{}
	for _, w := range e2eWorkloads() {
		if !slices.Contains(set.Workloads, w.Key) {
			continue
		}
		e.status.set("e2e: preparing %s …", w.Desc)
		a, err := w.args()
		if err != nil {
			return nil, fmt.Errorf("e2e: %s: %w", w.Desc, err)
		}
		args[w.Key] = a
		wls = append(wls, w)
		rep.Workloads = append(rep.Workloads, w)
	}
	e.status.set("e2e: looking for the FastAPI comparison server (bench/fastapi) …")
	picked := splitList(*e2eSysFlag)
	systems := crunchSystems(e)
	if chosen(picked, "fastapi") {
		fastapi, missing := fastapiSystems(e)
		systems = append(systems, fastapi...)
		rep.FastAPIMissing = missing
	} else {
		rep.FastAPIMissing = "not chosen (-e2e-systems)"
	}
	systems = slices.DeleteFunc(systems, func(s system) bool { return !chosen(picked, s.Name) })

	// Calibration: one server per system, a few calls of each workload,
	// so that slow calls get windows long enough to mean something.
	var live []system
	for _, s := range systems {
		c := calibrateSystem(ctx, e, s, wls, args)
		rep.Calibration = append(rep.Calibration, c)
		if c.Error != "" {
			e.status.note("e2e: %s left out: %s", s.Name, c.Error)
			continue
		}
		live = append(live, s)
		rep.Systems = append(rep.Systems, s.Name)
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}

	var keys []e2eCaseKey
	// Systems innermost: the rows a ratio compares (same workload and K)
	// are measured one right after another, so a noisy minute of a shared
	// machine hits them alike.
	for _, w := range wls {
		for _, k := range set.Conns {
			for _, s := range live {
				if s.serves(w) {
					keys = append(keys, e2eCaseKey{System: s.Name, Workload: w.Key, Conns: k})
				}
			}
		}
	}
	cals := map[string]e2eCalibration{}
	for _, c := range rep.Calibration {
		cals[c.System] = c
	}
	budget := set.Budget
	if budget > 0 {
		budget = max(budget-time.Since(started), time.Second)
	}
	rep.Plan = planE2E(keys, cals, cpuCount(), set, budget)
	e.status.note("e2e: %d cases × %d reps, planned %s (%s)", len(keys), set.Reps,
		rep.Plan.Total.Round(time.Second), rep.Plan.describe(set))

	bySystem := map[string]system{}
	for _, s := range live {
		bySystem[s.Name] = s
	}
	wlByKey := map[string]e2eWorkload{}
	for _, w := range wls {
		wlByKey[w.Key] = w
	}
	matrix := time.Now()
	var donePlanned time.Duration
	for i, pc := range rep.Plan.Cases {
		if ctx.Err() != nil {
			break
		}
		c := &e2eCase{e2eCaseKey: pc.e2eCaseKey, WarmupS: pc.Warmup.Seconds(), WindowS: pc.Window.Seconds(), Short: pc.Short, PlannedS: pc.Est.Seconds()}
		caseStart := time.Now()
		rep.Cases = append(rep.Cases, c)
		// The time left after this case, at the pace kept so far.
		eta := etaOf(rep.Plan.Total-donePlanned-pc.Est, donePlanned, time.Since(matrix))
		runCase(ctx, e, c, pc, bySystem[pc.System], wlByKey[pc.Workload], args[pc.Workload], set.Reps,
			fmt.Sprintf("e2e [%d/%d] %s K=%d %s", i+1, len(rep.Plan.Cases), pc.Workload, pc.Conns, pc.System), eta)
		donePlanned += pc.Est
		c.ElapsedS = time.Since(caseStart).Seconds()
		c.Summary = summarizeE2E(c.Runs)
		if pc.Short {
			c.Summary.pool(c.Runs)
		}
		e.status.note("e2e [%d/%d] %s K=%d %s: %s", i+1, len(rep.Plan.Cases), pc.Workload, pc.Conns, pc.System, c.Summary.oneLine())
	}
	e.status.clear()
	rep.WallS = time.Since(started).Seconds()

	if *plotsDir != "" {
		files, err := writeE2EPlots(*plotsDir, rep)
		if err != nil {
			rep.PlotError = err.Error()
		}
		rep.Plots = files
	}
	writeE2E(e, rep)
	return rep, ctx.Err()
}

// runCase runs one case on a fresh server: one warm-up, then reps windows
// one after another. label names it on the status line; eta estimates the
// time the mode has left when the case is done.
func runCase(ctx context.Context, e *env, c *e2eCase, pc e2ePlanCase, s system, w e2eWorkload, args wire.Args, reps int,
	label string, eta time.Duration) {
	runStart := time.Now()
	prefix := func() string {
		return fmt.Sprintf("%s · ETA %s", label, max(eta+pc.Est-time.Since(runStart), 0).Round(time.Second))
	}
	e.status.set("%s · starting the server", prefix())
	srv, err := s.Start(ctx)
	if err != nil {
		c.Errors = append(c.Errors, "start: "+err.Error())
		return
	}
	lc := load.LoadConfig{
		Conns: pc.Conns, InFlight: *inflight, Warmup: pc.Warmup, Duration: time.Duration(reps) * pc.Window, Windows: reps, Drain: pc.Drain,
		Request: func(int, int) load.Request {
			return load.Request{Op: w.Op, Args: args, Exec: s.Exec, Impl: "c", Timeout: jobTimeout}
		},
	}
	res, err := measureRun(ctx, e, srv, lc, nil, prefix)
	if err != nil {
		c.Errors = append(c.Errors, err.Error())
	} else {
		c.Runs = append(c.Runs, res)
	}
	if err := srv.Stop(); err != nil {
		c.Errors = append(c.Errors, "stop: "+err.Error())
	}
}

// etaOf scales the planned time left by how the plan has held so far
// (elapsed against the planned time of what is done).
func etaOf(left, donePlanned, elapsed time.Duration) time.Duration {
	if donePlanned <= 0 || elapsed <= 0 {
		return left
	}
	return time.Duration(float64(left) * float64(elapsed) / float64(donePlanned))
}

// ms converts d to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// chosen tells whether -e2e-systems (picked; empty: all) names the system
// name, whole or by its first word.
func chosen(picked []string, name string) bool {
	if len(picked) == 0 {
		return true
	}
	first, _, _ := strings.Cut(name, " ")
	return slices.Contains(picked, name) || slices.Contains(picked, first)
}

// parseConns parses -e2e-conns.
func parseConns(s string) ([]int, error) { return parseCounts("-e2e-conns", s) }

// parseCounts parses a flag's comma-separated positive counts.
func parseCounts(name, s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		k, err := strconv.Atoi(f)
		if err != nil || k < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive count", name, f)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no count in %q", name, s)
	}
	return out, nil
}
