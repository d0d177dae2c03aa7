package executor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/service/spawn"
)

// workerProc is one worker process seen from the server: its arena, its
// pipes, the goroutines that serve them, and how it ended. The slot that
// owns it is the only one to post jobs, send frames and receive from
// frames.
type workerProc struct {
	pid     int
	group   *ComputeGroup // the cgroup its threads joined, if any
	started time.Time
	cmd     *exec.Cmd
	log     *slog.Logger
	arena   *arena
	seq     uint32 // jobs posted to it (ctlJobSeq)
	jobs    int    // jobs it ran or began, for SubprocessConfig.MaxJobs

	stdin  *os.File   // frames to the worker; closing it tells the worker to exit
	frames chan frame // from the reader goroutine; closed when stdout ends or breaks
	// readErr says why frames was closed (nil: stdout ended cleanly). Read
	// it only after frames is closed.
	readErr error
	retired chan struct{} // closed by retire: the reader stops forwarding
	exited  chan struct{} // closed once the process is reaped; state is set then
	state   *os.ProcessState

	stderrDone chan struct{} // closed when the worker's stderr ends
	mu         sync.Mutex
	firstLine  string // the first stderr line since markStderr, for exit reports

	goroutines sync.WaitGroup // reader, stderr logger, waiter
	stdinOnce  sync.Once
	retireOnce sync.Once
}

// arenaEnv tells a worker which descriptor holds its arena: the first of
// exec.Cmd.ExtraFiles is descriptor 3 in the child.
const arenaEnv = "CRUNCH_WORKER_ARENA=3"

// startWorker starts one worker process through sp and waits for its hello.
// It gives up after cfg.StartTimeout, or with ErrClosed when stop is
// closed, leaving no process behind.
func startWorker(cfg *SubprocessConfig, sp *spawn.Spawner, stop <-chan struct{}) (*workerProc, error) {
	var files []*os.File // every pipe end; the parent's are kept below
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	ar, err := newArena(cfg.Spin, cfg.Priority)
	if err != nil {
		return nil, err
	}
	inR, inW, err := pipe()
	if err != nil {
		ar.close()
		return nil, fmt.Errorf("creating stdin pipe: %w", err)
	}
	outR, outW, err := pipe()
	if err != nil {
		closeAll()
		ar.close()
		return nil, fmt.Errorf("creating stdout pipe: %w", err)
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		ar.close()
		return nil, fmt.Errorf("creating stderr pipe: %w", err)
	}

	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = append(append(os.Environ(), cfg.Env...), arenaEnv)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.ExtraFiles = []*os.File{ar.f}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The kernel kills the worker when the thread that started it
		// exits: sp's thread lives as long as the executor, so workers die
		// with the server however it ends.
		Pdeathsig: syscall.SIGKILL,
		// Its own process group: a terminal's ^C goes to the server alone,
		// which then drains its workers instead of losing them mid-job.
		Setpgid: true,
	}
	if cfg.Priority != "" && cfg.Priority != PriorityNormal {
		// Below normal, a session of its own (and so a process group of
		// its own too; setpgid would fail in a session leader): with
		// autogroup scheduling that is a scheduling group of its own,
		// whose nice the worker lowers (lowerAutogroup), which keeps it
		// below other sessions' threads where no compute cgroup can be
		// made.
		cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Setsid = false, true
	}
	if err := sp.Start(cmd); err != nil {
		closeAll()
		ar.close()
		return nil, fmt.Errorf("starting %s: %w", strings.Join(cfg.Command, " "), err)
	}
	// The child has its ends; the parent keeps only its own.
	inR.Close()
	outW.Close()
	errW.Close()

	p := &workerProc{
		pid:        cmd.Process.Pid,
		started:    time.Now(),
		cmd:        cmd,
		log:        cfg.Log.With("pid", cmd.Process.Pid),
		arena:      ar,
		stdin:      inW,
		frames:     make(chan frame),
		retired:    make(chan struct{}),
		exited:     make(chan struct{}),
		stderrDone: make(chan struct{}),
	}
	p.goroutines.Add(3)
	go p.wait()
	go p.readStdout(outR)
	go p.logStderr(errR)

	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case f, ok := <-p.frames:
		if !ok {
			if p.readErr != nil {
				p.retire()
				return nil, fmt.Errorf("worker %d: %w", p.pid, p.readErr)
			}
			p.retire()
			return nil, fmt.Errorf("worker %d %s before its hello%s", p.pid, p.exitReason(), p.lastWords())
		}
		h, err := parseHello(f.payload)
		if err != nil {
			p.retire()
			return nil, fmt.Errorf("worker %d: %w", p.pid, err)
		}
		if h.PID != p.pid {
			p.log.Warn("worker announced another pid: is its command a wrapper that forks?", "announced", h.PID)
		}
		if g := cfg.Group; g != nil {
			// After the hello: the worker has lowered its threads and is
			// idle until its first job.
			if err := g.AddProcess(p.pid); err != nil {
				p.log.Warn("worker runs outside the compute cgroup", "err", err)
			} else {
				p.group = g
			}
		}
		if cfg.MemoryLimit > 0 {
			if err := p.limitMemory(cfg.MemoryLimit); err != nil {
				p.retire()
				return nil, err
			}
		}
		return p, nil
	case <-timer.C:
		p.retire()
		return nil, fmt.Errorf("worker %d sent no hello within %v (command %q)", p.pid, cfg.StartTimeout, cfg.Command)
	case <-stop:
		p.retire()
		return nil, ErrClosed
	}
}

// limitMemory caps the worker's address space (RLIMIT_AS) at what it
// holds now, idle, plus extra. A Go process reserves well over a gigabyte
// of address space it never touches, so an absolute limit would mean little;
// relative to the idle worker it approximates what a job may allocate. The
// idle worker's address space includes its whole arena mapping
// (arenaReserve), so arguments and results in the arena do not count
// against extra: what counts is what the job allocates itself, its result
// included until it is copied into the arena. It is set after the hello,
// before any job: the worker is idle meanwhile.
func (p *workerProc) limitMemory(extra int64) error {
	statm, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", p.pid))
	if err != nil {
		return fmt.Errorf("worker %d: reading its size for the memory limit: %w", p.pid, err)
	}
	var pages int64
	if _, err := fmt.Sscan(string(statm), &pages); err != nil {
		return fmt.Errorf("worker %d: parsing /proc/%d/statm %q: %w", p.pid, p.pid, statm, err)
	}
	limit := uint64(pages*int64(os.Getpagesize()) + extra)
	lim := unix.Rlimit{Cur: limit, Max: limit}
	if err := unix.Prlimit(p.pid, unix.RLIMIT_AS, &lim, nil); err != nil {
		return fmt.Errorf("worker %d: setting its memory limit (RLIMIT_AS %d bytes): %w", p.pid, limit, err)
	}
	return nil
}

// wait reaps the process as soon as it exits: never a zombie.
func (p *workerProc) wait() {
	defer p.goroutines.Done()
	p.cmd.Wait() // the exit status is in ProcessState; the error adds nothing
	p.state = p.cmd.ProcessState
	close(p.exited)
}

// readStdout forwards the worker's frames until its stdout ends, breaks, or
// the process is retired.
func (p *workerProc) readStdout(r *os.File) {
	defer p.goroutines.Done()
	defer r.Close()
	defer close(p.frames)
	br := bufio.NewReaderSize(r, 4096)
	first := true
	for {
		kinds := []byte{frameProgress, frameWake}
		if first {
			kinds = []byte{frameHello}
		}
		f, err := readFrame(br, kinds...)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.readErr = err
			}
			return
		}
		first = false
		select {
		case p.frames <- f:
		case <-p.retired:
			return
		}
	}
}

// logStderr logs each line the worker writes to stderr, tagged with its
// pid, and remembers the first since markStderr for exit reports.
func (p *workerProc) logStderr(r *os.File) {
	defer p.goroutines.Done()
	defer close(p.stderrDone)
	defer r.Close()
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadSlice('\n') // a longer line comes in pieces
		if s := strings.TrimRight(string(line), "\r\n"); s != "" {
			p.log.Warn("worker stderr: " + s)
			p.mu.Lock()
			if p.firstLine == "" {
				p.firstLine = s
			}
			p.mu.Unlock()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// markStderr forgets the stderr lines so far: an exit report then quotes
// what the worker said during the job that killed it.
func (p *workerProc) markStderr() {
	p.mu.Lock()
	p.firstLine = ""
	p.mu.Unlock()
}

// send writes a frame to the worker. Frames are a few bytes and the
// worker reads its stdin all the time, so this never blocks for long. A
// failed write means the worker is dying or broken: it is killed, and its
// death reaches the owner through frames.
func (p *workerProc) send(kind byte, payload []byte) {
	if err := writeFrame(p.stdin, kind, payload); err != nil {
		p.kill()
	}
}

// kill sends SIGKILL; a process already reaped is left alone (os.Process
// tracks it by pidfd, so a recycled pid is never hit). Its threads get
// normal priority first where that is allowed: a killed process still
// needs CPU time to die, which the machine's other work may deny a
// SCHED_IDLE one for seconds.
func (p *workerProc) kill() {
	p.raise()
	p.cmd.Process.Kill()
}

// raise gives the worker's threads normal priority, if it still runs and
// this process may (best effort: see raiseToNormal).
func (p *workerProc) raise() {
	select {
	case <-p.exited:
	default:
		raiseProcessToNormal(p.pid)
		raiseAutogroup(p.pid)
		if p.group != nil {
			p.group.LeaveProcess(p.pid)
		}
	}
}

// stop ends the process gently: its stdin closes so that it exits on its
// own (at normal priority, so that it gets the CPU to do so); after grace
// it is killed. It then waits for the process and the goroutines serving
// it.
func (p *workerProc) stop(grace time.Duration) {
	p.raise()
	p.closeStdin()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.log.Warn("worker did not exit after its stdin closed: killing it", "grace", grace)
		p.kill()
	}
	p.retire()
}

// retire kills the process if it still runs, reaps it, waits for every
// goroutine serving it and unmaps its arena. Safe to call more than once.
func (p *workerProc) retire() {
	p.kill()
	p.closeStdin()
	<-p.exited
	p.retireOnce.Do(func() {
		close(p.retired)
		p.goroutines.Wait()
		p.arena.close()
	})
}

// closeStdin closes the worker's stdin once: no frame may be sent after
// it.
func (p *workerProc) closeStdin() {
	p.stdinOnce.Do(func() { p.stdin.Close() })
}

// exitReason describes how the process ended, as in "killed by signal
// SIGSEGV" or "exited with status 3". It waits for the process to be reaped.
func (p *workerProc) exitReason() string {
	<-p.exited
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return "killed by signal " + unix.SignalName(ws.Signal())
	case ok && ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	}
	return "ended: " + p.state.String()
}

// lastWords returns " (stderr: <line>)" quoting the first stderr line since
// markStderr, or "" if the worker said nothing. Call it once the process
// has exited: it waits briefly for the stderr pipe to drain.
func (p *workerProc) lastWords() string {
	select {
	case <-p.stderrDone:
	case <-time.After(100 * time.Millisecond):
	}
	p.mu.Lock()
	said := p.firstLine
	p.mu.Unlock()
	if said == "" {
		return ""
	}
	if len(said) > 200 {
		said = said[:200] + "…"
	}
	return " (stderr: " + said + ")"
}
