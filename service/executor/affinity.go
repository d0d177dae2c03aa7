package executor

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseCPUs reads a --pool-affinity value: "" or "none" (threads run
// anywhere the process may), "all" (each worker pinned to one of the CPUs
// this process may use, in turn), or a list such as "0-3,6" (each worker
// pinned to one of those, in turn). Every CPU named must be one the
// process may use.
func ParseCPUs(spec string) ([]int, error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil, fmt.Errorf("reading this process's CPUs: %w", err)
	}
	switch spec {
	case "", "none":
		return nil, nil
	case "all":
		var cpus []int
		for c := range maxCPU {
			if allowed.IsSet(c) {
				cpus = append(cpus, c)
			}
		}
		return cpus, nil
	}
	var cpus []int
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err1 := strconv.Atoi(lo)
		last, err2 := first, error(nil)
		if isRange {
			last, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || first < 0 || last < first || last >= maxCPU {
			return nil, fmt.Errorf("CPU list %q: %q is not a CPU number or range such as 0-3", spec, part)
		}
		for c := first; c <= last; c++ {
			if !allowed.IsSet(c) {
				return nil, fmt.Errorf("CPU list %q: CPU %d is not one this process may use", spec, c)
			}
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// maxCPU is the number of CPUs a unix.CPUSet can name.
const maxCPU = len(unix.CPUSet{}) * 64
