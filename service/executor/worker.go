package executor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// WorkerMain is a subprocess worker's whole life (`crunch worker`): it
// announces itself on out, then runs the jobs that arrive on in, one at a
// time, through the same code path as the in-process executors, answering
// each with progress frames (when asked) and one result frame. A cancel
// frame cancels the running job's kernel. It returns nil when in ends (the
// server closed the pipe), and an error if the pipe breaks or the server
// breaks the protocol.
//
// When out is the process's standard output, WorkerMain moves the frames
// to a private descriptor and points descriptor 1 at standard error, so
// that a stray print (from Go or C code) lands in the server's log instead
// of corrupting the pipe.
func WorkerMain(in io.Reader, out io.Writer, reg *kernels.Registry) error {
	out, err := privateStdout(out)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	in, closeIn := pollableReader(in)
	defer closeIn()
	w := &workerConn{
		out:     bufio.NewWriterSize(out, 64<<10),
		reg:     reg,
		cancels: make(map[int64]context.CancelFunc),
	}
	hello, _ := json.Marshal(helloMsg{Protocol: pipeProtocol, PID: os.Getpid()})
	if err := writeFrame(w.out, frameHello, hello); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// Frames are read on their own goroutine so that a cancel is seen
	// while a job runs; jobs run here, one at a time.
	jobs := make(chan *workerJob, 16)
	readErr := make(chan error, 1)
	go func() { readErr <- w.read(bufio.NewReaderSize(in, 64<<10), jobs) }()
	for j := range jobs {
		if err := w.run(j); err != nil {
			// The server is gone or broken; the process exits with this
			// error, taking the reader with it.
			w.cancelAll()
			return fmt.Errorf("worker: %w", err)
		}
	}
	if err := <-readErr; err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// privateStdout returns out itself unless it is descriptor 1, which it
// duplicates to a new close-on-exec, non-blocking (poller-driven)
// descriptor before redirecting 1 to 2.
func privateStdout(out io.Writer) (io.Writer, error) {
	f, ok := out.(*os.File)
	if !ok || fdOf(f) != 1 {
		return out, nil
	}
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("duplicating stdout: %w", err)
	}
	if err := unix.Dup2(2, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("redirecting stdout to stderr: %w", err)
	}
	unix.SetNonblock(fd, true) // if it fails, the file just blocks a thread
	return os.NewFile(uintptr(fd), "frames"), nil
}

// pollableReader returns a pipe given as an *os.File as a duplicate in
// non-blocking mode, so that Go waits for it in its network poller instead
// of parking a thread in read(2): that saves about a tenth of a job's round
// trip. Anything else is returned as it is. done closes the duplicate.
func pollableReader(in io.Reader) (r io.Reader, done func()) {
	f, ok := in.(*os.File)
	if !ok {
		return in, func() {}
	}
	fd := fdOf(f)
	var st unix.Stat_t
	if fd < 0 || unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return in, func() {}
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return in, func() {}
	}
	if unix.SetNonblock(dup, true) != nil {
		unix.Close(dup)
		return in, func() {}
	}
	// NewFile sees the non-blocking mode and registers with the poller.
	p := os.NewFile(uintptr(dup), f.Name())
	return p, func() { p.Close() }
}

// fdOf returns f's descriptor, or -1. Unlike f.Fd, it leaves f's mode
// alone.
func fdOf(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// workerConn is the worker's side of the pipe.
type workerConn struct {
	reg *kernels.Registry

	// wmu serializes frames on out: progress comes from runHere's
	// reporting goroutine, results from the job loop.
	wmu sync.Mutex
	out *bufio.Writer

	mu      sync.Mutex
	cancels map[int64]context.CancelFunc // jobs read and not yet answered
}

// workerJob is one job as the reader decoded it.
type workerJob struct {
	id     int64
	req    *wire.Request
	err    error // the request could not be decoded: answer with it
	ctx    context.Context
	cancel context.CancelFunc

	finished bool // guarded by workerConn.wmu: no progress after the result
}

// read reads frames until in ends, queueing jobs and cancelling them on
// request. Its job context exists from the moment the job frame is read,
// so a cancel that overtakes the job's start is not lost. When in ends,
// every job is cancelled: nobody is waiting for their results.
func (w *workerConn) read(r *bufio.Reader, jobs chan<- *workerJob) error {
	defer close(jobs)
	defer w.cancelAll()
	for {
		f, err := readFrame(r, frameJob, frameCancel)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch f.kind {
		case frameCancel:
			id, err := parseCancel(f.payload)
			if err != nil {
				return err
			}
			w.mu.Lock()
			if cancel := w.cancels[id]; cancel != nil {
				cancel()
			}
			w.mu.Unlock()
		case frameJob:
			req, err := wire.DecodeRequest(true, f.payload)
			if req == nil {
				return fmt.Errorf("pipe protocol: undecodable job: %w", err)
			}
			j := &workerJob{id: req.ID, req: req, err: err}
			j.ctx, j.cancel = context.WithCancel(context.Background())
			w.mu.Lock()
			w.cancels[j.id] = j.cancel
			w.mu.Unlock()
			jobs <- j
		}
	}
}

// cancelAll cancels every job not yet answered.
func (w *workerConn) cancelAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cancel := range w.cancels {
		cancel()
	}
}

// run runs one job and sends its result. Its error is the pipe's: the job's
// own failure travels in the result.
func (w *workerConn) run(j *workerJob) error {
	rep := w.execute(j)
	w.mu.Lock()
	delete(w.cancels, j.id)
	w.mu.Unlock()
	j.cancel()

	msg, _, err := wire.EncodeReply(rep, true)
	if err != nil {
		msg, _, err = wire.EncodeReply(&wire.Reply{ID: j.id, Error: wire.Errorf(wire.Internal,
			"%s: encoding the result: %v", j.req.Op, err)}, true)
		if err != nil {
			return fmt.Errorf("encoding an error reply: %w", err)
		}
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	j.finished = true
	return writeFrame(w.out, frameResult, msg)
}

// execute prepares and runs j, returning its reply.
func (w *workerConn) execute(j *workerJob) *wire.Reply {
	fail := func(err error) *wire.Reply { return &wire.Reply{ID: j.id, Error: wire.AsError(err)} }
	if j.err != nil {
		return fail(j.err)
	}
	op, err := w.reg.Lookup(j.req.Op)
	if err != nil {
		return fail(err)
	}
	impl, err := op.Resolve(j.req.Impl)
	if err != nil {
		return fail(err)
	}
	call, err := op.Prepare(j.req.Args)
	if err != nil {
		return fail(err)
	}
	job := &Job{Call: call, Impl: impl, Args: j.req.Args}
	if j.req.Progress {
		job.Progress = func(f float64) { w.progress(j, f) }
	}
	res, err := runHere(j.ctx, job)
	if err != nil {
		return fail(err)
	}
	return &wire.Reply{ID: j.id, OK: true, Result: res}
}

// progress sends a progress frame for j unless its result went already.
// A failed write is left to the result's write to report.
func (w *workerConn) progress(j *workerJob, f float64) {
	msg, _, err := wire.EncodeReply(&wire.Reply{ID: j.id, Progress: &f}, true)
	if err != nil {
		return
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if !j.finished {
		writeFrame(w.out, frameProgress, msg)
	}
}
