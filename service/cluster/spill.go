package cluster

import (
	"context"
	"sync"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Spill returns an executor that runs jobs on local and, when local
// refuses one as overloaded (its queue is full), on the cluster instead:
// what exec=auto uses with --nats-spill. It has local's name and load;
// closing it closes neither.
func Spill(local executor.Executor, n *Node) executor.Executor {
	return &spill{local: local, node: n}
}

type spill struct {
	local executor.Executor
	node  *Node
}

func (s *spill) Name() string        { return s.local.Name() }
func (s *spill) Load() executor.Load { return s.local.Load() }
func (s *spill) Close() error        { return nil }

// Run tries local first. A refused job's arguments are not given back to
// its owner (the refusal calls Done at once), so that the cluster can
// still send them; any other outcome passes Done on, when it comes.
func (s *spill) Run(ctx context.Context, job *executor.Job) (*executor.Outcome, error) {
	var (
		mu      sync.Mutex
		decided bool // whether Done goes on to the owner
		forward bool
		called  bool
	)
	owner := job.Done
	try := &executor.Job{Call: job.Call, Impl: job.Impl, Args: job.Args, Progress: job.Progress,
		Tenant: job.Tenant, Out: job.Out}
	try.Done = func() {
		mu.Lock()
		called = true
		pass := decided && forward
		mu.Unlock()
		if pass && owner != nil {
			owner()
		}
	}
	out, err := s.local.Run(ctx, try)
	refused := err != nil && wire.AsError(err).Code == wire.Overloaded
	mu.Lock()
	decided, forward = true, !refused
	pass := called && forward
	mu.Unlock()
	if pass && owner != nil {
		owner()
	}
	if !refused {
		return out, err
	}
	return s.node.runRemote(ctx, job)
}
