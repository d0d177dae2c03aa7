package executor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An arena is the shared memory between the server and one worker process:
// a memfd that both map MAP_SHARED. Its first page is the control page
// (sequence numbers, sleep flags and settings, see the ctl* offsets); the
// rest holds one job message, then that job's result message. Jobs and
// results are laid out there by shmMsg and read back by shmReader; the pipe
// carries only wake-ups, cancels, progress and the hello (see pipe.go).
//
// Each side maps arenaReserve bytes of address space once, at start, and
// the file grows inside that mapping (ftruncate) when a message needs more:
// nobody ever remaps, so no slice into the arena can be left dangling by a
// growth. The file is sealed against shrinking, so a size once seen stays
// valid: touching a page beyond the file's end would kill the process with
// SIGBUS, and a worker cannot make the server do that by truncating.
type arena struct {
	f    *os.File // owns the descriptor
	fd   int
	mem  []byte // the whole reservation; only [0, size) is backed by the file
	size int    // the file's size as this side last saw or made it (a lower bound)
	peak int    // the end of the last job's result: what release may give back
}

// The arena's geometry.
const (
	// arenaCtlSize is the control page; messages start after it.
	arenaCtlSize = 4096
	// maxMessage bounds one job or one result (header and tensors).
	maxMessage = 2 << 30
	// arenaReserve is the address space each side maps: a largest job and
	// a largest result fit with room for alignment.
	arenaReserve = 8 << 30
	// arenaInitial is the file's size at start: small jobs never grow it.
	arenaInitial = 1 << 20
	// arenaKeep is what an arena keeps backed between jobs; pages beyond it
	// are given back to the system once its slot has been idle for
	// arenaIdleRelease, so a worker that once took a gigabyte does not
	// hold it for life, and one that takes large jobs back to back does
	// not fault their pages in again for each.
	arenaKeep = 64 << 20
)

// arenaIdleRelease is how long a slot waits for its next job before it
// gives back the pages beyond arenaKeep.
const arenaIdleRelease = 2 * time.Second

// Offsets in the control page. A word written by the server and one
// written by the worker never share a 64-byte cache line, so that a side
// spinning on one does not slow the other's writes.
const (
	ctlMagic    = 0  // uint32 arenaMagic, written before the worker starts
	ctlVersion  = 4  // uint32 pipeProtocol
	ctlSpinNS   = 8  // uint64: how long the worker polls for its next job
	ctlPriority = 16 // uint32: the worker's scheduling priority (priorityCode)

	ctlJobSeq = 64 // uint32, server: the number of jobs posted
	ctlJobHdr = 72 // uint64, server: the posted job's header length (the job starts at arenaCtlSize)
	ctlCancel = 80 // uint64, server: the id of the job it wants cancelled
	// uint64, server: the id of the job whose helper threads must leave
	// its kernel between two tasks (worker_threads.go)
	ctlHelpStop = 88

	ctlTaken   = 128 // uint32, worker: the sequence number of the last job it took
	ctlHelping = 136 // uint32, worker: helper threads inside the running job's kernel

	ctlWorkerSleeping = 192 // uint32, set by the worker, cleared by the server: wake it through the pipe

	ctlResSeq = 256 // uint32, worker: the number of results posted
	ctlResOff = 264 // uint64, worker: where the result message starts
	ctlResHdr = 272 // uint64, worker: its header length

	ctlServerSleeping = 320 // uint32, set by the server, cleared by the worker: wake it through the pipe
)

// arenaMagic marks a control page written by this code ("CRNA").
const arenaMagic = 0x414e5243

// newArena creates a worker's arena (server side): an empty memfd of
// arenaInitial bytes, sealed against shrinking, mapped, with its control
// page filled in.
func newArena(spin time.Duration, prio Priority) (*arena, error) {
	fd, err := unix.MemfdCreate("crunch-arena", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("creating the shared memory arena (memfd_create): %w", err)
	}
	f := os.NewFile(uintptr(fd), "crunch-arena")
	fail := func(what string, err error) (*arena, error) {
		f.Close()
		return nil, fmt.Errorf("setting up the shared memory arena: %s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, arenaInitial); err != nil {
		return fail("ftruncate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
		return fail("sealing it against shrinking", err)
	}
	a, err := mapArena(f, fd, arenaInitial)
	if err != nil {
		f.Close()
		return nil, err
	}
	code, err := priorityCode(prio)
	if err != nil {
		a.close()
		return nil, err
	}
	binary.LittleEndian.PutUint32(a.mem[ctlVersion:], pipeProtocol)
	binary.LittleEndian.PutUint64(a.mem[ctlSpinNS:], uint64(max(spin, 0)))
	binary.LittleEndian.PutUint32(a.mem[ctlPriority:], code)
	a.u32(ctlMagic).Store(arenaMagic) // last: the page is complete once this reads right
	return a, nil
}

// openArena maps the arena the server passed as descriptor fd (worker
// side) and checks its control page.
func openArena(fd int) (*arena, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("arena descriptor %d: %w", fd, err)
	}
	if st.Size < arenaCtlSize {
		return nil, fmt.Errorf("arena descriptor %d holds %d bytes, less than its control page", fd, st.Size)
	}
	a, err := mapArena(os.NewFile(uintptr(fd), "crunch-arena"), fd, int(st.Size))
	if err != nil {
		return nil, err
	}
	if m := a.u32(ctlMagic).Load(); m != arenaMagic {
		a.close()
		return nil, fmt.Errorf("arena descriptor %d: bad magic %#x: not a crunch arena", fd, m)
	}
	if v := binary.LittleEndian.Uint32(a.mem[ctlVersion:]); v != pipeProtocol {
		a.close()
		return nil, fmt.Errorf("arena written for pipe protocol %d, this worker speaks %d: is the worker command the same binary?", v, pipeProtocol)
	}
	return a, nil
}

// mapArena maps the whole reservation over f, size bytes of which exist.
func mapArena(f *os.File, fd, size int) (*arena, error) {
	// MAP_NORESERVE: the reservation is address space, not memory; only
	// pages of the file that are touched take memory.
	mem, err := unix.Mmap(fd, 0, arenaReserve, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mapping the shared memory arena (%d bytes of address space): %w", arenaReserve, err)
	}
	return &arena{f: f, fd: fd, mem: mem, size: size}, nil
}

// close unmaps the arena and closes its descriptor. Nothing may use a
// slice of it afterwards: results are copied out of it (see shmReader), so
// none escapes.
func (a *arena) close() {
	if a.mem != nil {
		unix.Munmap(a.mem)
		a.mem = nil
	}
	a.f.Close()
}

// u32 and u64 return the control word at off for atomic access. Both
// processes use the same lock-free instructions on the same memory, which
// is what makes sync/atomic valid across them.
func (a *arena) u32(off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&a.mem[off])) }
func (a *arena) u64(off int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&a.mem[off])) }

// spin reads the settings the server wrote in the control page.
func (a *arena) spin() time.Duration {
	return time.Duration(binary.LittleEndian.Uint64(a.mem[ctlSpinNS:]))
}

// priority reads the worker priority the server wrote in the control page.
func (a *arena) priority() (Priority, error) {
	return priorityOf(binary.LittleEndian.Uint32(a.mem[ctlPriority:]))
}

// backed reports whether [0, end) lies inside the file, asking the kernel
// for its size when end lies beyond what this side knew: the other side
// may have grown it.
func (a *arena) backed(end int) bool {
	if end <= a.size {
		return true
	}
	if end > len(a.mem) {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(a.fd, &st) == nil && int(st.Size) > a.size {
		a.size = int(min(st.Size, int64(len(a.mem))))
	}
	return end <= a.size
}

// grow makes the file at least end bytes long, growing it by at least half
// so that a run of growing jobs does not grow it every time.
func (a *arena) grow(end int) error {
	if a.backed(end) {
		return nil
	}
	if end > len(a.mem) {
		return fmt.Errorf("a message ending at byte %d does not fit the %d-byte arena", end, len(a.mem))
	}
	n := min(max(end, a.size+a.size/2), len(a.mem))
	n = (n + arenaInitial - 1) &^ (arenaInitial - 1)
	if err := unix.Ftruncate(a.fd, int64(n)); err != nil {
		return fmt.Errorf("growing the shared memory arena to %d bytes: %w", n, err)
	}
	a.size = n
	return nil
}

// holdsExtra reports whether the jobs since the last release used pages
// beyond arenaKeep.
func (a *arena) holdsExtra() bool { return a.peak > arenaKeep }

// release gives back the pages beyond arenaKeep that the last jobs used
// (server side, between jobs, while the worker does not touch them). The
// file keeps its size; the pages read as zeros and take memory again when
// the next big job writes them.
func (a *arena) release() {
	if a.peak <= arenaKeep {
		return
	}
	end := min(a.peak, a.size)
	a.peak = 0
	if end > arenaKeep {
		// A failure only costs memory: the pages stay as they were.
		unix.Fallocate(a.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, arenaKeep, int64(end-arenaKeep))
	}
}

// spinUntilChange polls w for up to d and reports whether it stopped
// holding old (spinYielding).
func spinUntilChange(w *atomic.Uint32, old uint32, d time.Duration) bool {
	return spinYielding(func() bool { return w.Load() != old }, d)
}

// spinYielding polls cond for up to d and reports whether it became true.
// It reads the clock only every few dozen polls (a poll is a load, the
// clock ten times that), and between rounds lets this process's other
// goroutines run, so that polling never delays them by more than a few
// microseconds. Past the first spinAlone it also yields the CPU to other
// threads at each round: when the CPUs are busy, the thread it waits for
// may be queued behind this very poller, which would otherwise hold the
// CPU for its whole time slice (measured with other load on two CPUs:
// without the yield, polling made a round trip slower than not polling at
// all).
func spinYielding(cond func() bool, d time.Duration) bool {
	if d <= 0 {
		return cond()
	}
	start := time.Now()
	deadline := start.Add(d)
	for {
		for range 64 {
			if cond() {
				return true
			}
		}
		now := time.Now()
		if now.After(deadline) {
			return cond()
		}
		runtime.Gosched()
		if now.Sub(start) > spinAlone {
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// spinAlone is how long a poller keeps its CPU before yielding it at each
// round: about the shortest turn-around of the other side.
const spinAlone = 2 * time.Microsecond

// priorityCode and priorityOf carry a Priority through the control page.
func priorityCode(p Priority) (uint32, error) {
	switch p {
	case "", PriorityNormal:
		return 0, nil
	case PriorityLow:
		return 1, nil
	case PriorityIdle:
		return 2, nil
	}
	return 0, fmt.Errorf("unknown worker priority %q", string(p))
}

func priorityOf(code uint32) (Priority, error) {
	switch code {
	case 0:
		return PriorityNormal, nil
	case 1:
		return PriorityLow, nil
	case 2:
		return PriorityIdle, nil
	}
	return "", fmt.Errorf("arena: unknown priority code %d", code)
}

// errArenaBounds is what a reader reports for a message reaching outside
// the arena's file.
var errArenaBounds = errors.New("message reaches beyond the shared memory arena")
