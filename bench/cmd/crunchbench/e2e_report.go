package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
)

// e2eReport is the e2e mode's JSON: the settings, the plan, and every run.
type e2eReport struct {
	Settings        e2eSettings      `json:"settings"`
	InFlightPerConn int              `json:"in_flight_per_conn"`
	ProbeIntervalMs float64          `json:"probe_interval_ms"`
	ProbeTimeoutMs  float64          `json:"probe_timeout_ms"`
	Workloads       []e2eWorkload    `json:"workloads"`
	Systems         []string         `json:"systems"`                   // measured, in report order
	FastAPIMissing  string           `json:"fastapi_missing,omitempty"` // why FastAPI was not
	Calibration     []e2eCalibration `json:"calibration"`
	Plan            e2ePlan          `json:"plan"`
	Cases           []*e2eCase       `json:"cases"`
	WallS           float64          `json:"wall_s"`
	Plots           []string         `json:"plots,omitempty"`
	PlotError       string           `json:"plot_error,omitempty"`
}

// e2eCase is one system × workload × K over every rep.
type e2eCase struct {
	e2eCaseKey
	WarmupS float64 `json:"warmup_s"`
	WindowS float64 `json:"window_s"`
	Short   bool    `json:"short"` // window under two cycles (see e2ePlanCase)
	// PlannedS and ElapsedS are the case's estimated and actual time,
	// server starts included.
	PlannedS float64       `json:"planned_s"`
	ElapsedS float64       `json:"elapsed_s"`
	Runs     []load.Result `json:"runs"`
	Errors   []string      `json:"errors,omitempty"` // runs that failed outright
	Summary  e2eSummary    `json:"summary"`
}

// e2eSummary is each figure of a case over its runs.
type e2eSummary struct {
	ReqPerS   load.Spread `json:"req_per_s"`
	P50Ms     load.Spread `json:"p50_ms"`
	P99Ms     load.Spread `json:"p99_ms"`
	P999Ms    load.Spread `json:"p999_ms"`
	PingP50Ms load.Spread `json:"ping_p50_ms"`
	PingP99Ms load.Spread `json:"ping_p99_ms"`
	PingMaxMs load.Spread `json:"ping_max_ms"`
	PingsLost load.Spread `json:"pings_lost"`
	// Threads and RSSMiB are the server's maxima plus its workers'
	// (subprocess workers, a process pool's): an upper bound of the sum.
	Threads        load.Spread `json:"threads"`
	RSSMiB         load.Spread `json:"rss_mib"`
	Failed         int64       `json:"failed"`          // failure replies, all runs
	AbnormalCloses int64       `json:"abnormal_closes"` // load and probe, all runs
	Unfinished     int64       `json:"unfinished"`      // calls cut off at the drain's end, all runs
	// Pooled marks a summary whose call and ping figures are those of the
	// whole run, all its windows together, rather than the median of the
	// windows (min and max stay the windows'): see pool.
	Pooled bool `json:"pooled,omitempty"`
}

// pool replaces the medians of the call and ping figures by those of the
// whole runs (the first, when there are several). For a case whose windows
// are shorter than two cycles: its calls complete in bursts (K calls a
// cycle), so a window holds a burst or nothing, and the median of the
// windows is noise, often zero, where the whole run's rate is not.
func (s *e2eSummary) pool(runs []load.Result) {
	if len(runs) == 0 {
		return
	}
	r := runs[0]
	s.Pooled = true
	set := func(sp *load.Spread, v float64) {
		sp.Median = v
		sp.Min, sp.Max = min(sp.Min, v), max(sp.Max, v)
	}
	set(&s.ReqPerS, r.Load.ThroughputPerS)
	set(&s.P50Ms, r.Load.Latency.P50Ms)
	set(&s.P99Ms, r.Load.Latency.P99Ms)
	set(&s.P999Ms, r.Load.Latency.P999Ms)
	if r.Probe != nil && r.Probe.RTT.Count > 0 {
		set(&s.PingP50Ms, r.Probe.RTT.P50Ms)
		set(&s.PingP99Ms, r.Probe.RTT.P99Ms)
		set(&s.PingMaxMs, r.Probe.RTT.MaxMs)
	}
}

// summarizeE2E reduces a case's runs to its figures.
func summarizeE2E(runs []load.Result) e2eSummary {
	// Figures spread over the windows of every run (the repetitions);
	// failures are counted over the runs.
	var windows []load.Result
	for _, r := range runs {
		windows = append(windows, r.Windows()...)
	}
	col := func(f func(load.Result) float64) load.Spread { return spreadOver(windows, f) }
	// Latencies count only from windows with calls, round trips from
	// windows whose probe had answers: a window in which no call ended,
	// or that lost every ping, has none, which is not zero.
	var completed, answered []load.Result
	for _, r := range windows {
		if r.Load.Latency.Count > 0 {
			completed = append(completed, r)
		}
		if r.Probe != nil && r.Probe.RTT.Count > 0 {
			answered = append(answered, r)
		}
	}
	lat := func(f func(l load.Latency) float64) load.Spread {
		return spreadOver(completed, func(r load.Result) float64 { return f(r.Load.Latency) })
	}
	rtt := func(f func(l load.Latency) float64) load.Spread {
		return spreadOver(answered, func(r load.Result) float64 { return f(r.Probe.RTT) })
	}
	const mib = 1 << 20
	s := e2eSummary{
		ReqPerS:   col(func(r load.Result) float64 { return r.Load.ThroughputPerS }),
		P50Ms:     lat(func(l load.Latency) float64 { return l.P50Ms }),
		P99Ms:     lat(func(l load.Latency) float64 { return l.P99Ms }),
		P999Ms:    lat(func(l load.Latency) float64 { return l.P999Ms }),
		PingP50Ms: rtt(func(l load.Latency) float64 { return l.P50Ms }),
		PingP99Ms: rtt(func(l load.Latency) float64 { return l.P99Ms }),
		PingMaxMs: rtt(func(l load.Latency) float64 { return l.MaxMs }),
		PingsLost: col(func(r load.Result) float64 {
			if r.Probe == nil {
				return 0
			}
			return float64(r.Probe.Lost)
		}),
		Threads: col(func(r load.Result) float64 { return float64(r.Server.MaxThreads + r.Server.MaxChildThreads) }),
		RSSMiB: col(func(r load.Result) float64 {
			return float64(r.Server.MaxRSSBytes+r.Server.MaxChildRSSBytes) / mib
		}),
	}
	for _, r := range runs {
		s.Failed += r.Load.Failed
		s.AbnormalCloses += r.Load.AbnormalCloses
		if r.Probe != nil {
			s.AbnormalCloses += r.Probe.AbnormalCloses
		}
		s.Unfinished += r.Load.Unfinished
	}
	return s
}

// oneLine is a case's summary for the progress notes.
func (s e2eSummary) oneLine() string {
	if s.ReqPerS.N == 0 {
		return "no run succeeded"
	}
	return fmt.Sprintf("%s req/s, p50/p99 %s/%s ms, ping p99 %s ms, lost %.0f, %.0f threads, errors %d, closes %d",
		num(s.ReqPerS.Median), num(s.P50Ms.Median), num(s.P99Ms.Median), spreadNum(s.PingP99Ms),
		s.PingsLost.Median, s.Threads.Median, s.Failed, s.AbnormalCloses)
}

// num formats a figure with about three significant digits.
func num(x float64) string {
	switch {
	case x > 0 && x < 0.1:
		return fmt.Sprintf("%.2g", x)
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// spreadNum is spread with about three significant digits in the median
// (figures here span 0.1 ms to thousands of calls per second).
func spreadNum(s load.Spread) string {
	if s.N == 0 {
		return "–"
	}
	digits := 2
	switch {
	case s.Median >= 100:
		digits = 0
	case s.Median >= 10:
		digits = 1
	}
	return spread(s, digits)
}

// find returns the case of system, workload and K, or nil.
func (r *e2eReport) find(sys, wl string, k int) *e2eCase {
	for _, c := range r.Cases {
		if c.System == sys && c.Workload == wl && c.Conns == k && c.Summary.ReqPerS.N > 0 {
			return c
		}
	}
	return nil
}

// writeE2E prints the mode's section of the report.
func writeE2E(e *env, r *e2eReport) {
	w := e.out
	s := r.Settings
	fmt.Fprintf(w, "## End to end over WebSocket\n\n")
	fmt.Fprintf(w, "Load: K connections (K = %s) × %d call in flight each, closed loop (the next call leaves as soon as one returns), "+
		"every call the workload's, exec named per request for crunch, impl c. Probe: one more, idle connection %s sends `ping` every %v, "+
		"lost when unanswered after %v. A fresh server per case; its %d reps are consecutive windows of one run, after one warm-up.\n\n",
		joinInts(s.Conns), r.InFlightPerConn, probeWhere(), time.Duration(r.ProbeIntervalMs*float64(time.Millisecond)),
		time.Duration(r.ProbeTimeoutMs*float64(time.Millisecond)), s.Reps)
	fmt.Fprintf(w, "Windows: warm-up %.2f s and each window %.2f s (%s), longer where calls are slow: a warm-up of at least one cycle and windows of at least two, "+
		"a cycle being K calls of the calibrated time, %d (the CPUs) at a time; warm-up and windows together at most %v, and † marks windows this cap left under two cycles: "+
		"their calls complete in bursts, so a window holds a burst or none, and the cells of such a case give the whole run (every window together) with the windows' min–max. "+
		"Planned %s, took %s.\n\n",
		r.Plan.Base[0], r.Plan.Base[1], r.Plan.describe(s), cpuCount(), s.MaxRun,
		r.Plan.Total.Round(time.Second), (time.Duration(r.WallS * float64(time.Second))).Round(time.Second))
	fmt.Fprintf(w, "Calibration (one call alone on a warm connection, median of up to 3, ms):")
	for _, c := range r.Calibration {
		if c.Error != "" {
			fmt.Fprintf(w, " %s failed (%s);", c.System, firstLineOf(c.Error))
			continue
		}
		var parts []string
		for _, wl := range r.Workloads {
			if t, ok := c.CallMs[wl.Key]; ok {
				parts = append(parts, fmt.Sprintf("%s %s", wl.Key, num(t)))
			}
		}
		fmt.Fprintf(w, " %s: %s (start and stop %.2f s);", c.System, strings.Join(parts, ", "), c.StartStopS)
	}
	fmt.Fprintf(w, "\n\n")
	if r.FastAPIMissing != "" {
		fmt.Fprintf(w, "The comparison with the bench/fastapi FastAPI server was skipped: %s.\n\n", r.FastAPIMissing)
	}
	fmt.Fprintf(w, "Cells: median (min–max) over the reps (the windows). req/s counts successes in a window; latencies are client round trips in ms; "+
		"threads and RSS are the server's maxima plus its workers' (subprocess workers, a process pool); errors are failure replies, closes connections that failed.\n\n")

	links := plotLinks(r)
	for _, wl := range r.Workloads {
		fmt.Fprintf(w, "### %s: %s\n\n", wl.Class, wl.Desc)
		t := &table{
			header: []string{"system", "K", "req/s", "p50 ms", "p99 ms", "p999 ms", "ping p50 ms", "ping p99 ms", "ping max ms", "pings lost", "threads", "RSS MiB", "errors / closes"},
			right:  []bool{false, true, true, true, true, true, true, true, true, true, true, true, true},
		}
		for _, c := range r.Cases {
			if c.Workload != wl.Key {
				continue
			}
			k := fmt.Sprint(c.Conns)
			if c.Short {
				k += " †"
			}
			if len(c.Runs) == 0 {
				t.add(c.System, k, "failed", "", "", "", "", "", "", "", "", "", "")
				continue
			}
			m := c.Summary
			t.add(c.System, k, spreadNum(m.ReqPerS), spreadNum(m.P50Ms), spreadNum(m.P99Ms), spreadNum(m.P999Ms),
				spreadNum(m.PingP50Ms), spreadNum(m.PingP99Ms), spreadNum(m.PingMaxMs), spread(m.PingsLost, 0),
				spread(m.Threads, 0), spread(m.RSSMiB, 0), fmt.Sprintf("%d / %d", m.Failed, m.AbnormalCloses))
		}
		t.write(w)
		fmt.Fprintln(w)
		if l := links[wl.Key]; len(l) > 0 {
			fmt.Fprintf(w, "Plots: %s\n\n", strings.Join(l, " · "))
		}
	}
	if r.PlotError != "" {
		fmt.Fprintf(w, "The plots failed: %s\n\n", r.PlotError)
	}
	if f := e2eFindings(r); len(f) > 0 {
		fmt.Fprintf(w, "What it shows (ratios within this run):\n\n")
		for _, line := range f {
			fmt.Fprintf(w, "- %s\n", line)
		}
		fmt.Fprintln(w)
	}
	for _, c := range r.Cases {
		for _, err := range c.Errors {
			fmt.Fprintf(w, "- %s %s K=%d: a run failed: %s\n%s", c.System, c.Workload, c.Conns, firstLineOf(err), errorDetail(err))
		}
	}
	fmt.Fprintln(w)
}

// plotLinks gives each workload's Markdown links to its plots, relative
// to the report's directory when the report is a file (-results).
func plotLinks(r *e2eReport) map[string][]string {
	out := map[string][]string{}
	for _, p := range r.Plots {
		link := p
		if *resultsDir != "" {
			if rel, err := filepath.Rel(*resultsDir, p); err == nil {
				link = rel
			}
		}
		kind, wl := plotKindOf(p)
		out[wl] = append(out[wl], fmt.Sprintf("[%s](%s)", kind, filepath.ToSlash(link)))
	}
	return out
}

// e2eFindings are the report's "what it shows": ratios between the
// systems of one run, computed from the medians.
func e2eFindings(r *e2eReport) []string {
	if len(r.Settings.Conns) == 0 {
		return nil
	}
	ks := r.Settings.Conns
	refK := slices.Max(ks)
	if slices.Contains(ks, 16) {
		refK = 16
	}
	loK, hiK := slices.Min(ks), slices.Max(ks)
	var out []string
	for _, wl := range r.Workloads {
		var rows []*e2eCase
		for _, s := range r.Systems {
			if c := r.find(s, wl.Key, refK); c != nil {
				rows = append(rows, c)
			}
		}
		if len(rows) == 0 {
			continue
		}
		ref := rows[0]
		var tput, ping []string
		for _, c := range rows[1:] {
			tput = append(tput, fmt.Sprintf("%s %s×", c.System, ratio(c.Summary.ReqPerS.Median, ref.Summary.ReqPerS.Median)))
		}
		for _, c := range rows {
			if c.Summary.PingP99Ms.N == 0 {
				ping = append(ping, c.System+" every ping lost")
			} else {
				ping = append(ping, fmt.Sprintf("%s %s ms", c.System, num(c.Summary.PingP99Ms.Median)))
			}
		}
		line := fmt.Sprintf("%s, K=%d:", wl.Desc, refK)
		if len(tput) > 0 {
			line += fmt.Sprintf(" throughput against %s (%s req/s): %s;", ref.System, num(ref.Summary.ReqPerS.Median), strings.Join(tput, ", "))
		}
		line += " probe ping p99: " + strings.Join(ping, ", ") + "."
		if loK != hiK {
			var grow []string
			for _, s := range r.Systems {
				lo, hi := r.find(s, wl.Key, loK), r.find(s, wl.Key, hiK)
				if lo != nil && hi != nil {
					grow = append(grow, fmt.Sprintf("%s %s×", s, ratio(hi.Summary.ReqPerS.Median, lo.Summary.ReqPerS.Median)))
				}
			}
			if len(grow) > 0 {
				line += fmt.Sprintf(" Throughput at K=%d over K=%d: %s.", hiK, loK, strings.Join(grow, ", "))
			}
		}
		out = append(out, line)
	}
	// Threads: the price of direct calls, each holding an OS thread.
	var threads []string
	for _, s := range r.Systems {
		var top *e2eCase
		for _, c := range r.Cases {
			if c.System == s && c.Summary.ReqPerS.N > 0 && (top == nil || c.Summary.Threads.Median > top.Summary.Threads.Median) {
				top = c
			}
		}
		if top != nil {
			threads = append(threads, fmt.Sprintf("%s %.0f (%s, K=%d)", s, top.Summary.Threads.Median, top.Workload, top.Conns))
		}
	}
	if len(threads) > 0 {
		out = append(out, "Most threads (server and workers, median of a case): "+strings.Join(threads, ", ")+".")
	}
	var trouble []string
	for _, s := range r.Systems {
		var failed, closes int64
		var lost float64
		for _, c := range r.Cases {
			if c.System == s {
				failed += c.Summary.Failed
				closes += c.Summary.AbnormalCloses
				for _, run := range c.Runs {
					if run.Probe != nil {
						lost += float64(run.Probe.Lost)
					}
				}
			}
		}
		if failed+closes > 0 || lost > 0 {
			trouble = append(trouble, fmt.Sprintf("%s %d errors, %d abnormal closes, %.0f pings lost", s, failed, closes, lost))
		}
	}
	if len(trouble) == 0 {
		out = append(out, "No failure reply, abnormal close or lost ping in any run.")
	} else {
		out = append(out, "Trouble, over all runs: "+strings.Join(trouble, "; ")+".")
	}
	if f := fastapiFinding(r, refK); f != "" {
		out = append(out, f)
	}
	return out
}

// fastapiFinding compares crunch's best system with FastAPI's best on modsum
// at K = refK, when both ran.
func fastapiFinding(r *e2eReport, refK int) string {
	var crunch, fastapi *e2eCase
	for _, s := range r.Systems {
		c := r.find(s, "modsum", refK)
		if c == nil {
			continue
		}
		best := &fastapi
		if strings.HasPrefix(s, "crunch ") {
			best = &crunch
		}
		if *best == nil || c.Summary.ReqPerS.Median > (*best).Summary.ReqPerS.Median {
			*best = c
		}
	}
	if crunch == nil || fastapi == nil {
		return ""
	}
	return fmt.Sprintf("modsum at K=%d: %s does %s× the calls of %s (%s against %s req/s), its probe ping p99 %s ms against %s ms.",
		refK, crunch.System, ratio(crunch.Summary.ReqPerS.Median, fastapi.Summary.ReqPerS.Median), fastapi.System,
		num(crunch.Summary.ReqPerS.Median), num(fastapi.Summary.ReqPerS.Median),
		num(crunch.Summary.PingP99Ms.Median), num(fastapi.Summary.PingP99Ms.Median))
}

// ratio formats a/b, or "–" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return num(a / b)
}

// joinInts formats 1,4,16 as "1, 4, 16".
func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ", ")
}
