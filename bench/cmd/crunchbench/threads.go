package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Flags of the threads mode.
var (
	threadsRun       = flag.String("threads-bench", threadsAll, "threads: the go test -bench pattern (BenchmarkThreads and its rows)")
	threadsCount     = flag.Int("threads-count", 5, "threads: runs per row, each figure their median: the benchmarks run this many times in a row, every row once each time, so that an op's rows run seconds apart")
	threadsBenchtime = flag.String("threads-benchtime", "500ms", "threads: go test -benchtime per run")
	threadsEstimate  = flag.Bool("threads-fftw-estimate", false, "threads: plan FFTW with FFTW_ESTIMATE, at once, rather than FFTW_MEASURE (seconds a plan at 2^20)")
	threadsOut       = flag.String("threads-out", "", "threads: also write go test's raw output here (benchstat's input format)")
)

// The threads mode's -bench patterns: every op, and -quick's gemm 512
// and complex fft, the two rows with a library beside crunch.
const (
	threadsAll   = "^BenchmarkThreads$"
	threadsQuick = "^BenchmarkThreads$/^op=(gemm-f64|fft-c128)$/^n=(512|1048576)$"
)

// threadsLibs are the ops BenchmarkThreads compares with a library: the
// library's impl, which is also the build tag that links it.
var threadsLibs = map[string]string{"gemm-f64": "openblas", "fft-c128": "fftw"}

// libNames are the libraries' names in the table.
var libNames = map[string]string{"openblas": "OpenBLAS", "fftw": "FFTW"}

// threadsResult is what the threads mode puts in the JSON.
type threadsResult struct {
	goBenchRun
	LoadStart string `json:"loadavg_start"` // the load averages before and after
	LoadEnd   string `json:"loadavg_end"`
}

// runThreads runs BenchmarkThreads (one request on 1 thread and on one
// per CPU, with OpenBLAS's gemm and FFTW's complex fft on the same thread
// counts when their tags are given) and tabulates it per op.
func runThreads(ctx context.Context, e *env) (any, error) {
	pattern, count, benchtime, estimate := *threadsRun, *threadsCount, *threadsBenchtime, *threadsEstimate
	if *quick {
		if !flagGiven("threads-bench") {
			pattern = threadsQuick
		}
		if !flagGiven("threads-count") {
			count = 3
		}
		if !flagGiven("threads-benchtime") {
			benchtime = "100ms"
		}
		if !flagGiven("threads-fftw-estimate") {
			estimate = true
		}
	}
	// One row after another, count times over: a row's runs spread over
	// the whole run, and each op's 1-thread and N-thread rows (and the
	// library's) are timed seconds apart, so that the machine's slow and
	// fast minutes fall on all of them alike (with go test's -count, an
	// op's 1-thread runs came all before its N-thread runs, a minute
	// apart, and speedups moved by a third between runs).
	g := goBench{mode: "threads", bench: pattern, count: 1, rounds: count, benchtime: benchtime, rawOut: *threadsOut}
	if estimate {
		g.binArgs = []string{"-fftw-estimate"}
	} else {
		// FFTW's measurements made by the first run serve the others.
		dir, err := os.MkdirTemp("", "crunchbench-fftw")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		g.binArgs = []string{"-fftw-wisdom", filepath.Join(dir, "wisdom")}
	}
	res := threadsResult{LoadStart: loadAverages()}
	run, err := g.run(ctx, e)
	res.goBenchRun, res.LoadEnd = run, loadAverages()
	if err != nil {
		return res, err
	}
	writeThreads(e.out, res, count, benchtime, estimate)
	return res, nil
}

// loadAverages are the 1, 5 and 15 minute load averages of /proc/loadavg:
// what else ran on the machine.
func loadAverages() string {
	f := strings.Fields(firstLine("/proc/loadavg"))
	return strings.Join(f[:min(3, len(f))], " ")
}

// writeThreads writes the mode's section: its settings and the table.
func writeThreads(w io.Writer, res threadsResult, count int, benchtime string, estimate bool) {
	t, all, missing := threadsTable(res.Lines, strings.Split(*kernelsTags, ","))
	fmt.Fprintf(w, "\n## One request, 1 and %d threads\n\n", all)
	plan := "an FFTW_MEASURE plan made before the timing"
	if estimate {
		plan = "an FFTW_ESTIMATE plan: quick to make, not the fastest FFTW can do"
	}
	fmt.Fprintf(w, "`%s`: each op as one request on a pool of a worker per CPU, on 1 thread and on %d, one per CPU (the request's `threads`); "+
		"beside it OpenBLAS's gemm (openblas_set_num_threads) and FFTW's complex fft (%s) on as many threads, "+
		"when their build tags are given. Each row calls untimed for 100 ms (at least once; a process's first row for 1 s), then calls for %s; cells: median (min–max) of %d runs of the time per call, "+
		"and the median in the op's unit; the benchmarks run that many times in a row, every row once each time, so that an op's rows run seconds apart. "+
		"Speedups and the crunch / library speed ratio compare medians. "+
		"Load average (1, 5, 15 min) before: %s; after: %s.\n\n",
		res.Command, all, plan, benchtime, count, res.LoadStart, res.LoadEnd)
	t.write(w)
	if missing {
		fmt.Fprintf(w, "\nNot installed: this run was built without the library's tag (-kernels-tags openblas,fftw; make bench adds each "+
			"when Debian's libopenblas-dev or libfftw3-dev is installed: make bench-deps).\n")
	}
}

// threadsTable lays BenchmarkThreads out with one row per op: crunch on 1
// thread and on all, the speedup, then the same for the op's library and
// crunch's speed over the library's on all threads. tags are the build
// tags given: a library whose tag is missing is "not installed", and
// missing says so. all is the most threads a row ran on.
func threadsTable(lines []benchLine, tags []string) (t *table, all int, missing bool) {
	all = 1
	var ops []string
	paths := map[string]map[string]map[int]string{} // op → impl → threads → path
	units := map[string]string{}                    // op → the unit of its rate
	for _, l := range lines {
		threads, err := strconv.Atoi(l.Params["threads"])
		if l.Family != "Threads" || err != nil {
			continue
		}
		all = max(all, threads)
		var rest []string
		for _, part := range strings.Split(l.Path, "/") {
			if !strings.HasPrefix(part, "impl=") && !strings.HasPrefix(part, "threads=") {
				rest = append(rest, part)
			}
		}
		op := strings.TrimPrefix(strings.Join(rest, " "), "op=")
		if paths[op] == nil {
			ops = append(ops, op)
			paths[op] = map[string]map[int]string{}
		}
		impl := l.Params["impl"]
		if paths[op][impl] == nil {
			paths[op][impl] = map[int]string{}
		}
		paths[op][impl][threads] = l.Path
		for u := range l.Metrics {
			if u != "ns/op" && (units[op] == "" || u < units[op]) { // the least, should there be several
				units[op] = u
			}
		}
	}
	times := collect(lines, "Threads", "ns/op")
	rates := map[string]map[string]benchCell{} // unit → path → cell
	n := func(k int) string {
		if k == 1 {
			return "1 thread"
		}
		return fmt.Sprintf("%d threads", k)
	}
	ratio := fmt.Sprintf("%d / 1", all)
	t = &table{
		header: []string{"op", "crunch, " + n(1), "crunch, " + n(all), ratio, "library", "library, " + n(1), "library, " + n(all), ratio, "crunch / library, " + n(all)},
		right:  []bool{false, true, true, true, false, true, true, true, true},
	}
	for _, op := range ops {
		unit := units[op]
		if rates[unit] == nil {
			rates[unit] = collect(lines, "Threads", unit)
		}
		// figures gives an impl's cells on 1 thread and on all, and the
		// median times (0 where missing).
		figures := func(impl string) (cells []string, t1, tAll float64) {
			for _, k := range []int{1, all} {
				tc, ok := times[paths[op][impl][k]]
				if !ok {
					cells = append(cells, "")
					continue
				}
				cell := formatTime(tc)
				if rc, ok := rates[unit][paths[op][impl][k]]; ok {
					cell += ", " + sig3(rc.Median) + " " + unit
				}
				cells = append(cells, cell)
				if k == 1 {
					t1 = tc.Median
				} else {
					tAll = tc.Median
				}
			}
			if all == 1 {
				tAll = t1
			}
			return cells, t1, tAll
		}
		speedup := func(t1, tAll float64) string {
			if t1 == 0 || tAll == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f×", t1/tAll)
		}
		c, c1, cAll := figures("c")
		row := append([]string{op}, c[0], c[1], speedup(c1, cAll))
		lib := threadsLibs[strings.Fields(op)[0]]
		switch {
		case lib == "":
			row = append(row, "—", "", "", "", "")
		case paths[op][lib] == nil:
			why := "not measured"
			if !slices.Contains(tags, lib) {
				why, missing = "not installed", true
			}
			row = append(row, libNames[lib]+": "+why, "", "", "", "")
		default:
			l, l1, lAll := figures(lib)
			rel := ""
			if cAll > 0 && lAll > 0 {
				rel = fmt.Sprintf("%.0f%%", 100*lAll/cAll)
			}
			row = append(row, libNames[lib], l[0], l[1], speedup(l1, lAll), rel)
		}
		t.add(row...)
	}
	return t, all, missing
}

// formatTime writes a time per call in ns/op as a median with its spread,
// to three significant digits, in a unit that suits the median.
func formatTime(c benchCell) string {
	unit, div := "ns", 1.0
	switch {
	case c.Median >= 1e9:
		unit, div = "s", 1e9
	case c.Median >= 1e6:
		unit, div = "ms", 1e6
	case c.Median >= 1e3:
		unit, div = "µs", 1e3
	}
	return formatCell(benchCell{Median: c.Median / div, Min: c.Min / div, Max: c.Max / div, Runs: c.Runs}) + " " + unit
}
