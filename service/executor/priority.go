package executor

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Priority is the CPU scheduling class of the threads that run kernels (the
// pool's workers, the subprocess workers). Below normal, the kernel's
// scheduler hands a CPU to a thread serving a socket as soon as that thread
// wakes, instead of making it wait out a compute thread's time slice: that
// is what keeps ping round trips short while every core computes. A thread
// can always lower its own priority; raising it back would need
// CAP_SYS_NICE, which is why only threads that compute for their whole life
// are lowered.
type Priority string

// The priorities, as --compute-priority spells them.
const (
	// PriorityNormal leaves threads as they are.
	PriorityNormal Priority = "normal"
	// PriorityLow is SCHED_BATCH at nice 19: about 1/70 of a normal
	// thread's share of a contended CPU, and no wake-up preemption of
	// others. `crunch serve`'s default.
	PriorityLow Priority = "low"
	// PriorityIdle is SCHED_IDLE: the thread runs only when no normal
	// thread wants the CPU (weight 3 against 1024). Not the default: with
	// compute in SCHED_IDLE or in an idle cgroup, a Python client's pings
	// waited about twice as long at the 99th percentile as with the same
	// compute at low priority in a cgroup of the least weight, which takes
	// no more of the CPU (docs/PERFORMANCE.md).
	PriorityIdle Priority = "idle"
)

// ParsePriority checks a --compute-priority value.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(s); p {
	case PriorityNormal, PriorityLow, PriorityIdle:
		return p, nil
	case "":
		return PriorityNormal, nil
	}
	return "", fmt.Errorf("compute priority %q: want normal, low or idle", s)
}

// apply sets the priority of thread tid (0: the calling thread).
func (p Priority) apply(tid int) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr}
	switch p {
	case "", PriorityNormal:
		return nil
	case PriorityLow:
		attr.Policy, attr.Nice = unix.SCHED_BATCH, 19
	case PriorityIdle:
		attr.Policy = unix.SCHED_IDLE
	default:
		return fmt.Errorf("unknown compute priority %q", string(p))
	}
	if err := unix.SchedSetAttr(tid, &attr, 0); err != nil {
		return fmt.Errorf("setting thread %d to %s priority: %w", tid, p, err)
	}
	return nil
}

// ApplyToProcess sets the priority of every thread of process pid (0: this
// one). Threads created later inherit it from the thread that creates them,
// so a process lowered early stays lowered.
func (p Priority) ApplyToProcess(pid int) error {
	if p == "" || p == PriorityNormal {
		return nil
	}
	return forEachThread(pid, p.apply)
}

// raiseToNormal gives thread tid normal priority back (SCHED_OTHER, nice
// 0). A thread below normal needs CPU time to notice a cancel, and even to
// exit: with the machine's other work at normal priority a SCHED_IDLE
// thread can wait seconds for it, holding up a drain, a second signal's
// exit (the process ends when its last thread has), or a killed worker's
// end. Raising needs CAP_SYS_NICE or a permissive RLIMIT_NICE; without
// them it fails with EPERM and changes nothing.
func raiseToNormal(tid int) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
	if err := unix.SchedSetAttr(tid, &attr, 0); err != nil {
		return fmt.Errorf("raising thread %d to normal priority: %w", tid, err)
	}
	return nil
}

// raiseProcessToNormal gives every thread of process pid normal priority
// back (see raiseToNormal).
func raiseProcessToNormal(pid int) error {
	return forEachThread(pid, raiseToNormal)
}

// forEachThread calls fn for every thread of process pid (0: this one),
// stopping at its first error; a thread that ended since the listing is no
// error.
func forEachThread(pid int, fn func(tid int) error) error {
	if pid == 0 {
		pid = os.Getpid()
	}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing the threads of process %d: %w", pid, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := fn(tid); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("process %d: %w", pid, err)
		}
	}
	return nil
}
