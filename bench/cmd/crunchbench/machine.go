package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/crunchsvc/crunch/cgo"
)

// machineInfo is what the report says about the machine it ran on.
type machineInfo struct {
	CPU        string `json:"cpu"`        // model name from /proc/cpuinfo
	Cores      int    `json:"cores"`      // CPUs this process may run on
	GOMAXPROCS int    `json:"gomaxprocs"` // after cgroup limits
	Kernel     string `json:"kernel"`     // /proc/sys/kernel/osrelease
	Go         string `json:"go"`         // the toolchain of this binary (and of the server it builds)
	LoadAvg    string `json:"loadavg"`    // /proc/loadavg when the run started: other work on the machine
	OS         string `json:"os_arch"`    // GOOS/GOARCH
	SIMD       string `json:"simd"`       // the C kernels' best path on this CPU
}

func readMachineInfo() machineInfo {
	return machineInfo{
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Kernel:     firstLine("/proc/sys/kernel/osrelease"),
		Go:         runtime.Version(),
		LoadAvg:    firstLine("/proc/loadavg"),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		SIMD:       cgo.BestISA().String(),
	}
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func firstLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(line)
}

func (m machineInfo) write(w io.Writer) {
	fmt.Fprintf(w, "Machine: %s, %d cores available (GOMAXPROCS %d), SIMD path %s, %s, Linux %s, %s; load average at start: %s\n\n",
		m.CPU, m.Cores, m.GOMAXPROCS, m.SIMD, m.OS, m.Kernel, m.Go, m.LoadAvg)
}
