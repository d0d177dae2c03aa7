package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/crunchsvc/crunch/bench/load"
)

// responsiveSummary is each figure of the table over the case's runs.
type responsiveSummary struct {
	PingP50Ms      load.Spread `json:"ping_p50_ms"`
	PingP99Ms      load.Spread `json:"ping_p99_ms"`
	PingMaxMs      load.Spread `json:"ping_max_ms"`
	PingsLost      load.Spread `json:"pings_lost"`
	JobsPerS       load.Spread `json:"jobs_per_s"`
	JobP50Ms       load.Spread `json:"job_p50_ms"`
	JobP99Ms       load.Spread `json:"job_p99_ms"`
	MaxThreads     load.Spread `json:"server_max_threads"`
	MaxRSSMiB      load.Spread `json:"server_max_rss_mib"`
	WorkersRSSMiB  load.Spread `json:"workers_max_rss_mib"`
	ServerCores    load.Spread `json:"server_cpu_cores"`
	OtherCores     load.Spread `json:"other_cpu_cores"` // the machine's busy cores less the server's and the load generator's
	Failed         int64       `json:"failed"`          // failure replies, all runs
	AbnormalCloses int64       `json:"abnormal_closes"` // load and probe, all runs
}

// summarize reduces a case's runs to the table's figures.
func summarize(runs []load.Result) responsiveSummary {
	col := func(f func(r load.Result) float64) load.Spread { return spreadOver(runs, f) }
	const mib = 1 << 20
	s := responsiveSummary{
		PingP50Ms:     col(func(r load.Result) float64 { return r.Probe.RTT.P50Ms }),
		PingP99Ms:     col(func(r load.Result) float64 { return r.Probe.RTT.P99Ms }),
		PingMaxMs:     col(func(r load.Result) float64 { return r.Probe.RTT.MaxMs }),
		PingsLost:     col(func(r load.Result) float64 { return float64(r.Probe.Lost) }),
		JobsPerS:      col(func(r load.Result) float64 { return r.Load.ThroughputPerS }),
		JobP50Ms:      col(func(r load.Result) float64 { return r.Load.Latency.P50Ms }),
		JobP99Ms:      col(func(r load.Result) float64 { return r.Load.Latency.P99Ms }),
		MaxThreads:    col(func(r load.Result) float64 { return float64(r.Server.MaxThreads) }),
		MaxRSSMiB:     col(func(r load.Result) float64 { return float64(r.Server.MaxRSSBytes) / mib }),
		WorkersRSSMiB: col(func(r load.Result) float64 { return float64(r.Server.MaxChildRSSBytes) / mib }),
		ServerCores:   col(func(r load.Result) float64 { return r.Server.CPUCores }),
		OtherCores: col(func(r load.Result) float64 {
			return max(r.Server.MachineBusyCores-r.Server.CPUCores-r.Server.LoadGenCPUCores, 0)
		}),
	}
	for _, r := range runs {
		s.Failed += r.Load.Failed
		s.AbnormalCloses += r.Load.AbnormalCloses + r.Probe.AbnormalCloses
	}
	return s
}

// spreadOver is one figure, f of each run, over runs.
func spreadOver(runs []load.Result, f func(load.Result) float64) load.Spread {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return load.SpreadOf(xs)
}

// writeResponsive prints the mode's section of the report: the setup, the
// table, the scheduling classes seen, and the runs that failed.
func writeResponsive(e *env, rep *responsiveReport) {
	w := e.out
	cal := rep.Calibration
	fmt.Fprintf(w, "## Responsiveness under full compute load\n\n")
	fmt.Fprintf(w, "Load: %d connections × %d in flight, each job `modsum` n=%d iters=%d impl=c (%.0f ms alone on the pool, %s path), exec set per request; "+
		"%.1f s warm-up, then %.0f s measured; a fresh server per run. Probe: one more, idle connection %s sends `ping` every %v, "+
		"lost when unanswered after %v. Executors (from `info`): %s.\n\n",
		rep.Conns, rep.InFlightPerConn, cal.N, cal.Iters, cal.JobMs, cal.ISA,
		rep.WarmupS, rep.DurationS, probeWhere(), *probeInterval, *probeTimeout, slots(cal.Executors))
	if rep.PrioritySupported {
		fmt.Fprintf(w, "Priority is the server's `--compute-priority` (pool threads and subprocess workers; direct calls run on the server's own threads, so for direct it is a control).\n\n")
	} else {
		fmt.Fprintf(w, "This server has no `--compute-priority` flag: normal priority only.\n\n")
	}
	fmt.Fprintf(w, "Cells: median (min–max) over %d runs. Latencies are client round trips in ms, measured by this program, which runs on the same machine at normal priority; "+
		"jobs/s counts successes in the window; threads and RSS are the server process's maxima (the subprocess workers' RSS apart, all workers together); "+
		"CPU columns are cores used on average over the run (warm-up and drain included): the server with its workers, and everything else on the machine but this program; "+
		"errors are failure replies, closes are connections that failed.\n\n", rep.Reps)
	t := &table{
		header: []string{"exec", "priority", "ping p50 ms", "ping p99 ms", "ping max ms", "pings lost", "jobs/s", "job p50 ms", "job p99 ms", "threads", "RSS MiB", "workers RSS MiB", "server CPU", "others' CPU", "errors / closes"},
		right:  []bool{false, false, true, true, true, true, true, true, true, true, true, true, true, true, true},
	}
	for _, c := range rep.Cases {
		if len(c.Runs) == 0 {
			t.add(c.Exec, c.Priority, "failed", "", "", "", "", "", "", "", "", "", "", "", "")
			continue
		}
		s := c.Summary
		t.add(c.Exec, c.Priority,
			spread(s.PingP50Ms, 2), spread(s.PingP99Ms, 2), spread(s.PingMaxMs, 1), spread(s.PingsLost, 0),
			spread(s.JobsPerS, 1), spread(s.JobP50Ms, 0), spread(s.JobP99Ms, 0),
			spread(s.MaxThreads, 0), spread(s.MaxRSSMiB, 1), spread(s.WorkersRSSMiB, 1),
			spread(s.ServerCores, 2), spread(s.OtherCores, 2),
			fmt.Sprintf("%d / %d", s.Failed, s.AbnormalCloses))
	}
	t.write(w)
	fmt.Fprintf(w, "\nScheduling classes of the threads, as /proc showed them at the end of each case's first run (server process; subprocess workers):\n\n")
	for _, c := range rep.Cases {
		if len(c.Runs) > 0 {
			u := c.Runs[0].Server
			fmt.Fprintf(w, "- %s/%s: %s; workers: %s\n", c.Exec, c.Priority,
				load.FormatClasses(u.ThreadClasses), load.FormatClasses(u.ChildThreadClasses))
		}
	}
	for _, c := range rep.Cases {
		for _, err := range c.Errors {
			fmt.Fprintf(w, "\n- %s/%s: a run failed: %s\n%s", c.Exec, c.Priority, firstLineOf(err), errorDetail(err))
		}
	}
	fmt.Fprintln(w)
}

// slots formats the info op's executors as "direct 0 slots, pool 2 slots".
func slots(raw json.RawMessage) string {
	var execs []struct {
		Name  string `json:"name"`
		Slots int    `json:"slots"`
	}
	if err := json.Unmarshal(raw, &execs); err != nil || len(execs) == 0 {
		return "unknown"
	}
	var parts []string
	for _, x := range execs {
		parts = append(parts, fmt.Sprintf("%s %d slots", x.Name, x.Slots))
	}
	return strings.Join(parts, ", ")
}

// firstLineOf returns s up to its first newline.
func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// errorDetailLines bounds the lines of an error shown under its first.
const errorDetailLines = 30

// errorDetail returns the lines of s after its first (a server's threads
// and output, say) as a code block indented under a list item, at most
// errorDetailLines of them; "" when s has one line. The JSON has them all.
func errorDetail(s string) string {
	_, rest, ok := strings.Cut(strings.TrimRight(s, "\n"), "\n")
	if !ok || strings.TrimSpace(rest) == "" {
		return ""
	}
	lines := strings.Split(rest, "\n")
	if len(lines) > errorDetailLines {
		lines = append(lines[:errorDetailLines], fmt.Sprintf("… %d more lines in the JSON", len(lines)-errorDetailLines))
	}
	var b strings.Builder
	b.WriteString("\n  ```\n")
	for _, l := range lines {
		b.WriteString("  " + strings.ReplaceAll(l, "```", "'''") + "\n")
	}
	b.WriteString("  ```\n\n")
	return b.String()
}
