package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crunchsvc/crunch/service/spawn"
)

// ServerConfig says how to launch a crunch server.
type ServerConfig struct {
	// Binary is the crunch executable (see Build).
	Binary string
	// Args are flags added after `serve --addr 127.0.0.1:PORT`.
	Args []string
	// Prefix is a command the server runs under, e.g. {"taskset", "-c",
	// "1"} to pin it to CPU 1 (empty: none). It must exec the server, so
	// that the process started is the server.
	Prefix []string
	// StartTimeout bounds the wait for /healthz to answer (default 30 s).
	StartTimeout time.Duration
	// Grace is how long Stop waits after SIGTERM before SIGKILL (default
	// 10 s).
	Grace time.Duration
	// SampleEvery is the interval of the /proc sampler (default 100 ms).
	SampleEvery time.Duration
	// OwnSession starts the server in a session of its own (setsid), as
	// a service is started, rather than in ours: with autogroup
	// scheduling, that is also a scheduling group of its own (see
	// ProbeSpec.OwnSession).
	OwnSession bool
}

// Server is a running server process, `crunch serve` (StartServer) or
// another command (StartCommand), sampled while it runs.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string
	// Args is the server's full command line.
	Args []string

	cmd     *exec.Cmd
	grace   time.Duration
	stderr  *tailBuffer
	sampler *Sampler
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // valid once exited is closed
	stopped sync.Once
	stopErr error
	// companions are servers that belong to this one (the other nodes of
	// a cluster it fronts): Stop stops them first.
	companions []*Server
}

// startAttempts is how often start tries another port when the
// server exits because its port is taken (another process may take the
// free port between the probe and the server's listen).
const startAttempts = 3

// StartServer launches `crunch serve` on a free port of 127.0.0.1 and
// returns once GET /healthz answers 200.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	return start(ctx, launch{
		argv: func(addr string, _ int) []string {
			argv := append(slices.Clone(cfg.Prefix), cfg.Binary, "serve", "--addr", addr)
			return append(argv, cfg.Args...)
		},
		startTimeout: cfg.StartTimeout,
		grace:        cfg.Grace,
		sampleEvery:  cfg.SampleEvery,
		ownSession:   cfg.OwnSession,
	})
}

// launch is what StartServer and StartCommand have in common: how to
// launch a server process on a given port, and how to wait for it.
type launch struct {
	argv         func(addr string, port int) []string // the command line for that address
	dir          string                               // working directory ("": ours)
	env          []string                             // added to our environment
	startTimeout time.Duration
	grace        time.Duration
	sampleEvery  time.Duration
	ownSession   bool // setsid rather than setpgid
}

// start launches l on a free port, retrying on another port when the one
// chosen was taken meanwhile, and waits until the server is healthy.
func start(ctx context.Context, l launch) (*Server, error) {
	if l.startTimeout <= 0 {
		l.startTimeout = 30 * time.Second
	}
	if l.grace <= 0 {
		l.grace = 10 * time.Second
	}
	var err error
	for range startAttempts {
		var s *Server
		s, err = startOnce(ctx, l)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil || !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, err
}

// errExitedEarly marks a server that exited before it was healthy.
var errExitedEarly = errors.New("server exited before it was healthy")

func startOnce(ctx context.Context, l launch) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	argv := l.argv(addr, port)
	s := &Server{
		Addr:   addr,
		Args:   argv,
		cmd:    exec.Command(argv[0], argv[1:]...),
		grace:  l.grace,
		stderr: &tailBuffer{max: 1 << 20}, // room for a goroutine dump
		exited: make(chan struct{}),
	}
	s.cmd.Dir = l.dir
	if len(l.env) > 0 {
		s.cmd.Env = append(os.Environ(), l.env...)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	// Its own process group, so that Stop can kill the workers too; and
	// killed with us if we die first (forked from spawn.Process's thread,
	// so that it is not killed when some other thread of ours exits).
	// A session of its own is a process group of its own too (and
	// setpgid would fail in a session leader).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !l.ownSession, Setsid: l.ownSession, Pdeathsig: syscall.SIGKILL}
	if err := spawn.Process().Start(s.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	s.sampler = StartSampler(s.cmd.Process.Pid, l.sampleEvery)
	if err := s.waitHealthy(ctx, l.startTimeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls /healthz until it answers 200, the process exits, or
// the timeout passes.
func (s *Server) waitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	url := "http://" + s.Addr + "/healthz"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w (%v); its output:\n%s", errExitedEarly, s.waitErr, s.Stderr())
		case <-ctx.Done():
			return fmt.Errorf("server %s: no answer from %s within %v: %w; its output:\n%s",
				s.Addr, url, timeout, ctx.Err(), s.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stderr returns the end of what the server wrote (stdout and stderr).
func (s *Server) Stderr() string { return s.stderr.String() }

// Usage returns what the sampler saw since the start or the last
// ResetUsage.
func (s *Server) Usage() Usage { return s.sampler.Usage() }

// ResetUsage restarts the sampler's maxima.
func (s *Server) ResetUsage() { s.sampler.Reset() }

// Alive reports an error if the server has exited.
func (s *Server) Alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("server %s exited (%v); its output:\n%s", s.Addr, s.waitErr, s.Stderr())
	default:
		return nil
	}
}

// Stop sends SIGTERM, waits up to the grace period, then kills the
// server's process group. It returns an error when the server did not exit
// cleanly on SIGTERM, with its output. It may be called more than once.
// Its companions are stopped first.
func (s *Server) Stop() error {
	s.stopped.Do(func() {
		var errs []error
		for _, c := range s.companions {
			errs = append(errs, c.Stop())
		}
		s.stopErr = errors.Join(append(errs, s.stop())...)
	})
	return s.stopErr
}

// AddCompanion makes c belong to s: s.Stop stops c too, before s.
func (s *Server) AddCompanion(c *Server) { s.companions = append(s.companions, c) }

// CompanionAddrs returns the addresses of s's companions.
func (s *Server) CompanionAddrs() []string {
	var out []string
	for _, c := range s.companions {
		out = append(out, c.Addr)
	}
	return out
}

func (s *Server) stop() error {
	defer s.sampler.Stop()
	pid := s.cmd.Process.Pid
	select {
	case <-s.exited:
		return s.exitError("before it was stopped")
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping server %d: %w", pid, err)
	}
	grace := s.grace
	select {
	case <-s.exited:
		syscall.Kill(-pid, syscall.SIGKILL) // workers left behind, if any
		return s.exitError("after SIGTERM")
	case <-time.After(grace):
	}
	// Where its threads (and its children's) are, then every goroutine's
	// stack, which a Go server prints on SIGQUIT.
	threads := ThreadStates(pid)
	syscall.Kill(pid, syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(2 * time.Second):
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	<-s.exited
	return fmt.Errorf("server %s did not stop within %v of SIGTERM; killed (after SIGQUIT, for a Go server's stacks). Its threads then:\n%sIts output:\n%s",
		s.Addr, grace, threads, s.Stderr())
}

// exitError is nil for a clean exit, else the exit status and the output.
func (s *Server) exitError(when string) error {
	if s.waitErr == nil {
		return nil
	}
	return fmt.Errorf("server %s exited %s: %w; its output:\n%s", s.Addr, when, s.waitErr, s.Stderr())
}

// tailBuffer is an io.Writer keeping the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.cut = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimRight(string(b.buf), "\n")
	if b.cut {
		return "[…]" + s
	}
	return s
}
