// Package cluster lets crunch nodes share work through NATS. A node joins
// a NATS system (or embeds a nats-server others join); the executor it
// offers, "cluster", runs a job on whichever node has a free slot, this
// one included.
//
// Work goes only to nodes with room, by an offer/claim protocol over core
// NATS (docs/CLUSTER.md has the reasons and the messages):
//
//   - the origin (the node a client sent the request to) runs the job
//     itself when it has a free slot; otherwise it publishes an offer;
//   - every node with a free slot reserves it and claims the offer;
//   - the origin sends the job to the first claimer and releases the rest;
//   - the runner heartbeats the jobs it runs to their origins and sends
//     the result; the origin offers a job again when its runner's
//     heartbeats stop (ops are pure, so running twice is harmless, and
//     the origin answers its client once);
//   - cancel, deadlines and a closed connection reach the runner as a
//     cancel message (and the deadline travels with the job).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
)

// Config is what a Node needs. Zero fields take defaults.
type Config struct {
	// URL is the NATS system to join, as nats.Connect takes it (several
	// servers separated by commas).
	URL string
	// Name names this node in replies' stats (stats.node) and logs.
	Name string
	// Creds and TLSCA, when set, are a NATS credentials file and a CA
	// certificate file (PEM) the servers' certificates are checked with.
	Creds string
	TLSCA string
	// Exec runs the jobs this node takes (the pool); Registry has the ops.
	Exec     executor.Executor
	Registry *kernels.Registry
	// Slots is how many cluster jobs this node runs at once: 0 takes
	// Exec's workers, a negative number none (the node then only sends
	// work to others). Other work on Exec takes slots too: a node whose
	// pool is busy claims nothing.
	Slots int
	// Prefix starts every subject the nodes use (default "crunch"): nodes
	// with the same prefix on one NATS system form one cluster.
	Prefix string
	// Heartbeat is how often a runner tells origins it still runs their
	// jobs; LossTimeout is how long an origin waits without a heartbeat
	// before it offers the job again (default 5 heartbeats).
	Heartbeat   time.Duration
	LossTimeout time.Duration
	// Status is how often each node announces its free slots (the origin
	// also re-offers waiting jobs this often); a node is taken as gone
	// after 3 periods of silence.
	Status time.Duration
	// Queue is how many jobs may wait at this origin for a node with a
	// free slot; beyond it, overloaded.
	Queue int
	// MaxTransfer is the largest job or result taken from another node,
	// in bytes (default 1 GiB); larger ones travel in parts (transfer.go).
	MaxTransfer int64
	// Executors are this node's own executors, whose loads its status
	// messages carry for the other nodes' info (nil: none).
	Executors map[string]executor.Executor
	Log       *slog.Logger
}

func (c *Config) defaults() {
	if c.Registry == nil {
		c.Registry = kernels.Default()
	}
	if c.Slots == 0 && c.Exec != nil {
		c.Slots = c.Exec.Load().Slots
	}
	c.Slots = max(c.Slots, 0)
	if c.Prefix == "" {
		c.Prefix = "crunch"
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 100 * time.Millisecond
	}
	if c.LossTimeout <= 0 {
		c.LossTimeout = 5 * c.Heartbeat
	}
	if c.Status <= 0 {
		c.Status = 250 * time.Millisecond
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
	if c.MaxTransfer <= 0 {
		c.MaxTransfer = 1 << 30
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Node is this process's membership of a cluster: it sends work to other
// nodes (as the "cluster" executor, see Executor) and runs theirs.
type Node struct {
	cfg   Config
	nc    *nats.Conn
	id    string // unique per process: the subject token of this node
	inbox string // subjects to this node as an origin: inbox + ".claim" etc.
	ctx   context.Context
	stop  context.CancelFunc
	subs  []*nats.Subscription
	offer *nats.Subscription // nil while draining
	wg    sync.WaitGroup     // remote jobs running, and the ticker loop

	// Origin side.
	omu     sync.Mutex
	pending map[uint64]*pending
	peers   map[string]*peer // by node id, from status messages
	wake    chan struct{}    // closed when a node announces a free slot
	seq     atomic.Uint64
	waiting atomic.Int64 // jobs at this origin with no runner

	// Runner side.
	wmu      sync.Mutex
	reserved map[jobKey]time.Time // claimed slots, until the job comes or this time passes
	running  map[jobKey]*remoteJob
	local    int         // jobs this origin runs itself (local first)
	draining bool        // no more claims, no more local jobs
	missed   atomic.Bool // an offer was passed up for want of a slot

	asm   assemblies // large jobs and results arriving in parts
	stats counters   // work sent and run, data moved (stats.go)
}

// jobKey names a job among every origin's.
type jobKey struct {
	origin string
	seq    uint64
}

// peer is what an origin knows of a node.
type peer struct {
	name    string
	slots   int
	free    int
	seen    time.Time
	leaving bool
	execs   map[string]ExecStatus
}

// Message headers.
const (
	hdrJob     = "Crunch-Job"     // the origin's job number
	hdrOrigin  = "Crunch-Origin"  // the origin's node id
	hdrNode    = "Crunch-Node"    // the sender's node id
	hdrName    = "Crunch-Name"    // the sender's node name
	hdrTimeout = "Crunch-Timeout" // ms left before the job's deadline
	hdrSlots   = "Crunch-Slots"
	hdrFree    = "Crunch-Free"
	hdrLeaving = "Crunch-Leaving"  // "1": draining; "gone": closed
	hdrExecs   = "Crunch-Execs"    // the sender's executors (execsHeader)
	hdrProg    = "Crunch-Progress" // "1": the origin wants progress
)

// Join connects to the NATS system at cfg.URL and starts serving: from
// here on, this node claims offers while it has free slots.
func Join(cfg Config) (*Node, error) {
	cfg.defaults()
	if cfg.Exec == nil {
		return nil, errors.New("cluster: no executor to run jobs on")
	}
	n := &Node{
		cfg:      cfg,
		id:       nuid.Next(),
		pending:  make(map[uint64]*pending),
		peers:    make(map[string]*peer),
		wake:     make(chan struct{}),
		reserved: make(map[jobKey]time.Time),
		running:  make(map[jobKey]*remoteJob),
	}
	n.inbox = cfg.Prefix + ".o." + n.id
	n.ctx, n.stop = context.WithCancel(context.Background())
	log := cfg.Log
	opts := []nats.Option{
		nats.Name("crunch " + cfg.Name),
		// A node keeps trying for as long as it lives: work it runs and
		// work it waits for resume when NATS returns.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		// A dead server is noticed within seconds, not minutes.
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: this node closed it
				log.Warn("cluster: NATS connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("cluster: NATS connection back", "server", c.ConnectedUrlRedacted())
			n.publishStatus()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("cluster: NATS error", "err", err)
		}),
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to NATS at %s: %w", cfg.URL, err)
	}
	n.nc = nc
	subscribe := func(subj string, h nats.MsgHandler) error {
		s, err := nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("cluster: subscribing to %s: %w", subj, err)
		}
		// Results and large jobs must not be dropped as a slow consumer.
		if err := s.SetPendingLimits(-1, -1); err != nil {
			return fmt.Errorf("cluster: %s: %w", subj, err)
		}
		n.subs = append(n.subs, s)
		return nil
	}
	p := cfg.Prefix
	for _, s := range []struct {
		subj string
		h    nats.MsgHandler
	}{
		{n.inbox + ".>", n.onOriginMsg},
		{p + ".n." + n.id + ".>", n.onRunnerMsg},
		{p + ".status", n.onStatus},
	} {
		if err := subscribe(s.subj, s.h); err != nil {
			nc.Close()
			return nil, err
		}
	}
	if cfg.Slots > 0 {
		if n.offer, err = nc.Subscribe(p+".offer", n.onOffer); err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster: subscribing to offers: %w", err)
		}
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: NATS at %s: %w", cfg.URL, err)
	}
	n.publishStatus()
	n.wg.Add(1)
	go n.tick()
	log.Info("cluster: joined", "nats", nc.ConnectedUrlRedacted(), "node", cfg.Name, "slots", cfg.Slots,
		"max_payload", nc.MaxPayload())
	return n, nil
}

// Name is this node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Conn is the node's NATS connection (tests use it to break the link).
func (n *Node) Conn() *nats.Conn { return n.nc }

// Drain makes the node leave gracefully: it claims nothing more, lets the
// jobs it runs for other nodes finish until ctx ends, and hands the rest
// back to their origins, which offer them again elsewhere. Jobs this node
// sends elsewhere go on (the server's own drain waits for them).
func (n *Node) Drain(ctx context.Context) {
	n.wmu.Lock()
	n.draining = true
	clear(n.reserved)
	n.wmu.Unlock()
	if n.offer != nil {
		n.offer.Unsubscribe()
	}
	n.publishStatus()
	for {
		n.wmu.Lock()
		left := len(n.running)
		n.wmu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			n.wmu.Lock()
			for _, rj := range n.running {
				rj.handBack.Store(true)
				rj.cancel(errHandedBack)
			}
			n.wmu.Unlock()
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close leaves the cluster at once: jobs running here are handed back,
// jobs waiting here for another node end with canceled, and the NATS
// connection closes once what was published is sent.
func (n *Node) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Drain(ctx)
	n.stop()
	n.wg.Wait()
	n.goodbye()
	// What was published (hand-backs, results) goes out before the link
	// closes.
	err := n.nc.FlushTimeout(time.Second)
	n.nc.Close()
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("cluster: flushing NATS: %w", err)
	}
	return nil
}

var errHandedBack = errors.New("cluster: node leaving, job handed back")

// tick sends heartbeats and status, and drops reservations whose job
// never came, until the node closes.
func (n *Node) tick() {
	defer n.wg.Done()
	hb := time.NewTicker(n.cfg.Heartbeat)
	defer hb.Stop()
	st := time.NewTicker(n.cfg.Status)
	defer st.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-hb.C:
			n.heartbeat()
		case <-st.C:
			n.publishStatus()
			n.asm.sweep()
			n.expirePeers()
		}
	}
}

// goodbye tells the other nodes that this one is gone, so that they
// forget it at once rather than after its silence.
func (n *Node) goodbye() {
	m := nats.NewMsg(n.cfg.Prefix + ".status")
	m.Header.Set(hdrNode, n.id)
	m.Header.Set(hdrName, n.cfg.Name)
	m.Header.Set(hdrLeaving, "gone")
	n.publish(m)
}

// publishStatus announces this node's slots and free slots.
func (n *Node) publishStatus() {
	n.wmu.Lock()
	free := n.freeLocked()
	leaving := n.draining
	n.wmu.Unlock()
	m := nats.NewMsg(n.cfg.Prefix + ".status")
	m.Header.Set(hdrNode, n.id)
	m.Header.Set(hdrName, n.cfg.Name)
	m.Header.Set(hdrSlots, strconv.Itoa(n.cfg.Slots))
	m.Header.Set(hdrFree, strconv.Itoa(max(free, 0)))
	if leaving {
		m.Header.Set(hdrLeaving, "1")
	}
	if len(n.cfg.Executors) > 0 {
		m.Header.Set(hdrExecs, execsHeader(n.cfg.Executors))
	}
	n.publish(m)
}

// onStatus records a node's status; a free slot wakes the jobs waiting.
// A node's first status, its first as leaving, and its goodbye are logged.
func (n *Node) onStatus(m *nats.Msg) {
	id := m.Header.Get(hdrNode)
	if id == "" {
		return
	}
	slots, _ := strconv.Atoi(m.Header.Get(hdrSlots))
	free, _ := strconv.Atoi(m.Header.Get(hdrFree))
	name, leaving := m.Header.Get(hdrName), m.Header.Get(hdrLeaving)
	n.omu.Lock()
	defer n.omu.Unlock()
	old := n.peers[id]
	if leaving == "gone" {
		if old != nil {
			delete(n.peers, id)
			n.cfg.Log.Info("cluster: node left", "node", name)
		}
		return
	}
	p := &peer{name: name, slots: slots, free: free, seen: time.Now(), leaving: leaving != "",
		execs: parseExecs(m.Header.Get(hdrExecs))}
	n.peers[id] = p
	switch {
	case id == n.id:
	case old == nil:
		n.cfg.Log.Info("cluster: node joined", "node", name, "slots", slots)
	case p.leaving && !old.leaving:
		n.cfg.Log.Info("cluster: node leaving: it takes no more work", "node", name)
	}
	if free > 0 && !p.leaving {
		close(n.wake)
		n.wake = make(chan struct{})
	}
}

// liveNodes counts the nodes (this one included) heard from lately that
// take work.
func (n *Node) liveNodes() (nodes, slots, free int) {
	n.expirePeers()
	n.omu.Lock()
	defer n.omu.Unlock()
	for _, p := range n.peers {
		if p.slots > 0 && !p.leaving {
			nodes++
			slots += p.slots
			free += p.free
		}
	}
	return nodes, slots, free
}

// publish sends m, logging a failure: every message of the protocol may
// be lost (the heartbeats and re-offers are there for that).
func (n *Node) publish(m *nats.Msg) bool {
	if err := n.nc.PublishMsg(m); err != nil {
		if !errors.Is(err, nats.ErrConnectionClosed) {
			n.cfg.Log.Warn("cluster: publishing", "subject", m.Subject, "err", err)
		}
		return false
	}
	return true
}

// msgTo builds a message about job seq of origin to subject.
func msgTo(subject string, origin string, seq uint64) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrJob, strconv.FormatUint(seq, 10))
	m.Header.Set(hdrOrigin, origin)
	return m
}

// keyOf reads the job a message is about.
func keyOf(m *nats.Msg) (jobKey, bool) {
	seq, err := strconv.ParseUint(m.Header.Get(hdrJob), 10, 64)
	origin := m.Header.Get(hdrOrigin)
	return jobKey{origin, seq}, err == nil && origin != "" && !strings.ContainsAny(origin, ".*> ")
}
