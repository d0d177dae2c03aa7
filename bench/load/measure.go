package load

import (
	"context"
	"fmt"
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
	// Status, when set, is called about every StatusEvery (default
	// 250 ms) while the run lasts, from a single goroutine.
	Status      func(Status)
	StatusEvery time.Duration
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
		out[i] = Result{ServerArgs: r.ServerArgs, Load: lw, Server: r.Server}
		if r.Probe != nil && i < len(r.Probe.Windows) {
			pw := r.Probe.Windows[i]
			out[i].Probe = &pw
		}
	}
	return out
}

// Measure runs cfg's load against srv with the probe pinging during the
// measured window, and samples srv's threads and memory meanwhile.
func Measure(ctx context.Context, srv *Server, cfg MeasureConfig) (Result, error) {
	cfg.Load.Addr, cfg.Probe.Addr = srv.Addr, srv.Addr
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = 250 * time.Millisecond
	}
	var probe prober
	if !cfg.NoProbe {
		var err error
		// Dialled before the load starts: an idle connection that is
		// already open, as a user's would be.
		if len(cfg.ProbeCommand) > 0 {
			probe, err = startProbeProcess(ctx, cfg.ProbeCommand, cfg.Probe)
		} else {
			probe, err = DialProbe(ctx, cfg.Probe)
		}
		if err != nil {
			return Result{}, fmt.Errorf("probe: %w", err)
		}
		defer probe.Close()
	}
	srv.ResetUsage()
	l, err := StartLoad(ctx, cfg.Load)
	if err != nil {
		return Result{}, err
	}
	probed := make(chan ProbeResult, 1)
	if probe != nil {
		go func() { probed <- probe.Run(ctx, l.MeasureStart, l.End, cfg.Load.Windows) }()
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
				cfg.Status(status(now, l, probe))
			}
		}
	}
	res := Result{ServerArgs: srv.Args, Load: lr, Server: srv.Usage()}
	if probe != nil {
		pr := <-probed
		res.Probe = &pr
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

func status(now time.Time, l *Load, p prober) Status {
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
	if p != nil {
		s.Pings, s.Answered, s.Lost = p.Progress()
	}
	return s
}
