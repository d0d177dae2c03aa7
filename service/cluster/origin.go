package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/wire"
)

// pending is a job this node is the origin of, sent to (or waiting for)
// another node.
type pending struct {
	seq      uint64
	mu       sync.Mutex
	events   []event
	signal   chan struct{} // a token when events were added
	runner   atomic.Pointer[string]
	lastSeen atomic.Int64 // unix ns of the runner's last sign of life
}

// event is a message about a pending job.
type event struct {
	kind string // claim, result, handback, progress
	node string // the sender's id
	name string // the sender's name
	data []byte
}

// onOriginMsg routes a message about one of this origin's jobs to it.
func (n *Node) onOriginMsg(m *nats.Msg) {
	kind := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	node := m.Header.Get(hdrNode)
	if kind == "hb" {
		now := time.Now().UnixNano()
		n.omu.Lock()
		for f := range strings.FieldsSeq(string(m.Data)) {
			seq, err := strconv.ParseUint(f, 10, 64)
			if p := n.pending[seq]; err == nil && p != nil {
				if r := p.runner.Load(); r != nil && *r == node {
					p.lastSeen.Store(now)
				}
			}
		}
		n.omu.Unlock()
		return
	}
	k, ok := keyOf(m)
	if !ok || k.origin != n.id {
		return
	}
	// Every message from the job's runner is a sign of life, a part of its
	// result too: the heartbeats sent meanwhile wait behind the parts in
	// this handler, so a large result would otherwise look like silence.
	n.omu.Lock()
	if p := n.pending[k.seq]; p != nil {
		if r := p.runner.Load(); r != nil && *r == node {
			p.lastSeen.Store(time.Now().UnixNano())
		}
	}
	n.omu.Unlock()
	if m, ok = n.asm.assemble(m, n.cfg.MaxTransfer); !ok {
		return // a part of a result; the rest is coming
	}
	n.omu.Lock()
	p := n.pending[k.seq]
	n.omu.Unlock()
	if p == nil {
		// Finished already: a claim for it is released, anything else
		// (a second result after a re-offer, say) is dropped.
		if kind == "claim" && node != "" {
			n.publish(msgTo(n.cfg.Prefix+".n."+node+".release", n.id, k.seq))
		}
		return
	}
	p.mu.Lock()
	p.events = append(p.events, event{kind: kind, node: node, name: m.Header.Get(hdrName), data: m.Data})
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// Executor is the node as the "cluster" executor.
func (n *Node) Executor() executor.Executor { return (*clusterExec)(n) }

type clusterExec Node

// Name is "cluster".
func (x *clusterExec) Name() string { return executor.NameCluster }

// Load sums the slots of the nodes heard from lately; Queued counts the
// jobs at this origin waiting for one.
func (x *clusterExec) Load() executor.Load {
	_, slots, free := (*Node)(x).liveNodes()
	return executor.Load{Slots: slots, Busy: max(0, slots-free), Queued: int(x.waiting.Load())}
}

// Close does nothing: the node's owner closes it (Node.Close), before the
// executor it runs jobs on.
func (x *clusterExec) Close() error { return nil }

// Run runs job here when this node has a free slot, and otherwise on the
// first node that claims it.
func (x *clusterExec) Run(ctx context.Context, job *executor.Job) (*executor.Outcome, error) {
	n := (*Node)(x)
	if n.reserveLocal() {
		defer n.unreserveLocal()
		return n.runLocal(ctx, job)
	}
	return n.runRemote(ctx, job)
}

// reserveLocal takes a slot of this node for a job it is the origin of.
func (n *Node) reserveLocal() bool {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if n.cfg.Slots <= 0 || n.freeLocked() <= 0 {
		return false
	}
	n.local++
	return true
}

func (n *Node) unreserveLocal() {
	n.wmu.Lock()
	n.local--
	n.wmu.Unlock()
	n.slotFreed()
}

// runLocal runs job on this node's executor.
func (n *Node) runLocal(ctx context.Context, job *executor.Job) (*executor.Outcome, error) {
	n.sentJob(n.cfg.Name)
	out, err := n.cfg.Exec.Run(ctx, job)
	if out != nil {
		out.Node = n.cfg.Name
	}
	return out, err
}

// runRemote offers job to the cluster, sends it to the first node that
// claims it, and waits for its result, offering it again if that node
// goes silent.
func (n *Node) runRemote(ctx context.Context, job *executor.Job) (*executor.Outcome, error) {
	start := time.Now()
	if n.waiting.Add(1) > int64(n.cfg.Queue) {
		n.waiting.Add(-1)
		release(job)
		return nil, overloaded(100*time.Millisecond, "cluster: %d jobs already wait for a node (--nats-queue)", n.cfg.Queue)
	}
	waiting := true
	defer func() {
		if waiting {
			n.waiting.Add(-1)
		}
	}()
	body, err := wire.EncodeRequest(&wire.Request{ID: 1, Op: job.Call.Op.Name, Impl: job.Impl, Args: job.Args, Reply: "binary"}, true)
	// The message is a copy: the arguments are free from here on.
	release(job)
	if err != nil {
		return nil, wire.Errorf(wire.Internal, "cluster: encoding %s for another node: %v", job.Call.Op.Name, err)
	}
	p := &pending{seq: n.seq.Add(1), signal: make(chan struct{}, 1)}
	n.omu.Lock()
	n.pending[p.seq] = p
	n.omu.Unlock()
	defer func() {
		n.omu.Lock()
		delete(n.pending, p.seq)
		n.omu.Unlock()
	}()

	var (
		runner, runnerName string // "" while offering
		offered            time.Time
		lost               []string // names of runners that went silent
	)
	offer := func() {
		p.runner.Store(nil)
		runner, runnerName = "", ""
		if !waiting {
			waiting = true
			n.waiting.Add(1)
		}
		offered = time.Now()
		m := msgTo(n.cfg.Prefix+".offer", n.id, p.seq)
		m.Reply = n.inbox + ".claim"
		n.publish(m)
	}
	tell := func(node, kind string) {
		n.publish(msgTo(n.cfg.Prefix+".n."+node+"."+kind, n.id, p.seq))
	}
	offer()
	tick := time.NewTicker(n.cfg.Heartbeat)
	defer tick.Stop()
	for {
		n.omu.Lock()
		wake := n.wake
		n.omu.Unlock()
		select {
		case <-ctx.Done():
			if runner != "" {
				tell(runner, "cancel")
			}
			return nil, executor.StopReason(ctx)
		case <-n.ctx.Done():
			if runner != "" {
				tell(runner, "cancel")
			}
			return nil, executor.ErrClosed
		case <-wake:
			if runner == "" {
				offer()
			}
		case <-tick.C:
			now := time.Now()
			if runner != "" && now.Sub(time.Unix(0, p.lastSeen.Load())) > n.cfg.LossTimeout {
				n.cfg.Log.Warn("cluster: node silent, offering its job again", "node", runnerName, "op", job.Call.Op.Name)
				lost = append(lost, runnerName)
				tell(runner, "cancel") // in case it is alive after all
				offer()
				continue
			}
			if runner == "" {
				if nodes, _, _ := n.liveNodes(); nodes == 0 && now.Sub(start) > 3*n.cfg.Status {
					if len(lost) > 0 {
						return nil, wire.Errorf(wire.WorkerFailed, "cluster: node %s stopped answering while running %s, and no other node is left", lost[len(lost)-1], job.Call.Op.Name)
					}
					return nil, overloaded(time.Second, "cluster: no node with slots is connected")
				}
				if now.Sub(offered) >= n.cfg.Status {
					offer()
				}
			}
		case <-p.signal:
			p.mu.Lock()
			evs := p.events
			p.events = nil
			p.mu.Unlock()
			for _, ev := range evs {
				switch ev.kind {
				case "claim":
					if runner != "" || ev.node == "" {
						tell(ev.node, "release")
						continue
					}
					runner, runnerName = ev.node, ev.name
					r := runner // the handler reads its own copy
					p.runner.Store(&r)
					p.lastSeen.Store(time.Now().UnixNano())
					waiting = false
					n.waiting.Add(-1)
					m := msgTo(n.cfg.Prefix+".n."+runner+".job", n.id, p.seq)
					m.Header.Set(hdrName, n.cfg.Name) // the runner counts its jobs by origin
					if dl, ok := ctx.Deadline(); ok {
						m.Header.Set(hdrTimeout, strconv.FormatInt(max(1, time.Until(dl).Milliseconds()), 10))
					}
					if job.Progress != nil {
						m.Header.Set(hdrProg, "1")
					}
					m.Data = body
					if err := n.send(m); err != nil {
						// The runner's claim stands, or it is gone: either
						// way, offer the job again.
						n.cfg.Log.Warn("cluster: sending a job", "node", runnerName, "err", err)
						tell(runner, "cancel")
						offer()
						continue
					}
					p.lastSeen.Store(time.Now().UnixNano()) // a large job took a while to send
					n.sentJob(runnerName)
				case "handback":
					if ev.node == runner {
						n.cfg.Log.Info("cluster: node handed a job back, offering it again", "node", runnerName, "op", job.Call.Op.Name)
						offer()
					}
				case "progress":
					if ev.node == runner && job.Progress != nil {
						if f, err := strconv.ParseFloat(string(ev.data), 64); err == nil {
							job.Progress(f)
						}
					}
				case "result":
					return n.result(job, ev, start)
				}
			}
		}
	}
}

// result turns a runner's reply into the job's outcome.
func (n *Node) result(job *executor.Job, ev event, start time.Time) (*executor.Outcome, error) {
	rep, err := wire.DecodeReply(true, ev.data)
	if err != nil {
		return nil, wire.Errorf(wire.Internal, "cluster: the result of %s from node %s: %v", job.Call.Op.Name, ev.name, err)
	}
	if !rep.OK {
		if rep.Error == nil {
			return nil, wire.Errorf(wire.Internal, "cluster: node %s sent no result for %s", ev.name, job.Call.Op.Name)
		}
		return nil, rep.Error
	}
	out := &executor.Outcome{Result: rep.Result, Node: ev.name, Exec: executor.NameCluster}
	if rep.Stats != nil {
		out.RunUS = rep.Stats.RunUS
		out.Worker = rep.Stats.Worker
	}
	// Queue time: everything but the kernel, travel included.
	out.QueueUS = max(0, time.Since(start).Microseconds()-out.RunUS)
	return out, nil
}

// release tells job's owner that its arguments are no longer read.
func release(job *executor.Job) {
	if job.Done != nil {
		job.Done()
	}
}

// overloaded builds the protocol's overloaded error with a retry hint.
func overloaded(retry time.Duration, format string, args ...any) error {
	e := wire.Errorf(wire.Overloaded, format, args...)
	e.RetryAfterMS = max(1, retry.Milliseconds())
	return e
}
