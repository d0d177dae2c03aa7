package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/shm"
)

// Server serves the crunch protocol on /v1/ws, /healthz, and /metrics in
// Prometheus's text format.
type Server struct {
	cfg      Config
	http     *fasthttp.Server
	upgrader websocket.FastHTTPUpgrader

	mu       sync.Mutex
	sessions map[*session]struct{}
	draining bool
	ln       net.Listener
	unixPath string        // the Unix socket served, if any
	nextID   atomic.Uint64 // numbers sessions, which are the executors' tenants
	conns    atomic.Int64  // upgraded connections (MaxConns)
	inflight atomic.Int64  // compute requests in flight on every connection (MaxTotal)
	// large holds a token per large message being read or answered
	// (MaxLarge); largeWaits counts the messages that waited for one.
	large      chan struct{}
	largeWaits atomic.Int64
	// largeRefused counts the large messages refused after LargeWait.
	largeRefused atomic.Int64
	metrics      *metrics
	auth         *auth        // nil: no token asked for
	shm          shmTotals    // shared memory mapped by every connection
	bufs         *msgbuf.Pool // large messages are read into these, off the Go heap
	started      time.Time
	answered     atomic.Int64 // compute requests answered, for /v1/status
	failed       atomic.Int64 // of which failed
	mem          reclaimState // memory given back after bursts (reclaim.go)

	// stop ends every session's context when the server shuts down.
	stop context.Context
	halt context.CancelCauseFunc
}

// New returns a server for cfg; Serve or ListenAndServe starts it.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Executors) == 0 {
		return nil, errors.New("server: no executors configured")
	}
	s := &Server{cfg: cfg, sessions: make(map[*session]struct{}), large: make(chan struct{}, cfg.MaxLarge)}
	// Idle buffers are kept for reuse up to the large messages the server
	// holds at once, and unmapped after a few idle seconds.
	s.bufs = msgbuf.New(int64(cfg.MaxLarge)*(16<<20), 5*time.Second)
	s.metrics = newMetrics(s)
	if cfg.Token != "" {
		s.auth = newAuth(cfg.Token)
	}
	s.started = time.Now()
	s.stop, s.halt = context.WithCancelCause(context.Background())
	s.upgrader = websocket.FastHTTPUpgrader{
		// Small: fasthttp's own 4 KiB reader sits under this one, and the
		// large reads of big messages (wire.ReadAll reads 256 KiB chunks,
		// or the rest of a binary message at once) pass straight through
		// both, so more would only cost every idle connection memory.
		ReadBufferSize:  512,
		WriteBufferSize: 64 << 10,
		// One pool for all connections: an idle connection then holds no
		// write buffer.
		WriteBufferPool: &sync.Pool{},
		// The default same-origin check stays: a page on another site must
		// not drive a local compute server with the user's browser.
		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			handshakeError(ctx, status, reason.Error())
		},
	}
	s.http = &fasthttp.Server{
		Handler:            s.route,
		Name:               "crunch",
		ReadTimeout:        30 * time.Second, // the HTTP part only; sessions set their own deadlines
		WriteTimeout:       30 * time.Second,
		IdleTimeout:        60 * time.Second,
		MaxRequestBodySize: 1 << 20,
		// fasthttp keeps an idle worker goroutine per past connection for
		// this long (default 10 s); WebSocket connections hand theirs
		// back at once, so a burst of them would leave thousands idle.
		MaxIdleWorkerDuration: 2 * time.Second,
		// Upgraded connections are the sessions' to close (serveSession),
		// so that their handlers need not outlive the upgrade.
		KeepHijackedConns: true,
		Logger:            fasthttpLogger{cfg.Log},
	}
	return s, nil
}

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// ListenAndServe listens on cfg.Addr, and on cfg.Unix if set, and serves
// until Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.Unix == "" {
		return s.Serve(ln)
	}
	uln, err := shm.Listen(s.cfg.Unix)
	if err != nil {
		ln.Close()
		return fmt.Errorf("server: listen on Unix socket %s: %w", s.cfg.Unix, err)
	}
	errc := make(chan error, 2)
	go func() { errc <- s.ServeUnix(uln) }()
	go func() { errc <- s.Serve(ln) }()
	err = <-errc
	if err != nil { // one failed: stop the other too
		s.http.Shutdown()
	}
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

// ServeUnix serves on a Unix socket listener from shm.Listen until
// Shutdown: connections over it may use shared memory.
func (s *Server) ServeUnix(ln shm.Listener) error {
	s.mu.Lock()
	s.unixPath = ln.Addr().String()
	s.mu.Unlock()
	s.mem.start.Do(func() { go s.reclaimer(s.stop) })
	s.cfg.Log.Info("serving", "unix", ln.Addr().String())
	return s.http.Serve(ln)
}

// Serve serves on ln, over TLS when the Config has TLS, until Shutdown.
// It returns nil after a Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.mem.start.Do(func() { go s.reclaimer(s.stop) })
	if s.cfg.TLS != nil {
		tc := s.cfg.TLS.Clone()
		tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
		tc.NextProtos = []string{"http/1.1"} // WebSocket upgrades need HTTP/1.1
		ln = tls.NewListener(ln, tc)
	}
	s.cfg.Log.Info("serving", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil, "token", s.auth != nil)
	return s.http.Serve(ln)
}

// Addr returns the address the server listens on, once Serve has started.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// UnixPath returns the path of the Unix socket served, or "".
func (s *Server) UnixPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unixPath
}

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path != "/healthz" && !s.authorize(ctx) {
		return
	}
	switch path {
	case "/v1/ws":
		s.serveWebSocket(ctx)
	case "/metrics":
		s.metrics.handler(ctx)
	case "/healthz":
		ctx.SetContentType("text/plain; charset=utf-8")
		if s.isDraining() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("draining\n")
			return
		}
		ctx.SetBodyString("ok\n")
	default:
		if !s.serveStatic(ctx, string(ctx.Path())) {
			ctx.Error("not found", fasthttp.StatusNotFound)
		}
	}
}

// Connections returns the number of open WebSocket connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) serveWebSocket(ctx *fasthttp.RequestCtx) {
	if s.isDraining() {
		ctx.Error("server shutting down", fasthttp.StatusServiceUnavailable)
		return
	}
	remote := ctx.RemoteAddr().String() // copied now: ctx must not be used after the upgrade
	// A connection over the Unix socket is ours (shm.Listener made it): it
	// lives on after the upgrade, and collects the descriptors a client
	// sends for shared memory.
	fdc, _ := ctx.Conn().(*shm.FDConn)
	if fdc != nil {
		remote = "unix"
	}
	// Counted by the upgraded connection itself: fasthttp runs it after
	// this handler returns, and not at all if the 101 response fails. A
	// burst of simultaneous upgrades may overshoot the cap by the upgrades
	// in progress.
	if s.conns.Load() >= int64(s.cfg.MaxConns) {
		ctx.Error(fmt.Sprintf("too many connections (%d, --max-conns)", s.cfg.MaxConns), fasthttp.StatusServiceUnavailable)
		ctx.Response.Header.Set("Retry-After", "1") // after Error, which resets the headers
		s.cfg.Log.Warn("connection refused: too many connections", "remote", remote, "max_conns", s.cfg.MaxConns)
		return
	}
	if !checkHandshake(ctx) {
		s.cfg.Log.Debug("websocket upgrade refused", "remote", remote, "status", ctx.Response.StatusCode())
		return
	}
	err := s.upgrader.Upgrade(ctx, func(conn *websocket.Conn) {
		// fasthttp leaves the connection to us (KeepHijackedConns): the
		// session runs in a goroutine of its own, which closes it, and this
		// returns at once, so that fasthttp takes back the request's
		// context, which would otherwise stay with the connection.
		s.conns.Add(1)
		go s.serveSession(conn, remote, fdc)
	})
	if err != nil {
		s.cfg.Log.Debug("websocket upgrade failed", "remote", remote, "err", err)
	}
}

// serveSession serves an upgraded connection until it closes, and closes
// it once every goroutine using it has ended.
func (s *Server) serveSession(conn *websocket.Conn, remote string, fdc *shm.FDConn) {
	defer s.conns.Add(-1)
	defer conn.Close()
	sess := newSession(s, conn, remote, fdc)
	if !s.track(sess) {
		sess.closeNow(websocket.CloseGoingAway, "server shutting down")
		return
	}
	defer s.untrack(sess)
	sess.run()
}

func (s *Server) track(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.sessions[sess] = struct{}{}
	return true
}

func (s *Server) untrack(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Shutdown drains the server: new connections and requests are refused,
// requests in flight get until ctx ends (or cfg.Grace, whichever is first)
// to finish, then are cancelled; connections close with 1001. The
// executors are not closed: they belong to the caller.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	grace, cancel := context.WithTimeout(ctx, s.cfg.Grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess.drain(grace)
		}()
	}
	wg.Wait()
	s.halt(errShuttingDown)
	if err := s.http.ShutdownWithContext(ctx); err != nil {
		return err
	}
	// Sessions now close themselves. fasthttp does not wait for upgraded
	// connections, which are theirs (KeepHijackedConns): wait here.
	for s.conns.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// fasthttpLogger routes fasthttp's own messages into slog at debug level.
type fasthttpLogger struct {
	log interface{ Debug(string, ...any) }
}

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}

// execNames lists the configured executors, for info and errors.
func (s *Server) execNames() []string {
	var names []string
	for _, n := range append(executor.Names[:len(executor.Names):len(executor.Names)], executor.NameCluster) {
		if _, ok := s.cfg.Executors[n]; ok {
			names = append(names, n)
		}
	}
	return names
}
