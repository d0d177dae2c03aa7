package server

import (
	"cmp"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/wire"
)

// handle decodes and dispatches one message on the reader goroutine.
// Control ops are answered here; compute ops are validated here and run in
// a goroutine of their own. It returns false when the connection must end.
func (s *session) handle(binary bool, data []byte) bool {
	// What the message holds (a large-message token, an off-heap buffer)
	// goes with its compute request; any other outcome gives it back on
	// return.
	release := s.msgRelease
	s.msgRelease = noRelease
	defer func() { release() }()
	// The regions this message's tensors lie in stay mapped until its
	// request is done with them; any other outcome lets go on return.
	lease := s.newLease()
	defer func() { lease.Release() }()
	req, err := wire.DecodeRequestShm(binary, data, slicer(lease))
	if err != nil {
		var id int64
		if req != nil {
			id = req.ID
			s.garbage = 0
		} else if s.garbage++; s.garbage >= maxGarbage {
			s.send(outMsg{closeCode: websocket.ClosePolicyViolation, closeText: "too many malformed messages"})
			return false
		}
		form := binary
		if req != nil {
			form = replyBinary(req)
		}
		s.replyError(form, "", id, err)
		return true
	}
	s.garbage = 0
	if isControlOp(req.Op) && s.isInFlight(req.ID) {
		// A control op is answered here at once, but its id is unique
		// among the requests in flight all the same: two replies with one
		// id would leave the client unable to tell them apart.
		s.replyError(replyBinary(req), req.Op, req.ID, errDuplicateID(req.ID))
		return true
	}
	switch req.Op {
	case "ping":
		s.reply(req, wire.Result{"server_time_ns": wire.Int(time.Now().UnixNano())}, nil)
	case "info":
		s.reply(req, s.srv.info(s.fdc != nil), nil)
	case "cancel":
		s.cancelRequest(req)
	case "shm_register":
		s.shmRegister(req)
	case "shm_unregister":
		s.shmUnregister(req)
	default:
		if err := s.start(req, &reqMemory{msg: data, release: release, lease: lease}); err == nil {
			release, lease = noRelease, nil // the request's now
		} else {
			op := "unknown" // a label per unregistered name would let clients grow the metrics
			if _, lookupErr := s.srv.cfg.Registry.Lookup(req.Op); lookupErr == nil {
				op = req.Op
			}
			s.srv.metrics.answered(op, "none", "", err, nil)
			s.replyError(replyBinary(req), req.Op, req.ID, err)
		}
	}
	return true
}

// isControlOp tells whether op is one of the control ops handle answers
// on the reader itself.
func isControlOp(op string) bool {
	switch op {
	case "ping", "info", "cancel", "shm_register", "shm_unregister":
		return true
	}
	return false
}

// isInFlight tells whether a compute request with this id is in flight.
func (s *session) isInFlight(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, found := s.inflight[id]
	return found
}

// errDuplicateID refuses a request whose id is already in flight.
func errDuplicateID(id int64) error {
	return wire.Errorf(wire.InvalidArgument, "id %d is already in flight on this connection", id)
}

// cancelRequest ends request args.target with canceled, if it is in flight.
func (s *session) cancelRequest(req *wire.Request) {
	if err := req.Args.Only("cancel", "target"); err != nil {
		s.replyError(replyBinary(req), req.Op, req.ID, err)
		return
	}
	target, err := req.Args.Int("target", 0)
	if err != nil || target <= 0 {
		s.replyError(replyBinary(req), req.Op, req.ID, wire.Errorf(wire.InvalidArgument, "cancel: argument \"target\" must be the id of a request in flight"))
		return
	}
	s.mu.Lock()
	cancel, found := s.inflight[target]
	s.mu.Unlock()
	if found {
		cancel(wire.Errorf(wire.Canceled, "canceled by request %d", req.ID))
	}
	s.reply(req, wire.Result{"canceled": wire.Bool(found)}, nil)
}

// start validates a compute request and runs it in its own goroutine.
// mem (see reqMemory) is given back once the kernel is done with the
// arguments and the reply is queued; on an error, the caller gives it back.
func (s *session) start(req *wire.Request, mem *reqMemory) error {
	cfg := &s.srv.cfg
	if s.draining.Load() {
		return errShuttingDown
	}
	op, err := cfg.Registry.Lookup(req.Op)
	if err != nil {
		return err
	}
	impl, err := op.Resolve(req.Impl)
	if err != nil {
		return err
	}
	if err := s.srv.checkArgs(op, req.Args); err != nil {
		return err
	}
	call, err := op.Prepare(req.Args)
	if err != nil {
		return err
	}
	if call.OutElems > float64(cfg.MaxElements) {
		return wire.Errorf(wire.TooLarge, "%s: the result would hold %.0f elements; this server's limit is %d (--max-elements)", op.Name, call.OutElems, cfg.MaxElements)
	}
	execName, ex, err := s.srv.chooseExecutor(req.Exec, call)
	if err != nil {
		return err
	}
	if mem.window, err = shmWindow(mem.lease, req.ShmOut); err != nil {
		return err
	}
	timeout := cfg.DefaultTimeout
	if req.TimeoutMS > 0 {
		timeout = wire.ClampMS(req.TimeoutMS, cfg.MaxTimeout)
	}

	s.mu.Lock()
	// Checked again under mu, which drain takes to set draining: a request
	// either counts in pending before drain waits for it, or is refused.
	if s.draining.Load() {
		s.mu.Unlock()
		return errShuttingDown
	}
	if _, dup := s.inflight[req.ID]; dup {
		s.mu.Unlock()
		return errDuplicateID(req.ID)
	}
	if len(s.inflight) >= cfg.MaxInFlight {
		s.mu.Unlock()
		e := wire.Errorf(wire.Overloaded, "%d requests already in flight on this connection (--max-inflight)", cfg.MaxInFlight)
		e.RetryAfterMS = 100
		return e
	}
	if total := s.srv.inflight.Add(1); total > int64(cfg.MaxTotal) {
		s.srv.inflight.Add(-1)
		s.mu.Unlock()
		e := wire.Errorf(wire.Overloaded, "%d requests already in flight on this server (--max-total)", cfg.MaxTotal)
		e.RetryAfterMS = 100
		return e
	}
	ctx, cancel := context.WithCancelCause(s.ctx)
	s.inflight[req.ID] = cancel
	s.pending.Add(1)
	s.mu.Unlock()

	s.requests.Add(1)
	mem.out = newResultMem(s.srv.bufs, req.Args, mem.window, req.ShmOut)
	job := &executor.Job{Call: call, Impl: impl, Args: req.Args, Tenant: s.id, Out: mem.out,
		Threads: s.srv.threadsFor(req)}
	// Two holders: the kernel (until the executor says it is done with the
	// arguments, which may be after Run returned) and execute (until the
	// reply is queued).
	mem.holders.Store(2)
	job.Done = mem.kernelDone
	go s.execute(ctx, cancel, req, job, execName, ex, timeout, mem)
	return nil
}

// reqMemory is the memory a request's arguments and results use: its
// message and what gives that back (see releaser), the shared memory its
// tensors lie in, the window of it that its results may go to, and the
// memory its results are computed in (out).
type reqMemory struct {
	msg     []byte
	release func()
	lease   *shm.Lease
	window  []byte
	holders atomic.Int32
	out     *resultMem
}

// done lets go of one holder's use of the message and the leased regions;
// the last gives them back.
func (m *reqMemory) done() {
	if m.holders.Add(-1) == 0 {
		m.lease.Release()
		m.release()
	}
}

// kernelDone is the job's Done: the kernel reads the arguments, and
// writes the results, no more.
func (m *reqMemory) kernelDone() {
	m.out.kernelReturned()
	m.done()
}

// execute runs one request on its executor and queues its one final reply.
func (s *session) execute(ctx context.Context, cancel context.CancelCauseFunc, req *wire.Request,
	job *executor.Job, execName string, ex executor.Executor, timeout time.Duration, mem *reqMemory) {
	defer s.requests.Done()
	defer mem.done()
	defer cancel(nil)
	deadlineErr := wire.Errorf(wire.DeadlineExceeded, "%s: deadline of %v exceeded", req.Op, timeout)
	ctx, stop := context.WithTimeoutCause(ctx, timeout, deadlineErr)
	defer stop()

	// final guards against a progress message overtaking the final reply.
	var final sync.Mutex
	finished := false
	if req.Progress {
		job.Progress = func(f float64) {
			final.Lock()
			defer final.Unlock()
			if !finished {
				if msg, err := wire.EncodeReplyMessage(&wire.Reply{ID: req.ID, Progress: &f}, replyBinary(req)); err == nil {
					s.trySend(outMsg{msg: msg})
				}
			}
		}
	}

	var out *executor.Outcome
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = wire.Errorf(wire.Internal, "%s: executor %s panicked: %v", req.Op, execName, p)
			}
		}()
		out, err = ex.Run(ctx, job)
	}()
	if err == nil {
		err = tooLate(ctx, deadlineErr)
	}

	// The id leaves the in-flight set before the reply is queued, so that a
	// client reusing it right after the reply is not refused as a duplicate.
	s.mu.Lock()
	delete(s.inflight, req.ID)
	s.mu.Unlock()
	s.srv.inflight.Add(-1)

	final.Lock()
	finished = true
	final.Unlock()
	s.srv.metrics.answered(req.Op, execName, job.Impl, err, out)
	s.served.Add(1)
	if err != nil {
		if mem.out.seal() {
			// The kernel may still be writing into the client's window
			// (it stops soon after a cancel): the client reuses the
			// window once it has the reply.
			<-mem.out.kernelDone
		}
		mem.out.done() // the reply holds no results
		s.replyError(replyBinary(req), req.Op, req.ID, err)
	} else {
		placeResults(out.Result, mem, req.ShmOut)
		s.replyHolding(req, out.Result, &wire.Stats{Exec: cmp.Or(out.Exec, execName), Impl: job.Impl,
			QueueUS: out.QueueUS, RunUS: out.RunUS, Worker: out.Worker,
			Node: cmp.Or(out.Node, s.srv.cfg.NodeName)}, mem.out.done)
	}
	s.pending.Add(-1)
}

// tooLate is the error of a request whose kernel succeeded after the
// request ended: past its deadline (deadlineErr), or cancelled (by the
// client, the connection's end or shutdown). A kernel looks at its cancel
// flag only between blocks, and a busy machine may run it long after the
// flag was set; its result is then not sent, whatever the executor, so that
// the reply says what the protocol promises. nil if the request is still
// live.
func tooLate(ctx context.Context, deadlineErr error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	// The timer that ends ctx may not have run yet on a loaded machine.
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return deadlineErr
	}
	return nil
}

// reply queues a success reply in the form the request asked for.
func (s *session) reply(req *wire.Request, res wire.Result, stats *wire.Stats) {
	s.replyHolding(req, res, stats, nil)
}

// replyHolding is reply for results in memory that release gives back
// once the reply has been written or dropped (release may be nil).
func (s *session) replyHolding(req *wire.Request, res wire.Result, stats *wire.Stats, release func()) {
	msg, err := wire.EncodeReplyMessage(&wire.Reply{ID: req.ID, OK: true, Result: res, Stats: stats}, replyBinary(req))
	if err != nil {
		if release != nil {
			release()
		}
		s.replyError(replyBinary(req), req.Op, req.ID, wire.Errorf(wire.Internal, "%s: encoding the reply: %v", req.Op, err))
		return
	}
	s.send(outMsg{msg: msg, release: release})
}

// replyError queues a failure reply; internal errors are also logged.
func (s *session) replyError(binary bool, op string, id int64, err error) {
	e := wire.AsError(err)
	if e.Code == wire.Internal {
		s.srv.cfg.Log.Error("internal error", "remote", s.remote, "op", op, "id", id, "err", e.Message)
	}
	msg, encErr := wire.EncodeReplyMessage(&wire.Reply{ID: id, Error: e}, binary)
	if encErr != nil { // cannot happen for an error reply; never lose the reply silently
		s.srv.cfg.Log.Error("encoding an error reply", "err", encErr)
		return
	}
	s.send(outMsg{msg: msg})
}

// replyBinary tells whether req's replies use the binary form.
func replyBinary(req *wire.Request) bool {
	switch req.Reply {
	case "binary":
		return true
	case "text":
		return false
	}
	return req.Binary
}

// checkArgs refuses argument tensors over the element limit before any
// work is done on them.
func (srv *Server) checkArgs(op *kernels.Op, args wire.Args) error {
	for name, v := range args {
		if v.Tensor != nil && int64(v.Tensor.Len()) > srv.cfg.MaxElements {
			return wire.Errorf(wire.TooLarge, "%s: argument %q holds %d elements; this server's limit is %d (--max-elements)",
				op.Name, name, v.Tensor.Len(), srv.cfg.MaxElements)
		}
	}
	return nil
}

// chooseExecutor picks the executor a request asked for or, for "auto",
// the one the exec profile chooses for the call's op and size.
func (srv *Server) chooseExecutor(name string, call *kernels.Call) (string, executor.Executor, error) {
	auto := name == "" || name == executor.NameAuto
	if auto {
		name = srv.cfg.Profile.Choose(call.Op.Name, call.Work, func(n string) bool {
			_, ok := srv.cfg.Executors[n]
			return ok
		})
		// Cluster: auto's pool work goes to the cluster when the pool's
		// queue is full (--nats-spill).
		if name == executor.NamePool && srv.cfg.AutoSpill != nil {
			return name, srv.cfg.AutoSpill, nil
		}
	}
	ex, ok := srv.cfg.Executors[name]
	if !ok {
		return "", nil, wire.Errorf(wire.NotFound, "exec %q is not available on this server (has %v)", name, srv.execNames())
	}
	if auto && name == executor.NameDirect {
		// Every direct slot busy: the pool's workers, not a wait for
		// direct (a request that asked for direct waits for a slot).
		if l := ex.Load(); l.Slots > 0 && (l.Busy >= l.Slots || l.Queued > 0) {
			if pool, ok := srv.cfg.Executors[executor.NamePool]; ok {
				return executor.NamePool, pool, nil
			}
		}
	}
	return name, ex, nil
}
