package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProcStatus is what /proc/PID/status says about the size of a process.
type ProcStatus struct {
	Threads  int   // OS threads (the Threads line)
	RSSBytes int64 // resident memory (VmRSS)
}

// ReadProcStatus reads the thread count and resident size of process pid.
func ReadProcStatus(pid int) (ProcStatus, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return ProcStatus{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var st ProcStatus
	var seenThreads, seenRSS bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "Threads":
			st.Threads, err = strconv.Atoi(fields[0])
			seenThreads = true
		case "VmRSS": // "VmRSS:	  123456 kB"
			var kb int64
			kb, err = strconv.ParseInt(fields[0], 10, 64)
			st.RSSBytes = kb << 10
			seenRSS = true
		}
		if err != nil {
			return ProcStatus{}, fmt.Errorf("%s: line %q: %w", path, sc.Text(), err)
		}
	}
	if !seenThreads || !seenRSS {
		// A zombie has no VmRSS line: it is as good as gone.
		return ProcStatus{}, fmt.Errorf("%s: no Threads or VmRSS line (has the process exited?)", path)
	}
	return st, nil
}

// ChildPIDs lists the direct children of process pid (for a server, its
// subprocess workers). It returns nil when the kernel does not say.
func ChildPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// Usage is what a Sampler saw of a process and of its children (a server's
// subprocess workers) since it started or was last reset.
type Usage struct {
	Samples          int   `json:"samples"`
	MaxThreads       int   `json:"max_threads"`
	LastThreads      int   `json:"last_threads"`
	MaxRSSBytes      int64 `json:"max_rss_bytes"`
	LastRSSBytes     int64 `json:"last_rss_bytes"`
	MaxChildren      int   `json:"max_children"`
	MaxChildThreads  int   `json:"max_child_threads"`   // all children's threads together
	MaxChildRSSBytes int64 `json:"max_child_rss_bytes"` // all children's RSS together
	// ThreadClasses and ChildThreadClasses count the threads of the
	// process and of its children by scheduling class (see ThreadClasses),
	// at the last sample.
	ThreadClasses      map[string]int `json:"thread_classes"`
	ChildThreadClasses map[string]int `json:"child_thread_classes"`
	// CPUCores is the CPU time used by the process and its children, in
	// cores (CPU seconds per second) on average from the start or reset to
	// the last sample. LoadGenCPUCores is the same for this process (the
	// load generator, when it samples its server), and MachineBusyCores
	// for the whole machine: what is left over is other work on it.
	CPUCores         float64 `json:"cpu_cores"`
	LoadGenCPUCores  float64 `json:"loadgen_cpu_cores"`
	MachineBusyCores float64 `json:"machine_busy_cores"`
}

// Sampler reads a process's /proc status at a fixed interval, keeping the
// maxima and the last values.
type Sampler struct {
	pid      int
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	usage    Usage
	cpu      *cpuMeter
}

// StartSampler samples process pid every interval (100 ms when ≤ 0) until
// Stop. The first sample is taken before it returns.
func StartSampler(pid int, interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	s := &Sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.cpu = newCPUMeter(append([]int{pid}, ChildPIDs(pid)...))
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

// sample takes one reading; a process that has gone leaves the figures as
// they were.
func (s *Sampler) sample() {
	st, err := ReadProcStatus(s.pid)
	if err != nil {
		return
	}
	classes := ThreadClasses(s.pid)
	var kids int
	var kidThreads int
	var kidRSS int64
	kidClasses := map[string]int{}
	kidPIDs := ChildPIDs(s.pid)
	for _, c := range kidPIDs {
		if cs, err := ReadProcStatus(c); err == nil {
			kids++
			kidThreads += cs.Threads
			kidRSS += cs.RSSBytes
			for k, n := range ThreadClasses(c) {
				kidClasses[k] += n
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &s.usage
	u.CPUCores, u.LoadGenCPUCores, u.MachineBusyCores = s.cpu.cores(append([]int{s.pid}, kidPIDs...))
	u.Samples++
	u.LastThreads, u.LastRSSBytes = st.Threads, st.RSSBytes
	u.MaxThreads = max(u.MaxThreads, st.Threads)
	u.MaxRSSBytes = max(u.MaxRSSBytes, st.RSSBytes)
	u.MaxChildren = max(u.MaxChildren, kids)
	u.MaxChildThreads = max(u.MaxChildThreads, kidThreads)
	u.MaxChildRSSBytes = max(u.MaxChildRSSBytes, kidRSS)
	u.ThreadClasses, u.ChildThreadClasses = classes, kidClasses
}

// Usage returns what the sampler has seen so far.
func (s *Sampler) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

// Reset forgets what was seen and takes a fresh sample, so that the next
// Usage covers only what comes after.
func (s *Sampler) Reset() {
	cpu := newCPUMeter(append([]int{s.pid}, ChildPIDs(s.pid)...))
	s.mu.Lock()
	s.usage = Usage{}
	s.cpu = cpu
	s.mu.Unlock()
	s.sample()
}

// Stop ends the sampling and returns the final usage. It may be called more
// than once.
func (s *Sampler) Stop() Usage {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return s.Usage()
}

// ThreadStates describes what each thread of pid and of its children is
// doing, a line per thread: pid, tid, name, state (R running, S sleeping,
// D uninterruptible, …), scheduling policy and kernel wait channel. For a
// process that will not stop: it shows where it, or a child, is stuck.
func ThreadStates(pid int) string {
	var b strings.Builder
	for _, p := range append([]int{pid}, ChildPIDs(pid)...) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", p))
		for _, t := range tasks {
			stat, err := os.ReadFile(t + "/stat")
			if err != nil {
				continue
			}
			// The name is in parentheses and may hold spaces: the fields
			// after it start at the last ')'.
			name, rest := "", string(stat)
			if i, j := strings.IndexByte(rest, '('), strings.LastIndexByte(rest, ')'); i >= 0 && j > i {
				name, rest = rest[i+1:j], rest[j+1:]
			}
			f := strings.Fields(rest)
			wchan, _ := os.ReadFile(t + "/wchan")
			policy := "?"
			if len(f) > 38 {
				policy = f[38] // field 41 of stat: 0 normal, 3 batch, 5 idle
			}
			state := "?"
			if len(f) > 0 {
				state = f[0]
			}
			fmt.Fprintf(&b, "pid %d tid %s %s state %s policy %s wchan %s\n", p, filepath.Base(t), name, state, policy, wchan)
		}
	}
	return b.String()
}
