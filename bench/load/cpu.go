package load

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of the CPU times in /proc: 1/100 s on
// every Linux architecture that Go runs on.
const clockTick = 100

// ProcCPUTicks returns the CPU time (user + system, in 1/100 s) that
// process pid has used so far, all its threads together.
func ProcCPUTicks(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3: utime is field 14, stime field 15.
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: bad utime %q or stime %q", path, f[11], f[12])
	}
	return u + s, nil
}

// MachineBusyTicks returns the CPU time all CPUs of the machine have spent
// on anything but idling (in 1/100 s), from the first line of /proc/stat.
func MachineBusyTicks() (int64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal guest guest_nice;
	// guest time is counted in user already.
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: field %d of %q: %w", i, line, err)
		}
		busy += v
	}
	return busy, nil
}

// cpuMeter turns CPU tick counters into average cores used since a start.
type cpuMeter struct {
	start   time.Time
	procs   map[int]int64 // ticks of the server and its children at start
	self    int64         // this process's ticks at start
	machine int64         // the machine's busy ticks at start
}

// newCPUMeter takes the starting counts of pids, of this process and of the
// machine. Unreadable counters start at 0.
func newCPUMeter(pids []int) *cpuMeter {
	m := &cpuMeter{start: time.Now(), procs: map[int]int64{}}
	for _, p := range pids {
		m.procs[p], _ = ProcCPUTicks(p)
	}
	m.self, _ = ProcCPUTicks(os.Getpid())
	m.machine, _ = MachineBusyTicks()
	return m
}

// cores returns the average cores used since the start by pids (a process
// new since the start counts from 0), by this process, and by the whole
// machine.
func (m *cpuMeter) cores(pids []int) (procs, self, machine float64) {
	secs := time.Since(m.start).Seconds()
	if secs <= 0 {
		return 0, 0, 0
	}
	var d int64
	for _, p := range pids {
		if t, err := ProcCPUTicks(p); err == nil {
			d += t - m.procs[p]
		}
	}
	rate := func(ticks int64) float64 { return float64(max(ticks, 0)) / clockTick / secs }
	procs = rate(d)
	if t, err := ProcCPUTicks(os.Getpid()); err == nil {
		self = rate(t - m.self)
	}
	if t, err := MachineBusyTicks(); err == nil {
		machine = rate(t - m.machine)
	}
	return procs, self, machine
}
