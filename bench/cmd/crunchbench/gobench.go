package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goBench is one `go test -bench` run over package bench, with the build
// tags of -kernels-tags.
type goBench struct {
	mode        string // for the status line
	bench, skip string // -bench and -skip patterns ("" for no -skip)
	count       int
	rounds      int // runs of the benchmarks one after another (0 or 1: one), their lines together
	benchtime   string
	binArgs     []string // the benchmarks' own flags (after -args)
	rawOut      string   // also write go test's raw output here, unless ""
}

// goBenchRun is what a mode that runs go test -bench reports in the JSON.
type goBenchRun struct {
	Command string      `json:"command"`
	Lines   []benchLine `json:"lines"`
}

// run builds package bench's test binary once and runs its benchmarks
// (rounds times in a row, when asked), following their output on the
// status line, and parses the result lines.
func (g goBench) run(ctx context.Context, e *env) (goBenchRun, error) {
	dir, err := os.MkdirTemp("", "crunchbench-gotest")
	if err != nil {
		return goBenchRun{}, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bench.test")
	build := []string{"test", "-c", "-o", bin}
	if *kernelsTags != "" {
		build = append(build, "-tags="+*kernelsTags)
	}
	build = append(build, "./bench/")
	args := []string{"-test.run=^$", "-test.bench=" + g.bench, fmt.Sprintf("-test.count=%d", g.count), "-test.benchtime=" + g.benchtime}
	if g.skip != "" {
		args = append(args, "-test.skip="+g.skip)
	}
	args = append(args, g.binArgs...)
	rounds := max(g.rounds, 1)
	res := goBenchRun{Command: fmt.Sprintf("go %s && cd bench && bench.test %s", strings.Join(build, " "), strings.Join(args, " "))}
	if rounds > 1 {
		res.Command += fmt.Sprintf(" (%d times in a row)", rounds)
	}
	e.status.set("%s: building the benchmarks", g.mode)
	if out, err := exec.CommandContext(ctx, "go", build...).CombinedOutput(); err != nil {
		return res, fmt.Errorf("go %s: %w\n%s", strings.Join(build, " "), err, out)
	}
	var raw bytes.Buffer
	for r := range rounds {
		if err := g.runOnce(ctx, e, bin, args, r, rounds, &raw); err != nil {
			return res, fmt.Errorf("%s: %w", res.Command, err)
		}
	}
	if g.rawOut != "" {
		if err := os.WriteFile(g.rawOut, raw.Bytes(), 0o644); err != nil {
			return res, err
		}
	}
	res.Lines, err = parseBench(&raw)
	return res, err
}

// runOnce runs the benchmarks' binary bin with args once (round r of
// rounds) in the package's directory, as go test would, following its
// output on the status line, and appends that output to raw.
func (g goBench) runOnce(ctx context.Context, e *env, bin string, args []string, r, rounds int, raw *bytes.Buffer) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "bench"
	// OpenBLAS must choose its own kernels for a fair comparison.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=")
	})
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	round := ""
	if rounds > 1 {
		round = fmt.Sprintf(" (run %d of %d)", r+1, rounds)
	}
	// Follow the output as it comes, for the status line.
	lines := 0
	tee := io.TeeReader(out, raw)
	buf := make([]byte, 4096)
	for {
		n, rerr := tee.Read(buf)
		lines += bytes.Count(buf[:n], []byte("\n"))
		e.status.set("%s: benchmarks%s, %d lines of output, %s", g.mode, round, lines, time.Since(start).Round(time.Second))
		if rerr != nil {
			break
		}
	}
	return cmd.Wait()
}

// benchLine is one result line of `go test -bench` output:
//
//	BenchmarkGemmF64/impl=c-avx512/n=256-2   100   421000 ns/op   79.7 GFLOP/s
type benchLine struct {
	Family  string             `json:"family"`  // GemmF64
	Params  map[string]string  `json:"params"`  // impl=c-avx512, n=256
	Path    string             `json:"path"`    // impl=c-avx512/n=256, as written
	Iters   int64              `json:"iters"`   // b.N
	Metrics map[string]float64 `json:"metrics"` // unit → value: ns/op, GFLOP/s, …
}

// procsSuffix is the -GOMAXPROCS suffix go test adds to every name.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseBenchLine parses one line; ok is false for anything else (headers,
// PASS, log output).
func parseBenchLine(line string) (benchLine, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return benchLine{}, false
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return benchLine{}, false
	}
	name := procsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
	family, path, _ := strings.Cut(name, "/")
	b := benchLine{Family: family, Path: path, Params: map[string]string{}, Iters: iters, Metrics: map[string]float64{}}
	for _, part := range strings.Split(path, "/") {
		if k, v, ok := strings.Cut(part, "="); ok {
			b.Params[k] = v
		} else if part != "" {
			b.Params[part] = ""
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return benchLine{}, false
		}
		b.Metrics[f[i+1]] = v
	}
	return b, true
}

// parseBench reads every result line of go test -bench output.
func parseBench(r io.Reader) ([]benchLine, error) {
	var out []benchLine
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if b, ok := parseBenchLine(sc.Text()); ok {
			out = append(out, b)
		}
	}
	return out, sc.Err()
}

// rateUnits are the metrics that say how fast a kernel goes, best first:
// a family's table shows the first one its lines report, else ns/op.
var rateUnits = []string{"GFLOP/s", "GB/s", "Giter/s", "Melem/s"}

// mainUnit picks the unit a family's table shows.
func mainUnit(lines []benchLine) string {
	for _, u := range rateUnits {
		for _, l := range lines {
			if _, ok := l.Metrics[u]; ok {
				return u
			}
		}
	}
	return "ns/op"
}

// benchCell is the median and spread of one benchmark over its -count runs.
type benchCell struct {
	Median, Min, Max float64
	Runs             int
}

// collect groups lines by family, then by their path, and summarises the
// values of unit over the repeated runs.
func collect(lines []benchLine, family, unit string) map[string]benchCell {
	vals := map[string][]float64{}
	for _, l := range lines {
		if v, ok := l.Metrics[unit]; ok && l.Family == family {
			vals[l.Path] = append(vals[l.Path], v)
		}
	}
	out := map[string]benchCell{}
	for p, vs := range vals {
		slices.Sort(vs)
		out[p] = benchCell{Median: median(vs), Min: vs[0], Max: vs[len(vs)-1], Runs: len(vs)}
	}
	return out
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
