package executor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/wire"
)

// WorkerMain is a subprocess worker's whole life (`crunch worker`): it maps
// the arena its server passed it, takes the priority the server asked for,
// announces itself on out, then runs the jobs posted in the arena, one at a
// time (each on the threads the server granted it, see worker_threads.go),
// through the same code path as the in-process executors, posting
// each result there and sending progress frames on out when asked. A cancel
// frame on in cancels the running job's kernel. It returns nil when in ends
// (the server closed the pipe), and an error if the pipe breaks or the
// server breaks the protocol. pipe.go describes the exchange.
//
// When out is the process's standard output, WorkerMain moves the frames
// to a private descriptor and points descriptor 1 at standard error, so
// that a stray print (from Go or C code) lands in the server's log instead
// of corrupting the pipe.
func WorkerMain(in io.Reader, out io.Writer, reg *kernels.Registry) error {
	a, err := workerArena()
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer a.close()
	prio, err := a.priority()
	if err == nil {
		err = lowerAllThreads(prio)
	}
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if err := lowerAutogroup(prio); err != nil {
		// Not fatal: the compute cgroup, where there is one, does more.
		fmt.Fprintf(os.Stderr, "worker: its autogroup keeps nice 0: %v\n", err)
	}
	out, err = privateStdout(out)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	in, closeIn := pollableReader(in)
	defer closeIn()
	w := &workerConn{
		a:    a,
		reg:  reg,
		out:  out,
		spin: a.spin(),
		// Results are computed in reused memory, copied into the arena,
		// and given back: no zeroing, no page faults once warm.
		results: NewPooledResults(msgbuf.New(arenaKeep, 5*time.Second)),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		runner:  newWorkerRunner(a),
	}
	defer w.runner.close() // before a.close: its helpers read the arena
	hello, _ := json.Marshal(helloMsg{Protocol: pipeProtocol, PID: os.Getpid()})
	if err := writeFrame(w.out, frameHello, hello); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// The pipe is read on its own goroutine, so that a cancel is seen
	// while a job runs; jobs run here, one at a time.
	go w.read(bufio.NewReaderSize(in, 4096))
	for {
		seq, ok := w.awaitJob()
		if !ok {
			break
		}
		if err := w.run(seq); err != nil {
			// The server is gone or broken; the process exits with this
			// error, taking the reader with it.
			return fmt.Errorf("worker: %w", err)
		}
	}
	if w.readErr != nil {
		return fmt.Errorf("worker: %w", w.readErr)
	}
	return nil
}

// workerArena maps the arena whose descriptor arenaEnv names.
func workerArena() (*arena, error) {
	name, val, _ := strings.Cut(arenaEnv, "=")
	s := os.Getenv(name)
	if s == "" {
		return nil, fmt.Errorf("no shared memory arena (%s is not set): a worker is started by crunch's subprocess executor", name)
	}
	if s != val {
		// Only the executor's own value is trusted: another descriptor
		// could be anything.
		return nil, fmt.Errorf("%s=%s, want %s", name, s, val)
	}
	fd, _ := strconv.Atoi(val)
	return openArena(fd)
}

// lowerAllThreads gives every thread of this process priority p. Threads
// created from a thread already lowered inherit it, but one could be
// created, by a thread not yet lowered, while the threads are listed: so it
// goes round until a listing finds no thread it had not seen.
func lowerAllThreads(p Priority) error {
	if p == "" || p == PriorityNormal {
		return nil
	}
	seen := -1
	for range 10 {
		if err := p.ApplyToProcess(0); err != nil {
			return err
		}
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("listing this process's threads: %w", err)
		}
		if len(tasks) == seen {
			return nil
		}
		seen = len(tasks)
	}
	return nil
}

// autogroupNice is the nice a worker below normal priority gives its
// autogroup: the least weight, 15 against a normal group's 1024.
const autogroupNice = 19

// lowerAutogroup gives this process's autogroup nice autogroupNice when p
// is below normal and the process leads its session (the server starts
// such workers with setsid), so that its autogroup is its own. A thread's
// SCHED_IDLE class counts only inside its scheduling group; measured with
// a SCHED_IDLE busy loop in a session of its own on one CPU and a thread
// woken on it every 5 ms, the wake-up p99 was 1.4–2.3 ms with the loop's
// autogroup at nice 0 and 0.08–0.14 ms at nice 19 (docs/PERFORMANCE.md).
// A kernel without autogroup, or with it disabled, makes this a no-op.
func lowerAutogroup(p Priority) error {
	if p == "" || p == PriorityNormal {
		return nil
	}
	if sid, _ := unix.Getsid(0); sid != os.Getpid() {
		return nil // the session, and its autogroup, are shared
	}
	if data, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled"); err != nil || strings.TrimSpace(string(data)) != "1" {
		return nil
	}
	var err error
	// Unprivileged writes are rate-limited to one every 100 ms, machine
	// wide (EAGAIN).
	for range 20 {
		if err = os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(autogroupNice)), 0); !errors.Is(err, unix.EAGAIN) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// raiseAutogroup gives worker pid's autogroup nice 0 back, if the worker
// leads its session (so that the autogroup is its own), for a worker given
// normal priority back (see PriorityRaiser). Best effort.
func raiseAutogroup(pid int) {
	if sid, err := unix.Getsid(pid); err == nil && sid == pid {
		os.WriteFile(fmt.Sprintf("/proc/%d/autogroup", pid), []byte("0"), 0)
	}
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
// of parking a thread in read(2). Anything else is returned as it is. done
// closes the duplicate.
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

// workerConn is the worker's side of the arena and the pipes.
type workerConn struct {
	a    *arena
	reg  *kernels.Registry
	spin time.Duration
	last uint32 // the sequence number of the last job taken
	msg  shmMsg // reused to lay out every result
	// results holds the running job's result tensors until they are
	// copied into the arena.
	results *PooledResults
	runner  *workerRunner // threads for jobs granted more than one

	// wmu serializes frames on out: progress comes from runHere's
	// reporting goroutine, wake-ups from the job loop.
	wmu sync.Mutex
	out io.Writer

	wake    chan struct{} // a wake frame came
	stop    chan struct{} // closed when in ends or breaks
	readErr error         // why in broke (nil: it ended); read it after stop is closed

	mu       sync.Mutex
	running  *workerJob // the job running now, for cancels
	canceled int64      // the last id a cancel frame named
}

// workerJob is the job running in the worker.
type workerJob struct {
	id     int64
	cancel context.CancelFunc

	finished bool // guarded by workerConn.wmu: no progress after the result
}

// read reads frames until in ends: wake-ups for the job loop, cancels for
// the running job. When in ends, the running job is cancelled (nobody is
// waiting for its result) and the job loop told to stop.
func (w *workerConn) read(r *bufio.Reader) {
	defer close(w.stop)
	defer w.cancel(-1)
	for {
		f, err := readFrame(r, frameWake, frameCancel)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.readErr = err
			}
			return
		}
		switch f.kind {
		case frameWake:
			select {
			case w.wake <- struct{}{}:
			default: // one is pending already
			}
		case frameCancel:
			id, err := parseID(f)
			if err != nil {
				w.readErr = err
				return
			}
			w.cancel(id)
		}
	}
}

// cancel cancels the running job if its id is id (-1: whatever it is),
// and remembers id for a job that has not started yet.
func (w *workerConn) cancel(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.canceled = id
	if j := w.running; j != nil && (id == -1 || j.id == id) {
		j.cancel()
	}
}

// awaitJob waits for the server's next job, polling the arena for a while
// before it sleeps until a wake frame; it returns the job's sequence
// number, or false once in has ended.
func (w *workerConn) awaitJob() (uint32, bool) {
	jobs, sleeping := w.a.u32(ctlJobSeq), w.a.u32(ctlWorkerSleeping)
	for {
		if spinUntilChange(jobs, w.last, w.spin) {
			w.last = jobs.Load()
			return w.last, true
		}
		// Set before the last look, so that a job posted after it comes
		// with a wake frame (pipe.go).
		sleeping.Store(1)
		if jobs.Load() != w.last {
			sleeping.Store(0)
			continue
		}
		if !w.idleRelease(jobs) {
			return 0, false
		}
	}
}

// workerIdleRelease is how long a worker sleeps without a job before it
// gives back the memory its kernels keep between calls.
const workerIdleRelease = 2 * time.Second

// idleRelease sleeps until a wake frame (true) or the end of in (false).
// If workerIdleRelease passes first, it releases the C library's kept
// work buffers and glibc's free pages, as the server does after a burst,
// and sleeps on: a worker process has no reclaimer of its own.
func (w *workerConn) idleRelease(jobs *atomic.Uint32) bool {
	t := time.NewTimer(workerIdleRelease)
	defer t.Stop()
	select {
	case <-w.wake:
		return true
	case <-w.stop:
		return false
	case <-t.C:
	}
	if jobs.Load() == w.last { // nothing came meanwhile
		cgo.ReleaseWorkBuffers()
		cgo.TrimMalloc()
	}
	select {
	case <-w.wake:
		return true
	case <-w.stop:
		return false
	}
}

// run takes job seq from the arena, runs it and posts its result. Its
// error is the protocol's: the job's own failure travels in the result.
func (w *workerConn) run(seq uint32) error {
	defer w.results.Release() // copied into the arena by then, or failed
	a := w.a
	a.u32(ctlTaken).Store(seq)
	r := newShmReader(a, arenaCtlSize, a.u64(ctlJobHdr).Load(), false)
	id, op, impl, progress, threads, args, err := r.job()
	if err != nil {
		return fmt.Errorf("pipe protocol: job %d: %w", seq, err)
	}
	w.runner.job.Store(id)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := &workerJob{id: id, cancel: cancel}
	w.mu.Lock()
	w.running = j
	// A cancel that overtook the job: by frame, or only in the arena.
	if w.canceled == id || w.canceled == -1 || int64(a.u64(ctlCancel).Load()) == id {
		cancel()
	}
	w.mu.Unlock()

	res, failure := w.execute(ctx, j, op, impl, args, progress, threads)
	w.mu.Lock()
	w.running = nil
	w.mu.Unlock()

	// The result goes after the job, whose arguments it may alias.
	off := alignMsg(r.end)
	if err := w.msg.result(id, res, failure); err != nil {
		w.msg.result(id, nil, wire.Errorf(wire.Internal, "%s: encoding the result: %v", op, err))
	}
	hdr := len(w.msg.hdr)
	_, err = w.msg.place(a, off)
	if err != nil {
		w.msg.result(id, nil, wire.Errorf(wire.TooLarge, "%s: the result does not fit the shared memory arena: %v", op, err))
		hdr = len(w.msg.hdr)
		if _, err := w.msg.place(a, off); err != nil {
			return fmt.Errorf("posting the result of job %d: %w", id, err)
		}
	}
	w.msg.reset()
	a.u64(ctlResOff).Store(uint64(off))
	a.u64(ctlResHdr).Store(uint64(hdr))
	w.wmu.Lock()
	j.finished = true
	w.wmu.Unlock()
	a.u32(ctlResSeq).Store(seq)
	// After the store: a server that set its flag before it sees the
	// result.
	if a.u32(ctlServerSleeping).Swap(0) != 0 {
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return writeFrame(w.out, frameWake, nil)
	}
	return nil
}

// execute prepares and runs a job on up to threads threads, returning its
// result or its failure.
func (w *workerConn) execute(ctx context.Context, j *workerJob, opName, impl string, args wire.Args, progress bool, threads int) (wire.Result, *wire.Error) {
	op, err := w.reg.Lookup(opName)
	if err != nil {
		return nil, wire.AsError(err)
	}
	if impl, err = op.Resolve(impl); err != nil {
		return nil, wire.AsError(err)
	}
	call, err := op.Prepare(args)
	if err != nil {
		return nil, wire.AsError(err)
	}
	job := &Job{Call: call, Impl: impl, Args: args, Out: w.results, Threads: threads}
	if progress {
		job.Progress = func(f float64) { w.progress(j, f) }
	}
	res, err := runHereWith(ctx, job, w.runner.setRunner)
	w.runner.jobEnded()
	if err != nil {
		return nil, wire.AsError(err)
	}
	return res, nil
}

// progress sends a progress frame for j unless its result went already.
// A failed write is left to the result's wake-up, or the server's end, to
// report.
func (w *workerConn) progress(j *workerJob, f float64) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if !j.finished {
		writeFrame(w.out, frameProgress, progressPayload(j.id, f))
	}
}
