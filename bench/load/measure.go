package load

import (
	"context"
	"fmt"
	"os"
	"time"
)

// MeasureConfig describes one measured run against a launched server.
type MeasureConfig struct {
	// Load is the load to run; its Addr is set to the server's.
	Load LoadConfig
	// Probe configures the probe; its Addr is set to the server's.
	Probe ProbeConfig
	// NoProbe runs the load alone.
	NoProbe bool
	// ProbeCommand, when set, runs the probe in a process of its own
	// started with this command, a program whose main returns
	// ProbeChildMain's exit code when IsProbeChild: then the round trips
	// carry neither the load's garbage collection pauses nor its
	// goroutines' turns, only the server's (and the machine's).
	ProbeCommand []string
	// Probes, when not empty, are the run's probes instead of the one
	// above: all ping at once, each with Probe's settings, and each has
	// its result in Result.Probes (the first that runs also in
	// Result.Probe).
	Probes []ProbeSpec
	// Status, when set, is called about every StatusEvery (default
	// 250 ms) while the run lasts, from a single goroutine.
	Status      func(Status)
	StatusEvery time.Duration
}

// ProbeSpec is one probe of a run with several (MeasureConfig.Probes).
type ProbeSpec struct {
	// Name tells its result apart, e.g. "go" or "python".
	Name string `json:"name"`
	// Command, when set, runs the probe in a process of its own started
	// with this command, a program that speaks the probe process protocol
	// (see ProbeChildMain; PythonProbe gives one in Python); otherwise the
	// probe runs in this process.
	Command []string `json:"command,omitempty"`
	// Env holds KEY=value pairs added to the process's environment.
	Env []string `json:"env,omitempty"`
	// OwnSession starts the process in a session of its own (setsid).
	// With autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled)
	// every session is a scheduling group of its own, which the kernel
	// weighs against the others before it looks at the threads inside:
	// a probe in the server's session is in the server's group, one in a
	// session of its own competes with the server's group as a client
	// started apart from the server does.
	OwnSession bool `json:"own_session"`
	// NotRun, when not empty, says why this probe cannot run (say, no
	// Python with NumPy); it is reported as such and not started.
	NotRun string `json:"not_run,omitempty"`
}

// ProbeRun is what became of one of MeasureConfig.Probes.
type ProbeRun struct {
	Name   string `json:"name"`
	NotRun string `json:"not_run,omitempty"` // as the ProbeSpec said
	// Group is where the kernel's scheduler put the probe's process: its
	// session, autogroup and cpu cgroup (see SchedGroupOf).
	Group  SchedGroup   `json:"group"`
	Result *ProbeResult `json:"result,omitempty"`
}

// Status is a snapshot of a run in progress, for a progress line.
type Status struct {
	Phase    string        // "warm-up", "measure" or "drain"
	Elapsed  time.Duration // since the measured window started (negative in the warm-up)
	Window   time.Duration // the measured window's length
	OK       int64         // requests completed in the window so far
	Failed   int64
	Pings    int64 // probe pings sent, answered and lost so far
	Answered int64
	Lost     int64
}

// Result is one measured run: the load, the probe, and the server's size.
// Durations are in milliseconds (suffix _ms), sizes in bytes (_bytes),
// rates per second (_per_s).
type Result struct {
	ServerArgs []string     `json:"server_args"`
	Load       LoadResult   `json:"load"`
	Probe      *ProbeResult `json:"probe,omitempty"`
	// Probes has the result of each of MeasureConfig.Probes, in order.
	Probes []ProbeRun `json:"probes,omitempty"`
	// ServerGroup is where the kernel's scheduler put the server process.
	ServerGroup SchedGroup `json:"server_group"`
	// Server is the server process's threads and RSS during the run
	// (warm-up included), and its children's (subprocess workers).
	Server Usage `json:"server"`
}

// Windows returns a Result per measured window of the run (one, r itself,
// unless LoadConfig.Windows was above 1): each with that window's load and
// probe figures, the run's server usage, and no connection failures or
// unfinished calls, which belong to the whole run.
func (r Result) Windows() []Result {
	if len(r.Load.Windows) == 0 {
		return []Result{r}
	}
	out := make([]Result, len(r.Load.Windows))
	for i, lw := range r.Load.Windows {
		out[i] = Result{ServerArgs: r.ServerArgs, Load: lw, Server: r.Server, ServerGroup: r.ServerGroup}
		out[i].Probe = probeWindow(r.Probe, i)
		for _, pr := range r.Probes {
			pr.Result = probeWindow(pr.Result, i)
			out[i].Probes = append(out[i].Probes, pr)
		}
	}
	return out
}

// probeWindow returns window i of p, or nil.
func probeWindow(p *ProbeResult, i int) *ProbeResult {
	if p == nil || i >= len(p.Windows) {
		return nil
	}
	w := p.Windows[i]
	return &w
}

// Measure runs cfg's load against srv with the probe pinging during the
// measured window, and samples srv's threads and memory meanwhile.
func Measure(ctx context.Context, srv *Server, cfg MeasureConfig) (Result, error) {
	cfg.Load.Addr, cfg.Probe.Addr = srv.Addr, srv.Addr
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = 250 * time.Millisecond
	}
	specs := cfg.Probes
	switch {
	case len(specs) > 0:
	case cfg.NoProbe:
	case len(cfg.ProbeCommand) > 0:
		specs = []ProbeSpec{{Name: "probe", Command: cfg.ProbeCommand}}
	default:
		specs = []ProbeSpec{{Name: "probe"}}
	}
	// Dialled before the load starts: idle connections that are already
	// open, as a user's would be.
	probes := make([]prober, len(specs))
	for i, spec := range specs {
		if spec.NotRun != "" {
			continue
		}
		var err error
		if len(spec.Command) > 0 {
			probes[i], err = startProbeProcess(ctx, spec, cfg.Probe)
		} else {
			probes[i], err = DialProbe(ctx, cfg.Probe)
		}
		if err != nil {
			return Result{}, fmt.Errorf("probe %s: %w", spec.Name, err)
		}
		defer probes[i].Close()
	}
	runs := make([]ProbeRun, len(specs))
	for i, spec := range specs {
		runs[i] = ProbeRun{Name: spec.Name, NotRun: spec.NotRun}
		switch p := probes[i].(type) {
		case *probeProcess:
			runs[i].Group = SchedGroupOf(p.PID())
		case *Probe:
			runs[i].Group = SchedGroupOf(os.Getpid())
		}
	}
	srv.ResetUsage()
	l, err := StartLoad(ctx, cfg.Load)
	if err != nil {
		return Result{}, err
	}
	probed := make([]chan ProbeResult, len(probes))
	for i, p := range probes {
		if p != nil {
			probed[i] = make(chan ProbeResult, 1)
			go func() { probed[i] <- p.Run(ctx, l.MeasureStart, l.End, cfg.Load.Windows) }()
		}
	}
	loaded := make(chan LoadResult, 1)
	go func() { loaded <- l.Wait() }()

	tick := time.NewTicker(cfg.StatusEvery)
	defer tick.Stop()
	var lr LoadResult
wait:
	for {
		select {
		case lr = <-loaded:
			break wait
		case now := <-tick.C:
			if cfg.Status != nil {
				cfg.Status(status(now, l, probes))
			}
		}
	}
	res := Result{ServerArgs: srv.Args, Load: lr, Server: srv.Usage(), ServerGroup: SchedGroupOf(srv.PID())}
	for i, ch := range probed {
		if ch == nil {
			continue
		}
		pr := <-ch
		runs[i].Result = &pr
		if res.Probe == nil {
			res.Probe = &pr
		}
	}
	if len(cfg.Probes) > 0 {
		res.Probes = runs
	}
	if err := srv.Alive(); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// prober is a probe in this process (*Probe) or in its own.
type prober interface {
	Run(ctx context.Context, from, until time.Time, windows int) ProbeResult
	Progress() (sent, answered, lost int64)
	Close()
}

// status is the run's progress; the pings are those of every probe.
func status(now time.Time, l *Load, probes []prober) Status {
	s := Status{Elapsed: now.Sub(l.MeasureStart), Window: l.End.Sub(l.MeasureStart)}
	switch {
	case now.Before(l.MeasureStart):
		s.Phase = "warm-up"
	case now.Before(l.End):
		s.Phase = "measure"
	default:
		s.Phase = "drain"
	}
	s.OK, s.Failed = l.Progress()
	for _, p := range probes {
		if p != nil {
			sent, answered, lost := p.Progress()
			s.Pings, s.Answered, s.Lost = s.Pings+sent, s.Answered+answered, s.Lost+lost
		}
	}
	return s
}
