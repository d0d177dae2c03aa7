package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/crunchsvc/crunch/bench/load"
)

// responsiveSummary is each figure of the table over the case's runs.
type responsiveSummary struct {
	Probes         []probeSummary `json:"probes"`
	JobsPerS       load.Spread    `json:"jobs_per_s"`
	JobP50Ms       load.Spread    `json:"job_p50_ms"`
	JobP99Ms       load.Spread    `json:"job_p99_ms"`
	MaxThreads     load.Spread    `json:"server_max_threads"`
	MaxRSSMiB      load.Spread    `json:"server_max_rss_mib"`
	WorkersRSSMiB  load.Spread    `json:"workers_max_rss_mib"`
	ServerCores    load.Spread    `json:"server_cpu_cores"`
	OtherCores     load.Spread    `json:"other_cpu_cores"` // the machine's busy cores less the server's and the load generator's
	Failed         int64          `json:"failed"`          // failure replies, all runs
	AbnormalCloses int64          `json:"abnormal_closes"` // load and probe, all runs
}

// probeSummary is one probe's figures over a case's runs.
type probeSummary struct {
	Name      string      `json:"name"`
	NotRun    string      `json:"not_run,omitempty"`
	PingP50Ms load.Spread `json:"ping_p50_ms"`
	PingP99Ms load.Spread `json:"ping_p99_ms"`
	PingMaxMs load.Spread `json:"ping_max_ms"`
	PingsLost load.Spread `json:"pings_lost"`
}

// summarizeProbes sums up each probe of the runs (every run has the same
// probes, in the same order), over the runs in which it answered.
func summarizeProbes(runs []load.Result) []probeSummary {
	if len(runs) == 0 {
		return nil
	}
	out := make([]probeSummary, len(runs[0].Probes))
	for i, pr := range runs[0].Probes {
		out[i] = probeSummary{Name: pr.Name, NotRun: pr.NotRun}
		var with []*load.ProbeResult
		for _, r := range runs {
			if i < len(r.Probes) && r.Probes[i].Result != nil {
				with = append(with, r.Probes[i].Result)
			}
		}
		col := func(f func(*load.ProbeResult) float64) load.Spread {
			xs := make([]float64, len(with))
			for j, p := range with {
				xs[j] = f(p)
			}
			return load.SpreadOf(xs)
		}
		out[i].PingP50Ms = col(func(p *load.ProbeResult) float64 { return p.RTT.P50Ms })
		out[i].PingP99Ms = col(func(p *load.ProbeResult) float64 { return p.RTT.P99Ms })
		out[i].PingMaxMs = col(func(p *load.ProbeResult) float64 { return p.RTT.MaxMs })
		out[i].PingsLost = col(func(p *load.ProbeResult) float64 { return float64(p.Lost) })
	}
	return out
}

// summarize reduces a case's runs to the table's figures.
func summarize(runs []load.Result) responsiveSummary {
	col := func(f func(r load.Result) float64) load.Spread { return spreadOver(runs, f) }
	const mib = 1 << 20
	s := responsiveSummary{
		Probes:        summarizeProbes(runs),
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
		s.AbnormalCloses += r.Load.AbnormalCloses
		for _, pr := range r.Probes {
			if pr.Result != nil {
				s.AbnormalCloses += pr.Result.AbnormalCloses
			}
		}
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
		"%.1f s warm-up, then %.0f s measured; a fresh server per run. Probes: %s, each on one more, idle connection, pinging at the same time every %v "+
		"(a ping unanswered after %v is lost). Executors (from `info`): %s.\n\n",
		rep.Conns, rep.InFlightPerConn, cal.N, cal.Iters, cal.JobMs, cal.ISA,
		rep.WarmupS, rep.DurationS, probeList(rep.Probes), *probeInterval, *probeTimeout, slots(cal.Executors))
	writeGroups(w, rep)
	if rep.PrioritySupported {
		fmt.Fprintf(w, "Priority is the server's `--compute-priority` (pool threads and subprocess workers; direct calls run on the server's own threads, so for direct it is a control).\n\n")
	} else {
		fmt.Fprintf(w, "This server has no `--compute-priority` flag: normal priority only.\n\n")
	}
	fmt.Fprintf(w, "Cells: median (min–max) over %d runs. Latencies are client round trips in ms, each probe's own measure (Go: the Go client's; Python: `AsyncClient.ping()`); "+
		"jobs/s counts successes in the window; threads and RSS are the server process's maxima (the subprocess workers' RSS apart, all workers together); "+
		"CPU columns are cores used on average over the run (warm-up and drain included): the server with its workers, and everything else on the machine but this program; "+
		"errors are failure replies, closes are connections that failed.\n\n", rep.Reps)
	withVariants := slices.ContainsFunc(rep.Cases, func(c *responsiveCase) bool { return c.Variant != "" })
	header := []string{"exec", "priority"}
	if withVariants {
		header = append(header, "server")
	}
	for _, p := range rep.Probes {
		header = append(header, p.Name+" ping p50 ms", p.Name+" ping p99 ms", p.Name+" ping max ms")
	}
	header = append(header, "pings lost", "jobs/s", "job p50 ms", "job p99 ms", "threads", "RSS MiB", "workers RSS MiB", "server CPU", "others' CPU", "errors / closes")
	t := &table{header: header}
	for i := range header {
		t.right = append(t.right, i >= 2 && header[i] != "server")
	}
	for _, c := range rep.Cases {
		row := []string{c.Exec, c.Priority}
		if withVariants {
			row = append(row, c.Variant)
		}
		if len(c.Runs) == 0 {
			row = append(row, "failed")
			for len(row) < len(header) {
				row = append(row, "")
			}
			t.add(row...)
			continue
		}
		s := c.Summary
		var lost []string
		for _, p := range s.Probes {
			if p.NotRun != "" {
				row = append(row, "not run", "not run", "not run")
				lost = append(lost, "–")
				continue
			}
			row = append(row, spread(p.PingP50Ms, 2), spread(p.PingP99Ms, 2), spread(p.PingMaxMs, 1))
			lost = append(lost, spread(p.PingsLost, 0))
		}
		row = append(row, strings.Join(lost, " / "),
			spread(s.JobsPerS, 1), spread(s.JobP50Ms, 0), spread(s.JobP99Ms, 0),
			spread(s.MaxThreads, 0), spread(s.MaxRSSMiB, 1), spread(s.WorkersRSSMiB, 1),
			spread(s.ServerCores, 2), spread(s.OtherCores, 2),
			fmt.Sprintf("%d / %d", s.Failed, s.AbnormalCloses))
		t.add(row...)
	}
	t.write(w)
	for _, p := range rep.Probes {
		if p.NotRun != "" {
			fmt.Fprintf(w, "\nThe %s probe was not run: %s.\n", p.Name, p.NotRun)
		}
	}
	if withVariants {
		fmt.Fprintf(w, "\nServer variants (`-variants`, flags after `-serve-flags`):")
		seen := map[string]bool{}
		for _, c := range rep.Cases {
			if !seen[c.Variant] {
				seen[c.Variant] = true
				fmt.Fprintf(w, " %s: `%s`", c.Variant, strings.Join(c.Flags, " "))
				if c.Bin != "" {
					fmt.Fprintf(w, " (binary %s)", c.Bin)
				}
				fmt.Fprint(w, ";")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nScheduling classes of the threads, as /proc showed them at the end of each case's first run (server process; subprocess workers):\n\n")
	for _, c := range rep.Cases {
		if len(c.Runs) > 0 {
			u := c.Runs[0].Server
			fmt.Fprintf(w, "- %s: %s; workers: %s\n", caseName(c),
				load.FormatClasses(u.ThreadClasses), load.FormatClasses(u.ChildThreadClasses))
		}
	}
	for _, c := range rep.Cases {
		for _, err := range c.Errors {
			fmt.Fprintf(w, "\n- %s: a run failed: %s\n%s", caseName(c), firstLineOf(err), errorDetail(err))
		}
	}
	fmt.Fprintln(w)
}

// caseName is "pool/idle", or "pool/idle (cgroup off)" with a variant.
func caseName(c *responsiveCase) string {
	if c.Variant != "" {
		return fmt.Sprintf("%s/%s (%s)", c.Exec, c.Priority, c.Variant)
	}
	return c.Exec + "/" + c.Priority
}

// probeList names the probes for the report's setup paragraph.
func probeList(probes []load.ProbeSpec) string {
	var parts []string
	for _, p := range probes {
		where := "in this program's process"
		if len(p.Command) > 0 {
			where = "in a process of its own"
		}
		if p.Name == "Python" {
			where = "the crunch package's `AsyncClient.ping()` " + where
		}
		if p.NotRun != "" {
			where = "not run"
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", p.Name, where))
	}
	return strings.Join(parts, " and ")
}

// writeGroups says where the kernel's scheduler put the server and the
// probes: with autogroup scheduling, whether a probe shares the server's
// group decides whether the server's SCHED_IDLE compute threads yield to
// it at once.
func writeGroups(w io.Writer, rep *responsiveReport) {
	fmt.Fprintf(w, "Sessions: %s (`-sessions`); `sched_autogroup_enabled` = %s. In the first run: server %s", rep.Sessions, rep.Autogroup, rep.ServerGroup)
	for _, pr := range rep.ProbeGroups {
		if pr.NotRun == "" {
			fmt.Fprintf(w, "; %s probe %s", pr.Name, pr.Group)
		}
	}
	fmt.Fprintf(w, ". The load generator is this program (session %d).\n\n", load.SchedGroupOf(os.Getpid()).Session)
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
