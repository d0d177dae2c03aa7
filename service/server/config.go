// Package server is crunch's WebSocket service: fasthttp and
// fasthttp/websocket in front, the kernel registry and the executors
// behind. One reader goroutine per connection, and a writer goroutine
// while there is something to write to it; every request runs in its own
// goroutine on the executor it chose, so the reader is always free to
// answer pings.
package server

import (
	"cmp"
	"crypto/tls"
	"log/slog"
	"runtime"
	"time"

	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/profile"
)

// Config is everything a Server needs. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	Addr string // host:port to listen on
	// Unix, when set, is a Unix socket path served as well: the same
	// protocol, plus shared memory (docs/PROTOCOL.md).
	Unix string
	// ShmMaxRegions and ShmMaxBytes bound the shared memory one
	// connection over the Unix socket may have mapped.
	ShmMaxRegions int
	ShmMaxBytes   int64
	// TLS, when set, is what the TCP listener serves (https://, wss://);
	// the Unix socket stays plain.
	TLS *tls.Config
	// Token, when set, is the secret every request over TCP but /healthz
	// must present (auth.go, docs/SECURITY.md); the Unix socket needs none.
	Token string

	Registry  *kernels.Registry
	Executors map[string]executor.Executor // by name: direct, pool, subprocess
	// Profile is how exec=auto chooses; nil: profile.Builtin(AutoThreshold).
	Profile *profile.Profile
	// AutoThreshold is the work (see kernels.Call.Work) below which
	// exec=auto runs a call directly instead of on the pool, when no
	// Profile is given.
	AutoThreshold float64

	MaxMessage  int64 // bytes in one WebSocket message; larger closes with 1009
	MaxElements int64 // elements in one argument or result tensor (too_large)
	MaxInFlight int   // requests in flight on one connection (overloaded)
	MaxTotal    int   // requests in flight on the whole server (overloaded)
	MaxConns    int   // open connections; beyond it upgrades get HTTP 503
	// MaxThreads caps the threads one request's kernel may use (its
	// "threads" field, and the default when it has none): on the pool, the
	// idle workers it may borrow plus its own; on the subprocess executor,
	// its worker's thread plus one per idle slot it may borrow. 0: the
	// workers of the larger of the two.
	MaxThreads int
	// MaxLarge is how many messages larger than 256 KiB the server holds
	// at once, from reading them to answering them; the next waits,
	// unread, for one to be answered (see large.go).
	MaxLarge int
	// LargeWait is how long a large message waits for its token; past it
	// the message is refused with overloaded, and the connection read on.
	LargeWait      time.Duration
	DefaultTimeout time.Duration // deadline of a request without timeout_ms
	MaxTimeout     time.Duration // timeout_ms is capped to this
	PingInterval   time.Duration // server pings each connection this often
	PingTimeout    time.Duration // and closes it when nothing was heard for this long
	WriteTimeout   time.Duration // one write to a client may take this long
	Grace          time.Duration // Shutdown lets in-flight requests finish for this long

	// Cluster (crunch serve --nats): NodeName names this node in every
	// reply's stats; AutoSpill, when set, runs what exec=auto gives the
	// pool, spilling to the cluster when the pool's queue is full.
	NodeName  string
	AutoSpill executor.Executor
	// Cluster, when set, is the node whose view of the cluster info,
	// /v1/status and /metrics show.
	Cluster *cluster.Node

	Log *slog.Logger
}

// DefaultConfig returns the defaults that `crunch serve` starts with.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:8080",
		ShmMaxRegions:  64,
		ShmMaxBytes:    16 << 30,
		AutoThreshold:  1e5,
		MaxMessage:     256 << 20,
		MaxElements:    1 << 27, // 1 GiB of f64
		MaxInFlight:    256,
		MaxTotal:       4096,
		MaxConns:       10000,
		MaxLarge:       4 * runtime.GOMAXPROCS(0), // the CPUs, until crunch serve sets --go-procs
		LargeWait:      5 * time.Second,
		DefaultTimeout: 5 * time.Minute,
		MaxTimeout:     time.Hour,
		PingInterval:   10 * time.Second,
		PingTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
		Grace:          10 * time.Second,
	}
}

// withDefaults fills c's zero (or negative) fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.Addr, d.Addr)
	orDefault(&c.ShmMaxRegions, d.ShmMaxRegions)
	orDefault(&c.ShmMaxBytes, d.ShmMaxBytes)
	orDefault(&c.AutoThreshold, d.AutoThreshold)
	orDefault(&c.MaxMessage, d.MaxMessage)
	orDefault(&c.MaxElements, d.MaxElements)
	orDefault(&c.MaxInFlight, d.MaxInFlight)
	orDefault(&c.MaxTotal, d.MaxTotal)
	orDefault(&c.MaxConns, d.MaxConns)
	orDefault(&c.MaxLarge, d.MaxLarge)
	orDefault(&c.LargeWait, d.LargeWait)
	orDefault(&c.DefaultTimeout, d.DefaultTimeout)
	orDefault(&c.MaxTimeout, d.MaxTimeout)
	orDefault(&c.PingInterval, d.PingInterval)
	orDefault(&c.PingTimeout, d.PingTimeout)
	orDefault(&c.WriteTimeout, d.WriteTimeout)
	orDefault(&c.Grace, d.Grace)
	if c.Profile == nil {
		c.Profile = profile.Builtin(c.AutoThreshold)
	}
	if c.Registry == nil {
		c.Registry = kernels.Default()
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// orDefault sets *v to def when *v is zero or negative ("" for strings).
func orDefault[T cmp.Ordered](v *T, def T) {
	var zero T
	if *v <= zero {
		*v = def
	}
}
