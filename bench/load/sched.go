package load

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// policyNames are the scheduling policies of sched(7) by number.
var policyNames = map[int]string{0: "normal", 1: "fifo", 2: "rr", 3: "batch", 5: "idle", 6: "deadline"}

// ThreadClasses counts the threads of process pid by scheduling class, as
// "normal", "batch+19", "idle" (policy, then the nice value when not 0):
// what shows that --compute-priority took effect. Threads that end while
// it reads are skipped; a process that is gone gives an empty map.
func ThreadClasses(pid int) map[string]int {
	classes := map[string]int{}
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	for _, path := range stats {
		if c, err := threadClass(path); err == nil {
			classes[c]++
		}
	}
	return classes
}

// threadClass reads one /proc/PID/task/TID/stat.
func threadClass(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	// The command name, field 2, is in parentheses and may hold anything:
	// the fields that follow start after the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return "", fmt.Errorf("%s: no ')'", path)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state): nice is field 19, policy field 41.
	if len(f) < 39 {
		return "", fmt.Errorf("%s: %d fields", path, len(f)+2)
	}
	nice, err1 := strconv.Atoi(f[16])
	policy, err2 := strconv.Atoi(f[38])
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("%s: bad nice %q or policy %q", path, f[16], f[38])
	}
	name, ok := policyNames[policy]
	if !ok {
		name = "policy" + strconv.Itoa(policy)
	}
	if nice != 0 {
		name += fmt.Sprintf("%+d", nice)
	}
	return name, nil
}

// FormatClasses writes classes as "idle×2, normal×11", sorted by name.
func FormatClasses(classes map[string]int) string {
	names := make([]string, 0, len(classes))
	for n := range classes {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s×%d", n, classes[n])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// SchedGroup is where the kernel's scheduler puts a process among the
// others: with autogroup scheduling, the threads of every session form a
// group that competes with the other groups as one, whatever the classes
// of the threads inside (a SCHED_IDLE thread yields at once only to the
// threads of its own group); so does every cpu cgroup other than the root.
type SchedGroup struct {
	PID     int `json:"pid"`
	Session int `json:"session"`
	// Autogroup is /proc/PID/autogroup, e.g. "/autogroup-12 nice 0"
	// ("" when the kernel has none).
	Autogroup string `json:"autogroup,omitempty"`
	// CPUCgroup is the process's cgroup of the cpu controller (cgroup
	// v1), or its cgroup v2 path.
	CPUCgroup string `json:"cpu_cgroup,omitempty"`
}

// SchedGroupOf reads pid's SchedGroup from /proc; what it cannot read
// stays empty.
func SchedGroupOf(pid int) SchedGroup {
	g := SchedGroup{PID: pid}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 {
			// After the name: state, ppid, pgrp, session.
			if f := strings.Fields(string(data[i+1:])); len(f) > 3 {
				g.Session, _ = strconv.Atoi(f[3])
			}
		}
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/autogroup", pid)); err == nil {
		g.Autogroup = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil {
		g.CPUCgroup = cpuCgroup(string(data))
	}
	return g
}

// cpuCgroup picks the cpu controller's path out of /proc/PID/cgroup: the
// v1 hierarchy that has "cpu" among its controllers, else the v2 one.
func cpuCgroup(procCgroup string) string {
	v2 := ""
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			v2 = parts[2]
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), "cpu") {
			return parts[2]
		}
	}
	return v2
}

// String is "session 123 (leader), /autogroup-12 nice 0, cpu cgroup /".
func (g SchedGroup) String() string {
	if g.PID == 0 {
		return "unknown"
	}
	s := fmt.Sprintf("session %d", g.Session)
	if g.Session == g.PID {
		s += " (its own)"
	}
	if g.Autogroup != "" {
		s += ", " + g.Autogroup
	}
	if g.CPUCgroup != "" {
		s += ", cpu cgroup " + g.CPUCgroup
	}
	return s
}
