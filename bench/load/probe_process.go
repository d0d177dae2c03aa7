package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A probe in a process of its own sees the server as any other client
// does: in the load's process, its round trips would also carry the
// load's garbage collection pauses (which grow with the messages the load
// moves) and the load's goroutines ahead of it in the scheduler.

// probeChildEnv, set to "1", tells a process that a parent started it to
// run a probe (see IsProbeChild).
const probeChildEnv = "CRUNCH_LOAD_PROBE_CHILD"

// IsProbeChild reports whether this process was started by Measure to run
// a probe; its main function must then return ProbeChildMain's exit code.
func IsProbeChild() bool { return os.Getenv(probeChildEnv) == "1" }

// The line protocol of a probe process, which this package's Go probe
// (ProbeChildMain) and pyprobe.py beside this file speak: the parent
// writes two JSON lines on the child's stdin, the ProbeConfig (Addr, and
// Interval and Timeout in nanoseconds), then, once the child has answered
// {"ready":true} (or {"error":"…"}), the probeSchedule. The child pings
// from FromNS until UntilNS, writing {"progress":[sent,answered,lost]} now
// and then, and last {"result":ProbeResult} or {"pings":probePings}: the
// fate of every ping, which the parent sums up with the very code that
// sums up its own probe's. Closing its stdin stops the child.
type probeSchedule struct {
	FromNS, UntilNS int64 // Unix nanoseconds
	Windows         int
}

// probeReport is one line a probe process writes on its stdout.
type probeReport struct {
	Ready    bool         `json:"ready,omitempty"`
	Progress *[3]int64    `json:"progress,omitempty"` // sent, answered, lost
	Result   *ProbeResult `json:"result,omitempty"`
	Pings    *probePings  `json:"pings,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// probePings is the last report of a probe process that leaves the summing
// up to its parent.
type probePings struct {
	Fates          []probeFate  `json:"fates"`
	AbnormalCloses int64        `json:"abnormal_closes"`
	ConnErrors     []ErrorCount `json:"conn_errors,omitempty"`
}

// probeFate is one ping in probePings.
type probeFate struct {
	SentNS int64  `json:"sent_ns"` // when it was due, Unix nanoseconds
	RTTNS  int64  `json:"rtt_ns"`  // its round trip, when answered
	Lost   bool   `json:"lost,omitempty"`
	Code   string `json:"code,omitempty"` // the error reply's code, if any
}

// result sums up the pings' fates as a ProbeResult.
func (pp *probePings) result(cfg ProbeConfig, from, until time.Time, windows int) ProbeResult {
	fates := make([]pingFate, len(pp.Fates))
	for i, f := range pp.Fates {
		fates[i] = pingFate{sent: time.Unix(0, f.SentNS), rtt: time.Duration(f.RTTNS), lost: f.Lost, code: f.Code}
	}
	r := summarizePings(cfg, fates, from, until, windows)
	r.AbnormalCloses, r.ConnErrors = pp.AbnormalCloses, pp.ConnErrors
	return r
}

// ProbeChildMain runs the probe its parent orders on stdin and reports on
// stdout; it returns the process's exit code. The probe stops when stdin
// closes (the parent gave up or died).
func ProbeChildMain() int {
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	report := func(r probeReport) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(r)
	}
	fail := func(err error) int { report(probeReport{Error: err.Error()}); return 1 }
	dec := json.NewDecoder(os.Stdin)
	var cfg ProbeConfig
	if err := dec.Decode(&cfg); err != nil {
		return fail(fmt.Errorf("probe process: reading the configuration: %w", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := DialProbe(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	report(probeReport{Ready: true})
	var s probeSchedule
	if err := dec.Decode(&s); err != nil {
		return fail(fmt.Errorf("probe process: reading the schedule: %w", err))
	}
	go func() { // the parent closes stdin to stop the probe
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sent, answered, lost := p.Progress()
				report(probeReport{Progress: &[3]int64{sent, answered, lost}})
			}
		}
	}()
	res := p.Run(ctx, time.Unix(0, s.FromNS), time.Unix(0, s.UntilNS), s.Windows)
	report(probeReport{Result: &res})
	return 0
}

// probeProcess is a probe running in a child process.
type probeProcess struct {
	cfg      ProbeConfig
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	reports  chan probeReport // the last report: the result or an error
	progress [3]atomic.Int64
	exited   chan struct{} // closed once the child has been waited for
}

// startProbeProcess starts spec's command (a program that speaks the probe
// process protocol) and waits until its probe has dialled the server.
func startProbeProcess(ctx context.Context, spec ProbeSpec, cfg ProbeConfig) (*probeProcess, error) {
	command := spec.Command
	if len(command) == 0 {
		return nil, errors.New("probe process: no command")
	}
	cfg = cfg.withDefaults()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(append(os.Environ(), spec.Env...), probeChildEnv+"=1")
	cmd.Stderr = os.Stderr
	// With autogroup scheduling a session is also a scheduling group:
	// one of its own puts the probe beside the server as a client started
	// apart from it is, not in the same group as the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: spec.OwnSession}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("probe process: %w", err)
	}
	pp := &probeProcess{cfg: cfg, cmd: cmd, stdin: stdin, reports: make(chan probeReport, 1), exited: make(chan struct{})}
	ready := make(chan probeReport, 1)
	go pp.read(stdout, ready)
	if err := json.NewEncoder(stdin).Encode(cfg); err != nil {
		pp.Close()
		return nil, fmt.Errorf("probe process: %w", err)
	}
	select {
	case r := <-ready:
		if !r.Ready {
			pp.Close()
			return nil, fmt.Errorf("probe process: %s", r.Error)
		}
		return pp, nil
	case <-ctx.Done():
		pp.Close()
		return nil, ctx.Err()
	}
}

// read follows the child's reports: the first goes to ready, progress to
// the counters, the last to reports.
func (pp *probeProcess) read(stdout io.Reader, ready chan<- probeReport) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	first := true
	var last probeReport
	for sc.Scan() {
		var r probeReport
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			r = probeReport{Error: fmt.Sprintf("unreadable report %q", sc.Text())}
		}
		switch {
		case first:
			first = false
			ready <- r
		case r.Progress != nil:
			for i, v := range r.Progress {
				pp.progress[i].Store(v)
			}
		default:
			last = r
		}
	}
	if first {
		ready <- probeReport{Error: "exited before dialling"}
	}
	err := pp.cmd.Wait()
	if last.Result == nil && last.Pings == nil && last.Error == "" {
		last.Error = fmt.Sprintf("probe process ended without a result (%v)", err)
	}
	pp.reports <- last
	close(pp.exited)
}

// Run sends the schedule and waits for the child's result.
func (pp *probeProcess) Run(ctx context.Context, from, until time.Time, windows int) ProbeResult {
	json.NewEncoder(pp.stdin).Encode(probeSchedule{FromNS: from.UnixNano(), UntilNS: until.UnixNano(), Windows: windows})
	stop := context.AfterFunc(ctx, func() { pp.stdin.Close() })
	defer stop()
	r := <-pp.reports
	switch {
	case r.Result != nil:
		return *r.Result
	case r.Pings != nil:
		return r.Pings.result(pp.cfg, from, until, windows)
	}
	return ProbeResult{ConnErrors: []ErrorCount{{Message: r.Error, Count: 1}}}
}

// PID is the child's process id.
func (pp *probeProcess) PID() int { return pp.cmd.Process.Pid }

// Progress returns the pings sent, answered and lost so far, as last
// reported.
func (pp *probeProcess) Progress() (sent, answered, lost int64) {
	return pp.progress[0].Load(), pp.progress[1].Load(), pp.progress[2].Load()
}

// Close stops the child (closing its stdin) and waits for it.
func (pp *probeProcess) Close() {
	pp.stdin.Close()
	select {
	case <-pp.exited:
	case <-time.After(5 * time.Second):
		pp.cmd.Process.Kill()
		<-pp.exited
	}
}
