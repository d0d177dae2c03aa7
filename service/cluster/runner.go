package cluster

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/wire"
)

// reserveFor is how long a claimed slot waits for its job before it is
// free again (the origin normally sends the job, or a release, at once).
const reserveFor = time.Second

// remoteJob is a job this node runs for another.
type remoteJob struct {
	started  time.Time
	cancel   context.CancelCauseFunc
	handBack atomic.Bool // cancelled because this node leaves: hand it back
}

// freeLocked is how many more jobs this node takes: its slots less the
// jobs claimed, running for others or run locally first, and less the
// other work on its executor. n.wmu is held.
func (n *Node) freeLocked() int {
	if n.draining {
		return 0
	}
	mine := len(n.reserved) + len(n.running) + n.local
	l := n.cfg.Exec.Load()
	// Running cluster jobs are in the executor's load too; what is left
	// is other work (requests with exec=pool, say).
	other := max(0, l.Busy+l.Queued-len(n.running)-n.local)
	return n.cfg.Slots - mine - other
}

// onOffer claims an offered job when this node has a free slot.
func (n *Node) onOffer(m *nats.Msg) {
	k, ok := keyOf(m)
	if !ok || m.Reply == "" {
		return
	}
	now := time.Now()
	n.wmu.Lock()
	for rk, until := range n.reserved {
		if now.After(until) {
			delete(n.reserved, rk)
		}
	}
	_, claimed := n.reserved[k]
	_, runs := n.running[k]
	if claimed || runs || n.freeLocked() <= 0 {
		n.wmu.Unlock()
		if !claimed && !runs {
			n.missed.Store(true) // someone waits: announce the next free slot
		}
		return
	}
	n.reserved[k] = now.Add(reserveFor)
	n.wmu.Unlock()
	c := msgTo(m.Reply, k.origin, k.seq)
	c.Header.Set(hdrNode, n.id)
	c.Header.Set(hdrName, n.cfg.Name)
	if !n.publish(c) {
		n.unreserve(k)
	}
}

// unreserve frees a claimed slot whose job will not come.
func (n *Node) unreserve(k jobKey) {
	n.wmu.Lock()
	_, had := n.reserved[k]
	delete(n.reserved, k)
	n.wmu.Unlock()
	if had {
		n.slotFreed()
	}
}

// slotFreed announces a free slot at once when this node had to pass up
// an offer since its last announcement, so that the jobs waiting at their
// origins are offered again now rather than at the next status. (Origins
// re-offer waiting jobs every status period, so a job that waits is always
// seen.) Without anyone waiting, a freed slot costs no message.
func (n *Node) slotFreed() {
	if n.missed.Load() && n.missed.Swap(false) {
		n.publishStatus()
	}
}

// onRunnerMsg takes the messages origins send this node: a job it
// claimed, a release of a claim, a cancel.
func (n *Node) onRunnerMsg(m *nats.Msg) {
	k, ok := keyOf(m)
	if !ok {
		return
	}
	switch m.Subject[strings.LastIndexByte(m.Subject, '.')+1:] {
	case "job":
		if m.Header.Get(hdrXfer) != "" {
			n.wmu.Lock()
			if _, ok := n.reserved[k]; ok { // still coming: keep the slot
				n.reserved[k] = time.Now().Add(reserveFor)
			}
			n.wmu.Unlock()
		}
		if m, ok = n.asm.assemble(m, n.cfg.MaxTransfer); ok {
			n.startJob(k, m)
		}
	case "release":
		n.unreserve(k)
	case "cancel":
		n.unreserve(k)
		n.wmu.Lock()
		if rj := n.running[k]; rj != nil {
			rj.cancel(wire.Errorf(wire.Canceled, "canceled by the node the request came to"))
		}
		n.wmu.Unlock()
	}
}

// startJob runs a job this node claimed. One that arrives unclaimed (its
// claim expired) runs if there is room, and is handed back otherwise.
func (n *Node) startJob(k jobKey, m *nats.Msg) {
	n.wmu.Lock()
	_, claimed := n.reserved[k]
	delete(n.reserved, k)
	if _, dup := n.running[k]; dup {
		n.wmu.Unlock()
		return
	}
	if !claimed && n.freeLocked() <= 0 {
		n.wmu.Unlock()
		n.reply(k, "handback", nil)
		return
	}
	ctx, cancel := context.WithCancelCause(n.ctx)
	rj := &remoteJob{started: time.Now(), cancel: cancel}
	n.running[k] = rj
	n.wg.Add(1)
	n.wmu.Unlock()
	origin := m.Header.Get(hdrName)
	if origin == "" {
		origin = k.origin
	}
	n.ranJob(origin)
	go n.runJob(ctx, k, rj, m)
}

// runJob runs one job for its origin and sends the result.
func (n *Node) runJob(ctx context.Context, k jobKey, rj *remoteJob, m *nats.Msg) {
	defer n.wg.Done()
	defer rj.cancel(nil)
	if ms, err := strconv.ParseInt(m.Header.Get(hdrTimeout), 10, 64); err == nil && ms > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, time.Duration(ms)*time.Millisecond,
			wire.Errorf(wire.DeadlineExceeded, "deadline exceeded on node %s", n.cfg.Name))
		defer stop()
	}
	rep := n.run(ctx, k, m)
	// The job stays in running, and heartbeats go on, until its result
	// has been sent: a large one takes a while.
	defer func() {
		n.wmu.Lock()
		delete(n.running, k)
		n.wmu.Unlock()
		n.slotFreed()
	}()
	if rj.handBack.Load() {
		n.reply(k, "handback", nil)
	} else if body, _, err := wire.EncodeReply(rep, true); err != nil {
		n.reply(k, "result", n.errorReply(wire.Errorf(wire.Internal, "encoding the result on node %s: %v", n.cfg.Name, err)))
	} else if !n.reply(k, "result", body) {
		// Say so rather than go silent, if the origin still listens.
		n.reply(k, "result", n.errorReply(wire.Errorf(wire.WorkerFailed,
			"the result (%d bytes) could not be sent back from node %s", len(body), n.cfg.Name)))
	}
}

// errorReply encodes a failure reply.
func (n *Node) errorReply(e *wire.Error) []byte {
	b, _, err := wire.EncodeReply(&wire.Reply{ID: 1, Error: e}, true)
	if err != nil { // cannot happen for an error reply
		n.cfg.Log.Error("cluster: encoding an error reply", "err", err)
	}
	return b
}

// run decodes, validates and runs a job on the node's executor.
func (n *Node) run(ctx context.Context, k jobKey, m *nats.Msg) *wire.Reply {
	fail := func(err error) *wire.Reply { return &wire.Reply{ID: 1, Error: wire.AsError(err)} }
	req, err := wire.DecodeRequest(true, m.Data)
	if err != nil {
		return fail(err)
	}
	op, err := n.cfg.Registry.Lookup(req.Op)
	if err != nil {
		return fail(err)
	}
	impl, err := op.Resolve(req.Impl)
	if err != nil {
		return fail(err)
	}
	call, err := op.Prepare(req.Args)
	if err != nil {
		return fail(err)
	}
	job := &executor.Job{Call: call, Impl: impl, Args: req.Args, Tenant: tenant(k.origin)}
	if m.Header.Get(hdrProg) != "" {
		job.Progress = func(f float64) {
			n.reply(k, "progress", strconv.AppendFloat(nil, f, 'g', -1, 64))
		}
	}
	out, err := n.cfg.Exec.Run(ctx, job)
	if err != nil {
		return fail(err)
	}
	return &wire.Reply{ID: 1, OK: true, Result: out.Result, Stats: &wire.Stats{
		Exec: n.cfg.Exec.Name(), Impl: impl, QueueUS: out.QueueUS, RunUS: out.RunUS, Worker: out.Worker, Node: n.cfg.Name}}
}

// reply sends a message about job k to its origin.
func (n *Node) reply(k jobKey, kind string, body []byte) bool {
	m := msgTo(n.cfg.Prefix+".o."+k.origin+"."+kind, k.origin, k.seq)
	m.Header.Set(hdrNode, n.id)
	m.Header.Set(hdrName, n.cfg.Name)
	m.Data = body
	if err := n.send(m); err != nil {
		if !errors.Is(err, nats.ErrConnectionClosed) {
			n.cfg.Log.Warn("cluster: sending to the origin", "kind", kind, "err", err)
		}
		return false
	}
	return true
}

// heartbeat tells each origin which of its jobs this node runs or has
// claimed, and
// stops the jobs of origins gone silent: nobody waits for their results.
func (n *Node) heartbeat() {
	gone := n.goneSince()
	byOrigin := map[string][]byte{}
	n.wmu.Lock()
	for k, rj := range n.running {
		if rj.started.Before(gone) && !n.heardFrom(k.origin, gone) {
			rj.cancel(wire.Errorf(wire.Canceled, "the node the request came to is gone"))
			continue
		}
		b := byOrigin[k.origin]
		if len(b) > 0 {
			b = append(b, ' ')
		}
		byOrigin[k.origin] = strconv.AppendUint(b, k.seq, 10)
	}
	// Claimed jobs too: one arriving in parts takes a while. A claim
	// whose job never came frees its slot here.
	now := time.Now()
	for k, until := range n.reserved {
		if now.After(until) {
			delete(n.reserved, k)
			continue
		}
		b := byOrigin[k.origin]
		if len(b) > 0 {
			b = append(b, ' ')
		}
		byOrigin[k.origin] = strconv.AppendUint(b, k.seq, 10)
	}
	n.wmu.Unlock()
	for origin, jobs := range byOrigin {
		m := nats.NewMsg(n.cfg.Prefix + ".o." + origin + ".hb")
		m.Header.Set(hdrNode, n.id)
		m.Data = jobs
		n.publish(m)
	}
}

// tenant gives each origin its own tenant in the executor's fair queue.
func tenant(origin string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(origin))
	return h.Sum64() | 1<<63
}

// goneSince is the time before which a node last heard from is taken as
// gone: a few status periods, and a loss timeout for a link that returns.
func (n *Node) goneSince() time.Time {
	return time.Now().Add(-3*n.cfg.Status - n.cfg.LossTimeout)
}

// heardFrom tells whether node id sent its status since t.
func (n *Node) heardFrom(id string, t time.Time) bool {
	n.omu.Lock()
	defer n.omu.Unlock()
	p := n.peers[id]
	return p != nil && p.seen.After(t)
}
