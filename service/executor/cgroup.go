package executor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Why a cgroup as well as a scheduling class: the kernel's scheduler weighs
// groups of threads against each other before it looks at the threads
// inside a group, and a thread's SCHED_IDLE class or nice value counts only
// inside its own group. With autogroup scheduling
// (/proc/sys/kernel/sched_autogroup_enabled, on by default on many
// distributions) every session is such a group, and so is every cpu cgroup
// (a systemd service, a container). A client in another session or cgroup
// than the server's therefore meets the server's SCHED_IDLE compute threads
// as one group of full weight, and waits for the CPU until the running one
// has had its slice or the next tick, milliseconds (measured with perf
// sched: docs/PERFORMANCE.md, "Pings from other sessions"). A cpu cgroup of
// their own, marked idle (cpu.idle = 1), makes the compute threads idle at
// every level, against every thread on the machine.
//
// Only threads that never run Go code go there, for good: the subprocess
// workers, and the pool's shadows (pool_shadow.go), on which its workers
// run their C kernels. The pool's own threads run Go code between kernels
// (taking a job, delivering its result), and a thread that gets no CPU
// while anything else wants it must not hold one of the server's Ps or a
// runtime lock. Measured with 1 ms pool jobs and
// 4 busy loops in another session: pool threads kept in an idle group let
// pings wait 0.6-1.4 s (p99; 5 ms without the group); moved in and out
// around each kernel, 0.1-0.4 s, the moves themselves being cgroup
// migrations that a starved thread makes under a system-wide lock.

// ComputeGroup is a cpu cgroup that holds the compute threads (the
// subprocess workers, the pool's shadows): a child
// of the server's own cpu cgroup, named crunch-compute-PID, created by
// NewComputeGroup and removed by Close. With cgroup v1 any thread may be
// moved into it; with cgroup v2 it is a threaded cgroup, which needs the
// server's cgroup to be writable (root, or delegated to the server's user).
type ComputeGroup struct {
	dir           string // the group's directory
	parentDir     string // the server's own cgroup
	threadsFile   string // the file that takes one thread id: "tasks" (v1) or "cgroup.threads" (v2)
	setting       string // what made it low: "cpu.idle=1", say
	v2            bool
	removeOnClose bool
}

// cgroupMount is one cgroup hierarchy as /proc/self/mountinfo lists it.
type cgroupMount struct {
	point string // where it is mounted
	root  string // the hierarchy's directory shown there ("/" unless in a container)
	v2    bool
}

// NewComputeGroup creates the cgroup for compute threads of priority p:
// cpu.idle = 1 for PriorityIdle (the group runs only when nothing else on
// the machine wants the CPU), the least weight for PriorityLow (cpu.shares
// 2 in v1, cpu.weight 1 in v2). It returns nil and no error for
// PriorityNormal, and an error saying why where it cannot (no cpu
// controller, no permission, a kernel without cpu.idle): the caller runs
// without it.
func NewComputeGroup(p Priority) (*ComputeGroup, error) {
	if p == "" || p == PriorityNormal {
		return nil, nil
	}
	mounts, err := readCgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("reading this process's cgroups: %w", err)
	}
	parent, v2, err := cpuCgroupDir(mounts, string(own))
	if err != nil {
		return nil, err
	}
	return newComputeGroupIn(parent, v2, p, os.Getpid())
}

// newComputeGroupIn creates the group for process pid under parent, the
// process's cpu cgroup directory.
func newComputeGroupIn(parent string, v2 bool, p Priority, pid int) (*ComputeGroup, error) {
	removeStaleGroups(parent)
	g := &ComputeGroup{dir: filepath.Join(parent, fmt.Sprintf("crunch-compute-%d", pid)), parentDir: parent, v2: v2, threadsFile: "tasks"}
	if v2 {
		g.threadsFile = "cgroup.threads"
	}
	if err := os.Mkdir(g.dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("creating cpu cgroup %s: %w", g.dir, err)
	}
	g.removeOnClose = true
	fail := func(err error) (*ComputeGroup, error) {
		os.Remove(g.dir)
		return nil, err
	}
	if v2 {
		// A threaded child takes single threads of the processes in its
		// parent, which the cpu controller, enabled for the children,
		// then weighs apart.
		if err := writeCgroupFile(g.dir, "cgroup.type", "threaded"); err != nil {
			return fail(err)
		}
		if err := enableCPUController(parent); err != nil {
			return fail(err)
		}
	}
	var file, value string
	switch {
	case p == PriorityIdle:
		file, value = "cpu.idle", "1"
	case v2:
		file, value = "cpu.weight", "1"
	default:
		file, value = "cpu.shares", "2"
	}
	if err := writeCgroupFile(g.dir, file, value); err != nil {
		return fail(err)
	}
	g.setting = file + "=" + value
	return g, nil
}

// Dir returns the group's directory.
func (g *ComputeGroup) Dir() string { return g.dir }

// Setting says what makes the group low, e.g. "cpu.idle=1".
func (g *ComputeGroup) Setting() string { return g.setting }

// AddThread moves thread tid (0: the calling thread) into the group.
func (g *ComputeGroup) AddThread(tid int) error {
	if tid == 0 {
		tid = unix.Gettid()
	}
	return writeCgroupFile(g.dir, g.threadsFile, strconv.Itoa(tid))
}

// AddProcess moves every thread of process pid into the group. Threads a
// moved thread creates later are born in the group; one created by a
// thread not yet moved, while the threads are listed, is caught by going
// round until a listing finds no thread it had not moved.
func (g *ComputeGroup) AddProcess(pid int) error {
	return g.eachThreadUntilStable(pid, g.AddThread)
}

// LeaveThread moves thread tid back to the server's own cgroup, for a
// thread given normal priority back (see PriorityRaiser): in a group that
// is idle, a thread gets no CPU while other work wants it, whatever its
// own class.
func (g *ComputeGroup) LeaveThread(tid int) error {
	return writeCgroupFile(g.parentDir, g.threadsFile, strconv.Itoa(tid))
}

// LeaveProcess moves every thread of process pid back to the server's own
// cgroup.
func (g *ComputeGroup) LeaveProcess(pid int) error {
	return g.eachThreadUntilStable(pid, g.LeaveThread)
}

// eachThreadUntilStable calls fn for every thread of pid, going round until
// a listing finds no new thread; a thread that ended meanwhile is no error.
func (g *ComputeGroup) eachThreadUntilStable(pid int, fn func(tid int) error) error {
	done := map[int]bool{}
	for range 10 {
		tids, err := threadIDs(pid)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh++
			done[tid] = true
			if err := fn(tid); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("process %d: %w", pid, err)
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return nil
}

// Contains reports whether thread tid of process pid is in the group.
func (g *ComputeGroup) Contains(pid, tid int) (bool, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/cgroup", pid, tid))
	if err != nil {
		return false, err
	}
	base := filepath.Base(g.dir)
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if (g.v2 && parts[0] == "0") || (!g.v2 && slices.Contains(strings.Split(parts[1], ","), "cpu")) {
			return filepath.Base(parts[2]) == base, nil
		}
	}
	return false, nil
}

// Close moves any thread still in the group back to the server's cgroup
// and removes the group. Call it once the executors are closed.
func (g *ComputeGroup) Close() error {
	if g == nil || !g.removeOnClose {
		return nil
	}
	if data, err := os.ReadFile(filepath.Join(g.dir, g.threadsFile)); err == nil {
		for _, f := range strings.Fields(string(data)) {
			writeCgroupFile(g.parentDir, g.threadsFile, f)
		}
	}
	if err := os.Remove(g.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing cpu cgroup %s: %w", g.dir, err)
	}
	g.removeOnClose = false
	return nil
}

// removeStaleGroups removes the empty groups that servers killed before
// their Close left in parent (rmdir refuses a group that holds threads).
func removeStaleGroups(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "crunch-compute-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "crunch-compute-"))
		if err != nil || unix.Kill(pid, 0) == nil {
			continue // not ours, or its server still runs
		}
		os.Remove(d)
	}
}

// enableCPUController enables the cpu controller for the children of the
// v2 cgroup dir, unless it is already.
func enableCPUController(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err == nil && slices.Contains(strings.Fields(string(data)), "cpu") {
		return nil
	}
	return writeCgroupFile(dir, "cgroup.subtree_control", "+cpu")
}

// writeCgroupFile writes value to dir/name, in one write as cgroup files
// want.
func writeCgroupFile(dir, name, value string) error {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroup: writing %q to %s: %w", value, path, err)
	}
	return nil
}

// threadIDs lists the threads of process pid (0: this one).
func threadIDs(pid int) ([]int, error) {
	if pid == 0 {
		pid = os.Getpid()
	}
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("listing the threads of process %d: %w", pid, err)
	}
	var tids []int
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// readCgroupMounts lists the cgroup hierarchies that may hold a cpu
// controller: v1 ones whose options name cpu, and the v2 one.
func readCgroupMounts(mountinfo string) ([]cgroupMount, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("reading the mounts: %w", err)
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := parseCgroupMount(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseCgroupMount reads one mountinfo line: "ID PARENT MAJ:MIN ROOT POINT
// OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS".
func parseCgroupMount(line string) (cgroupMount, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return cgroupMount{}, false
	}
	f, p := strings.Fields(pre), strings.Fields(post)
	if len(f) < 5 || len(p) < 3 {
		return cgroupMount{}, false
	}
	m := cgroupMount{root: unescapeMount(f[3]), point: unescapeMount(f[4])}
	switch p[0] {
	case "cgroup2":
		m.v2 = true
		return m, true
	case "cgroup":
		if slices.Contains(strings.Split(p[2], ","), "cpu") {
			return m, true
		}
	}
	return cgroupMount{}, false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cpuCgroupDir finds the directory of this process's cpu cgroup from the
// mounts and /proc/self/cgroup: the v1 hierarchy with the cpu controller
// where there is one (the controller is then not in v2), else the v2 one,
// which must offer the cpu controller.
func cpuCgroupDir(mounts []cgroupMount, procCgroup string) (dir string, v2 bool, err error) {
	var v1Path, v2Path string
	have1, have2 := false, false
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2Path, have2 = parts[2], true
		case slices.Contains(strings.Split(parts[1], ","), "cpu"):
			v1Path, have1 = parts[2], true
		}
	}
	join := func(m cgroupMount, path string) (string, bool) {
		rel, ok := strings.CutPrefix(path, m.root)
		if !ok {
			return "", false // our cgroup is outside what this mount shows
		}
		return filepath.Join(m.point, rel), true
	}
	if have1 {
		for _, m := range mounts {
			if !m.v2 {
				if d, ok := join(m, v1Path); ok {
					return d, false, nil
				}
			}
		}
		return "", false, errors.New("cgroup v1 cpu controller: its hierarchy is not mounted where this process can see its cgroup")
	}
	if have2 {
		for _, m := range mounts {
			if m.v2 {
				d, ok := join(m, v2Path)
				if !ok {
					continue
				}
				ctl, err := os.ReadFile(filepath.Join(d, "cgroup.controllers"))
				if err != nil {
					return "", true, fmt.Errorf("cgroup v2: %w", err)
				}
				if !slices.Contains(strings.Fields(string(ctl)), "cpu") {
					return "", true, fmt.Errorf("cgroup v2: the cpu controller is not available in %s (not delegated to it)", d)
				}
				return d, true, nil
			}
		}
		return "", true, errors.New("cgroup v2: not mounted where this process can see its cgroup")
	}
	return "", false, errors.New("no cgroup with the cpu controller")
}
