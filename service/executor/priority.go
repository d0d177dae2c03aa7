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
	// others.
	PriorityLow Priority = "low"
	// PriorityIdle is SCHED_IDLE: the thread runs only when no normal
	// thread wants the CPU (weight 3 against 1024).
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
		// A thread that ended since the listing is no error.
		if err := p.apply(tid); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("process %d: %w", pid, err)
		}
	}
	return nil
}
