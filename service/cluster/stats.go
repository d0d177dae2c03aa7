package cluster

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crunchsvc/crunch/service/executor"
)

// What a node tells of the cluster: the nodes it hears from, with their
// executors (Nodes), and its own counts of the work it sent and ran and of
// the data it moved (Stats), for info, the status page and /metrics.

// NodeStatus is one node as this node last heard of it.
type NodeStatus struct {
	Name string `json:"name"`
	// Self marks this node.
	Self bool `json:"self,omitempty"`
	// Slots and Busy are its cluster slots and those taken.
	Slots int `json:"slots"`
	Busy  int `json:"busy"`
	// Leaving: it is draining, and takes no more work.
	Leaving bool `json:"leaving,omitempty"`
	// Executors are its own executors' loads, by name.
	Executors map[string]ExecStatus `json:"executors,omitempty"`
	// SeenMS is how long ago its last status came, in milliseconds.
	SeenMS int64 `json:"seen_ms"`
}

// ExecStatus is one executor's load on a node.
type ExecStatus struct {
	Slots  int `json:"slots"`
	Busy   int `json:"busy"`
	Queued int `json:"queued"`
}

// Stats are this node's counts since it joined.
type Stats struct {
	// Sent counts the cluster jobs this node was the origin of, by the
	// node that ran them (this one included, for those it ran itself).
	Sent map[string]int64
	// Ran counts the jobs this node took from the cluster, by origin.
	Ran map[string]int64
	// SentBytes and ReceivedBytes are the data of the messages with data
	// (jobs, results, progress) this node sent to other nodes and
	// received from them.
	SentBytes, ReceivedBytes int64
	// SentSeconds is the time spent publishing them (acknowledged parts
	// of large ones included); ReceivedSeconds the time from the first
	// part of a large one to its last.
	SentSeconds, ReceivedSeconds float64
}

// counters are the figures behind Stats.
type counters struct {
	mu        sync.Mutex
	sent, ran map[string]int64
	sentBytes int64
	sentTime  time.Duration
}

func (c *counters) count(m *map[string]int64, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[name]++
}

// sentJob counts a job of this origin that node ran (or runs).
func (n *Node) sentJob(node string) { n.stats.count(&n.stats.sent, node) }

// ranJob counts a job this node took for origin.
func (n *Node) ranJob(origin string) { n.stats.count(&n.stats.ran, origin) }

// transferred counts a job or result sent: its bytes and the time taken.
func (n *Node) transferred(bytes int, took time.Duration) {
	n.stats.mu.Lock()
	n.stats.sentBytes += int64(bytes)
	n.stats.sentTime += took
	n.stats.mu.Unlock()
}

// Stats returns this node's counts.
func (n *Node) Stats() Stats {
	n.stats.mu.Lock()
	s := Stats{Sent: map[string]int64{}, Ran: map[string]int64{},
		SentBytes: n.stats.sentBytes, SentSeconds: n.stats.sentTime.Seconds()}
	for k, v := range n.stats.sent {
		s.Sent[k] = v
	}
	for k, v := range n.stats.ran {
		s.Ran[k] = v
	}
	n.stats.mu.Unlock()
	s.ReceivedBytes, s.ReceivedSeconds = n.asm.received()
	return s
}

// Nodes lists the nodes heard from lately, this one first, then by name.
func (n *Node) Nodes() []NodeStatus {
	n.expirePeers()
	now := time.Now()
	n.omu.Lock()
	out := make([]NodeStatus, 0, len(n.peers))
	for id, p := range n.peers {
		out = append(out, NodeStatus{Name: p.name, Self: id == n.id, Slots: p.slots, Busy: max(0, p.slots-p.free),
			Leaving: p.leaving, Executors: p.execs, SeenMS: now.Sub(p.seen).Milliseconds()})
	}
	n.omu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Self != out[j].Self {
			return out[i].Self
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// execsHeader encodes executors' loads for a status message:
// "name slots busy queued" per executor, comma-separated.
func execsHeader(execs map[string]executor.Executor) string {
	var b strings.Builder
	names := make([]string, 0, len(execs))
	for name := range execs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l := execs[name].Load()
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name + " " + strconv.Itoa(l.Slots) + " " + strconv.Itoa(l.Busy) + " " + strconv.Itoa(l.Queued))
	}
	return b.String()
}

// parseExecs reads execsHeader's encoding; what does not parse is left out.
func parseExecs(h string) map[string]ExecStatus {
	if h == "" {
		return nil
	}
	out := map[string]ExecStatus{}
	for e := range strings.SplitSeq(h, ",") {
		f := strings.Fields(e)
		if len(f) != 4 {
			continue
		}
		slots, err1 := strconv.Atoi(f[1])
		busy, err2 := strconv.Atoi(f[2])
		queued, err3 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil && err3 == nil {
			out[f[0]] = ExecStatus{slots, busy, queued}
		}
	}
	return out
}

// expirePeers forgets the nodes silent for 3 status periods, and says so.
func (n *Node) expirePeers() {
	cutoff := time.Now().Add(-3 * n.cfg.Status)
	n.omu.Lock()
	defer n.omu.Unlock()
	for id, p := range n.peers {
		if !p.seen.Before(cutoff) {
			continue
		}
		delete(n.peers, id)
		if p.leaving {
			n.cfg.Log.Info("cluster: node left", "node", p.name)
		} else {
			n.cfg.Log.Warn("cluster: node lost: no status heard", "node", p.name, "silent", time.Since(p.seen).Round(time.Millisecond).String())
		}
	}
}
