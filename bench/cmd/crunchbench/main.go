// Command crunchbench measures a crunch server end to end, from the outside:
// it builds cmd/crunch, launches `crunch serve` as a separate process for
// every case and drives it over WebSocket with package bench/load.
//
// Run it from the repository (the go command must find the module):
//
//	go run ./bench/cmd/crunchbench -only responsive              # full: 5 reps of 5 s per case
//	go run ./bench/cmd/crunchbench -only responsive -quick       # 1 rep of 2 s per case
//	go run ./bench/cmd/crunchbench -only responsive -json out.json
//	go run ./bench/cmd/crunchbench -only profile -profile-out profile.json
//	go run ./bench/cmd/crunchbench -only threads -kernels-tags openblas,fftw
//
// It prints a Markdown report on stdout (the command line and the machine
// first), a status line on stderr while it works, and, with -json, the raw
// results of every run. Each mode is one file of this package; a mode
// measures and reports, and returns what goes into the JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
)

// mode is one kind of measurement.
type mode struct {
	name string
	doc  string
	run  func(ctx context.Context, e *env) (any, error)
}

// modes lists every mode in the order they run when -only is not given.
var modes = []mode{
	{"kernels", "the Go micro-benchmarks of package bench (kernels per SIMD path against Go/gonum/OpenBLAS/FFTW, dispatch, transfer), tabulated", runKernels},
	{"threads", "one request on 1 thread and on all, per op (BenchmarkThreads), beside OpenBLAS's gemm and FFTW's fft on as many threads when installed", runThreads},
	{"profile", "the fastest executor per op and size, one call at a time; builds the exec profile (-profile-out)", runProfile},
	{"responsive", "ping round trips on an idle connection while every executor slot runs long jobs, per exec and compute priority", runResponsive},
	{"python", "large calls from Python (clients/python/bench_crunch.py) through shared memory and over TCP, each beside NumPy in-process", runPython},
	{"cluster", "nodes 1, 2, 3 on this machine, each on a CPU of its own, sharing work through NATS: calls/s per node count, and what the cluster path adds to a tiny call", runCluster},
	{"e2e", "closed-loop load over WebSocket from K connections per system (crunch per exec, the FastAPI comparison server) and workload, with the probe; plots with -plots", runE2E},
}

// Flags shared by every mode.
var (
	only          = flag.String("only", "", "comma-separated modes to run (default: all)")
	quick         = flag.Bool("quick", false, "a quick look: 1 rep and 2 s per case, unless -reps or -duration are given")
	full          = flag.Bool("full", false, "a long look: the e2e mode's whole matrix with 2 s windows, whatever the time")
	reps          = flag.Int("reps", 5, "repetitions of each case; the report gives medians and min–max")
	duration      = flag.Duration("duration", 5*time.Second, "measured window of each run")
	warmup        = flag.Duration("warmup", time.Second, "load before the measured window of each run")
	conns         = flag.Int("conns", 8, "load connections")
	inflight      = flag.Int("inflight", 1, "requests in flight per load connection")
	probeInterval = flag.Duration("probe-interval", 10*time.Millisecond, "the probe sends a ping this often")
	probeTimeout  = flag.Duration("probe-timeout", time.Second, "a ping unanswered this long is lost")
	probeOwn      = flag.Bool("probe-process", true, "run the probe in a process of its own, so that its round trips do not carry the load generator's pauses")
	serveFlags    = flag.String("serve-flags", "", "extra flags for every crunch server, space-separated (e.g. \"--pool-workers 4\")")
	jsonOut       = flag.String("json", "", "write the raw results as JSON to this file")
)

// env is what a mode works with.
type env struct {
	bin     string        // the crunch binary
	out     io.Writer     // the report
	status  *statusLine   // progress, on stderr
	machine machineInfo   // where it runs
	command string        // the command line, as typed
	reps    int           // after -quick
	window  time.Duration // after -quick
	warmup  time.Duration // after -quick
}

// serverConfig is the launcher's configuration with -serve-flags and extra
// flags after them.
func (e *env) serverConfig(extra ...string) load.ServerConfig {
	args := append(strings.Fields(*serveFlags), extra...)
	return load.ServerConfig{Binary: e.bin, Args: args}
}

func main() {
	if load.IsProbeChild() { // started by itself to run a probe
		os.Exit(load.ProbeChildMain())
	}
	flag.Usage = usage
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "crunchbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: crunchbench [flags]\n\nmodes (-only):\n")
	for _, m := range modes {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", m.name, m.doc)
	}
	fmt.Fprintf(os.Stderr, "\nflags:\n")
	flag.PrintDefaults()
}

func run(ctx context.Context) error {
	selected, err := selectModes(*only)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	files, err := planResults(host, time.Now())
	if err != nil {
		return err
	}
	out, closeReport, err := teeReport(files.Report)
	if err != nil {
		return err
	}
	defer closeReport()
	e := &env{
		out: out, status: newStatusLine(os.Stderr), command: commandLine(),
		reps: *reps, window: *duration, warmup: *warmup,
	}
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["reps"] {
			e.reps = 1
		}
		if !set["duration"] {
			e.window = 2 * time.Second
		}
		if !set["warmup"] {
			e.warmup = 500 * time.Millisecond
		}
	}
	if e.reps < 1 || e.window <= 0 || *conns < 1 || *inflight < 1 {
		return errors.New("-reps, -duration, -conns and -inflight must be positive")
	}
	e.machine = readMachineInfo()

	dir, err := os.MkdirTemp("", "crunchbench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	e.status.set("building cmd/crunch …")
	if e.bin, err = load.Build(ctx, dir); err != nil {
		return err
	}
	e.status.clear()

	fmt.Fprintf(e.out, "# crunchbench\n\n")
	fmt.Fprintf(e.out, "Command: `%s`\n\n", e.command)
	e.machine.write(e.out)

	report := map[string]any{"command": e.command, "machine": e.machine, "started": time.Now().UTC().Format(time.RFC3339)}
	results := map[string]any{}
	report["modes"] = results
	var failed []string
	for _, m := range selected {
		res, err := m.run(ctx, e)
		e.status.clear()
		if res != nil {
			results[m.name] = res
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", m.name, err))
			fmt.Fprintf(e.out, "\n**%s failed**: %v\n", m.name, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if *jsonOut != "" {
		data, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the results: %w", err)
		}
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing the results: %w", err)
		}
		fmt.Fprintf(os.Stderr, "raw results written to %s\n", *jsonOut)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return ctx.Err()
}

// selectModes resolves -only.
func selectModes(list string) ([]mode, error) {
	if list == "" {
		return modes, nil
	}
	var out []mode
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(modes, func(m mode) bool { return m.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("-only: unknown mode %q (run with -h for the list)", name)
		}
		out = append(out, modes[i])
	}
	return out, nil
}

// commandLine returns the command as it was typed, arguments quoted where
// the shell would need it.
func commandLine() string {
	words := []string{"crunchbench"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
