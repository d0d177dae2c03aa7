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
