package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// e2eSettings are the e2e mode's knobs after -quick, -full and its flags.
type e2eSettings struct {
	// Reps is the number of measured windows of each case: one run, one
	// warm-up, then Reps windows one after another, each a repetition.
	Reps      int      `json:"reps"`
	Conns     []int    `json:"conns"`
	Workloads []string `json:"workloads"`
	// Window (each of the Reps) and Warmup are the shortest of any case,
	// before the plan shortens them to fit Budget; slow calls get longer
	// ones.
	Window time.Duration `json:"window_ns"`
	Warmup time.Duration `json:"warmup_ns"`
	// Fixed keeps Window and Warmup as they are, whatever the budget.
	Fixed bool `json:"fixed"`
	// MaxRun caps the warm-up and the windows of one case together.
	MaxRun time.Duration `json:"max_run_ns"`
	// Budget is the time the whole matrix should take (0: no limit).
	Budget time.Duration `json:"budget_ns"`
}

// e2eSettingsFromFlags resolves the e2e flags: an explicit flag wins over
// the defaults of -quick and -full.
func e2eSettingsFromFlags(quick, full bool) (e2eSettings, error) {
	s := e2eSettings{
		Reps: 5, Window: time.Second, Budget: 4 * time.Minute, MaxRun: 6 * time.Second,
		Workloads: []string{"gemm16", "gemm256", "modsum", "gemm1024"},
	}
	conns := "1,4,16,64"
	switch {
	case full:
		s.Window, s.Budget, s.MaxRun, s.Fixed = 2*time.Second, 0, 20*time.Second, true
	case quick:
		s.Reps, s.Budget, s.MaxRun = 1, 40*time.Second, 3*time.Second
		s.Workloads, conns = []string{"gemm16", "modsum"}, "1,16"
	}
	if *e2eReps > 0 {
		s.Reps = *e2eReps
	}
	if *e2eConnsFlag != "" {
		conns = *e2eConnsFlag
	}
	var err error
	if s.Conns, err = parseConns(conns); err != nil {
		return s, err
	}
	if *e2eWLFlag != "" {
		s.Workloads = splitList(*e2eWLFlag)
		for _, w := range s.Workloads {
			if !slices.ContainsFunc(e2eWorkloads(), func(x e2eWorkload) bool { return x.Key == w }) {
				return s, fmt.Errorf("-e2e-workloads: unknown workload %q", w)
			}
		}
	}
	if *e2eWindow > 0 {
		s.Window, s.Fixed = *e2eWindow, true
	}
	s.Warmup = s.Window * 3 / 10
	if *e2eWarmup > 0 {
		s.Warmup = *e2eWarmup
	}
	if flagGiven("e2e-budget") {
		s.Budget = *e2eBudget
	}
	if *e2eMaxRun > 0 {
		s.MaxRun = *e2eMaxRun
	}
	if s.Reps < 1 || s.Window <= 0 || s.Warmup < 0 || s.MaxRun < s.Window {
		return s, errors.New("e2e: -e2e-reps and -e2e-window must be positive, -e2e-max-run at least the window")
	}
	return s, nil
}

// e2eCalibration is what one system's calibration found.
type e2eCalibration struct {
	System string `json:"system"`
	// StartStopS is the time to start a server and stop it again.
	StartStopS float64 `json:"start_stop_s"`
	// CallMs is the round trip of one call of each workload, alone on an
	// idle server and warm: the median of up to 3 after one to warm up
	// (the first call on a connection pays for fresh memory).
	CallMs map[string]float64 `json:"call_ms"`
	Error  string             `json:"error,omitempty"`
}

// calibrationBudget bounds the timed calls of one workload on one system:
// after the first that ends beyond it, calibration moves on.
const calibrationBudget = time.Second

// calibrateSystem starts s once and times a few calls of each workload it
// serves.
func calibrateSystem(ctx context.Context, e *env, s system, wls []e2eWorkload, args map[string]wire.Args) e2eCalibration {
	c := e2eCalibration{System: s.Name, CallMs: map[string]float64{}}
	fail := func(err error) e2eCalibration { c.Error = err.Error(); return c }
	e.status.set("e2e: calibrating %s …", s.Name)
	t0 := time.Now()
	srv, err := s.Start(ctx)
	if err != nil {
		return fail(err)
	}
	startS := time.Since(t0).Seconds()
	defer srv.Stop()
	cl, err := client.Dial(ctx, srv.Addr)
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	for _, w := range wls {
		if !s.serves(w) {
			continue
		}
		var ts []float64
		var timed time.Duration
		for i := 0; i < 4 && (i < 2 || timed < calibrationBudget); i++ {
			t := time.Now()
			_, err := cl.Do(ctx, &wire.Request{Op: w.Op, Args: args[w.Key]}, &client.Options{Exec: s.Exec, Impl: "c", Timeout: jobTimeout})
			if err != nil {
				return fail(fmt.Errorf("%s: %w", w.Desc, err))
			}
			if d := time.Since(t); i > 0 {
				ts, timed = append(ts, ms(d)), timed+d
			}
		}
		c.CallMs[w.Key] = load.SpreadOf(ts).Median
	}
	cl.Close()
	t1 := time.Now()
	if err := srv.Stop(); err != nil {
		return fail(err)
	}
	c.StartStopS = startS + time.Since(t1).Seconds()
	return c
}

// e2eCaseKey names one case: a system, a workload, K connections.
type e2eCaseKey struct {
	System   string `json:"system"`
	Workload string `json:"workload"`
	Conns    int    `json:"conns"`
}

// e2ePlanCase is how long one case's runs last, and what it should cost.
type e2ePlanCase struct {
	e2eCaseKey
	// Cycle estimates the time for every connection's call to be served
	// once: K calls of the calibrated time, min(K, cores) at a time.
	Cycle time.Duration
	// Warmup, and Window (each of the reps): at least one cycle and two,
	// within MaxRun.
	Warmup, Window time.Duration
	// Drain is how long calls in flight at the window's end may finish.
	Drain time.Duration
	// Short marks a window cut to MaxRun below two cycles: its figures
	// rest on few calls, and its latencies may not be steady.
	Short bool
	// Start, Run and Est estimate the server's start and stop, the run
	// (warm-up, every window, drain), and the whole case.
	Start, Run, Est time.Duration
}

// e2ePlan is the matrix with its windows and its estimated time.
type e2ePlan struct {
	// Scale is the factor applied to the settings' window and warm-up to
	// fit the budget (1: none).
	Scale      float64       `json:"scale"`
	Total      time.Duration `json:"total_ns"`
	OverBudget bool          `json:"over_budget"` // even the shortest windows do not fit
	Budget     time.Duration `json:"budget_ns"`
	// Base is the warm-up and window in seconds after Scale.
	Base [2]float64 `json:"base_warmup_window_s"`
	// Cases are in the order they run; the report's cases carry their
	// windows.
	Cases []e2ePlanCase `json:"-"`
}

// runOverhead estimates what one run costs beyond its windows: dialling
// the connections and the probe, closing them.
const runOverhead = 100 * time.Millisecond

// minScale is how far the plan may shorten the windows to fit the budget.
const minScale = 0.2

// planE2E sets every case's windows and estimates the time it all takes,
// shortening the base windows (never below minScale of them) until the
// estimate fits budget (0: no limit). cals gives each system's start-up
// and call times; cores is the machine's CPU count.
func planE2E(keys []e2eCaseKey, cals map[string]e2eCalibration, cores int, s e2eSettings, budget time.Duration) e2ePlan {
	build := func(scale float64) e2ePlan {
		p := e2ePlan{Scale: scale, Budget: budget}
		warm := time.Duration(float64(s.Warmup) * scale)
		win := time.Duration(float64(s.Window) * scale)
		p.Base = [2]float64{warm.Seconds(), win.Seconds()}
		for _, k := range keys {
			cal := cals[k.System]
			call := time.Duration(cal.CallMs[k.Workload] * float64(time.Millisecond))
			pc := e2ePlanCase{e2eCaseKey: k, Start: time.Duration(cal.StartStopS * float64(time.Second))}
			pc.Cycle = call * time.Duration(k.Conns) / time.Duration(max(min(k.Conns, cores), 1))
			pc.Warmup, pc.Window, pc.Drain, pc.Short = runWindows(pc.Cycle, warm, win, s.MaxRun, s.Reps)
			pc.Run = pc.Warmup + time.Duration(s.Reps)*pc.Window + min(pc.Cycle, pc.Drain) + runOverhead
			pc.Est = pc.Start + pc.Run
			p.Total += pc.Est
			p.Cases = append(p.Cases, pc)
		}
		return p
	}
	p := build(1)
	if budget <= 0 || s.Fixed || p.Total <= budget {
		return p
	}
	// The total grows with the scale: bisect for the largest that fits.
	lo, hi := minScale, 1.0
	if build(lo).Total > budget {
		p = build(lo)
		p.OverBudget = true
		return p
	}
	for range 20 {
		mid := (lo + hi) / 2
		if build(mid).Total <= budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	return build(lo)
}

// runWindows gives a case's warm-up, window (each of reps) and drain for
// calls whose cycle (every connection served once) is cycle, from the base
// warm-up and window, capped so that the warm-up and the windows last
// maxRun at most. short tells that the cap left a window under two cycles.
func runWindows(cycle, warm, win, maxRun time.Duration, reps int) (warmup, window, drain time.Duration, short bool) {
	n := time.Duration(reps)
	// A warm-up of a cycle lets every connection's first call, which
	// queued behind all the others, finish before the window opens.
	warmup = max(warm, cycle)
	window = max(win, 2*cycle)
	if warmup+n*window > maxRun {
		warmup = max(warm, min(cycle, maxRun/4))
		window = max(win, (maxRun-warmup)/n)
	}
	// Calls in flight at the last window's end finish within about a
	// cycle. Those still running after it are cancelled: they no longer
	// count, and waiting for a slow server's backlog would take most of
	// the budget.
	drain = min(max(cycle, 500*time.Millisecond), max(maxRun/2, 500*time.Millisecond))
	return warmup, window, drain, window < 2*cycle
}

// describe says in words how the plan came about.
func (p e2ePlan) describe(s e2eSettings) string {
	base := fmt.Sprintf("base warm-up %.2f s, window %.2f s", p.Base[0], p.Base[1])
	switch {
	case s.Fixed || p.Budget <= 0:
		return base + ", no budget"
	case p.OverBudget:
		return fmt.Sprintf("%s: over the %s budget even at the shortest windows", base, p.Budget.Round(time.Second))
	default:
		return fmt.Sprintf("%s, fitted to a %s budget", base, p.Budget.Round(time.Second))
	}
}

// cpuCount is how many calls the machine runs at once.
func cpuCount() int { return runtime.NumCPU() }
