package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
)

// cpuCgroupOf is thread tid's cgroup of the cpu controller (v1), or its v2
// cgroup, from /proc.
func cpuCgroupOf(pid, tid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/cgroup", pid, tid))
	v2 := ""
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			v2 = parts[2]
		} else if strings.Contains(","+parts[1]+",", ",cpu,") {
			return parts[2]
		}
	}
	return v2
}

// computeThreads lists the threads of process pid whose scheduling class
// is not normal (the compute threads at the default --compute-priority), with
// their cpu cgroups.
func computeThreads(pid int) map[int]string {
	out := map[int]string{}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		if tid != 0 && threadPolicy(pid, tid) > 0 {
			out[tid] = cpuCgroupOf(pid, tid)
		}
	}
	return out
}

// threadPolicy is thread tid's scheduling policy (field 41 of its stat).
func threadPolicy(pid, tid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 39 {
		return -1
	}
	p, _ := strconv.Atoi(f[38])
	return p
}

// TestServeComputeCgroup: `crunch serve` at the default priority puts its
// subprocess workers, and its pool workers' shadow threads (where their C
// kernels run), in a cpu cgroup of their own, crunch-compute-PID, while
// the pool workers' own threads, which run Go code, stay out; it removes
// the group when it exits. --compute-cgroup off leaves every thread in the
// server's. Where this machine allows no such cgroup the server says so in
// its log, and the test skips.
func TestServeComputeCgroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := t.TempDir()
	srv := testserver.Start(ctx, t, bin, load.ServerConfig{OwnSession: true,
		Args: []string{"--workers", "1", "--pool-workers", "2"}}, true)
	if strings.Contains(srv.Stderr(), "stay in the server's cpu cgroup") {
		t.Skipf("SKIPPED: no compute cgroup on this machine: %s", srv.Stderr())
	}
	group := "crunch-compute-" + strconv.Itoa(srv.PID())
	// in and out count the server's threads below normal priority in the
	// group and out of it.
	split := func() (in, out int) {
		for tid := range computeThreads(srv.PID()) {
			if filepath.Base(cpuCgroupOf(srv.PID(), tid)) == group {
				in++
			} else {
				out++
			}
		}
		return in, out
	}
	var in, out int
	testutil.Poll(5*time.Second, func() bool { in, out = split(); return in+out >= 4 })
	if in != 2 || out != 2 {
		t.Fatalf("%d threads below normal priority in …/%s and %d out, want the 2 pool workers' shadows in and the 2 workers out: %v",
			in, group, out, computeThreads(srv.PID()))
	}
	// So it stays while a C kernel runs.
	c := testserver.Dial(t, srv.Addr)
	jobCtx, stopJob := context.WithCancel(ctx)
	jobDone := make(chan struct{})
	go func() {
		defer close(jobDone)
		c.Modsum(jobCtx, 7, 1e15, &client.Options{Exec: "pool", Impl: "c"})
	}()
	waitPoolBusy(t, srv.Addr, 1)
	if in, out := split(); in != 2 || out != 2 {
		t.Errorf("while a C kernel runs: %d threads below normal in …/%s and %d out, want 2 and 2", in, group, out)
	}
	stopJob()
	<-jobDone
	var kids []byte // the subprocess workers: children of any thread
	for _, path := range mustGlob(t, fmt.Sprintf("/proc/%d/task/*/children", srv.PID())) {
		data, _ := os.ReadFile(path)
		kids = append(append(kids, ' '), data...)
	}
	var checked int
	var dir string // where the group is, when cgroup v1's cpu hierarchy is mounted where it usually is
	for _, f := range strings.Fields(string(kids)) {
		pid, _ := strconv.Atoi(f)
		if cg := cpuCgroupOf(pid, pid); dirExists(filepath.Join("/sys/fs/cgroup/cpu", cg)) && filepath.Base(cg) == group {
			dir = filepath.Join("/sys/fs/cgroup/cpu", cg)
		}
		for _, e := range mustGlob(t, fmt.Sprintf("/proc/%d/task/*", pid)) {
			tid, _ := strconv.Atoi(filepath.Base(e))
			checked++
			if cg := cpuCgroupOf(pid, tid); filepath.Base(cg) != group {
				t.Errorf("worker %d thread %d is in cpu cgroup %q, want …/%s", pid, tid, cg, group)
			}
		}
	}
	if checked == 0 {
		t.Errorf("found no subprocess worker threads")
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if dir != "" && dirExists(dir) {
		t.Errorf("%s is still there after the server exited", dir)
	}

	// --compute-cgroup off: its subprocess worker stays in the server's
	// cpu cgroup.
	off := testserver.Start(ctx, t, bin, load.ServerConfig{Args: []string{"--workers", "1", "--pool-workers", "1", "--compute-cgroup", "off"}}, true)
	if strings.Contains(off.Stderr(), "in a cpu cgroup of their own") {
		t.Errorf("--compute-cgroup off made a cgroup: %s", off.Stderr())
	}
	var low map[int]string
	testutil.Poll(5*time.Second, func() bool { low = computeThreads(off.PID()); return len(low) >= 1 })
	if len(low) != 1 {
		t.Errorf("--compute-cgroup off: %d threads below normal priority, want the pool worker alone: %v", len(low), low)
	}
	checked = 0
	for _, path := range mustGlob(t, fmt.Sprintf("/proc/%d/task/*/children", off.PID())) {
		data, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			checked++
			if cg := cpuCgroupOf(pid, pid); strings.Contains(cg, "crunch-compute-") {
				t.Errorf("--compute-cgroup off: worker %d is in %q", pid, cg)
			}
		}
	}
	if checked == 0 {
		t.Errorf("--compute-cgroup off: found no subprocess worker")
	}
}

func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A --compute-cgroup value that means nothing is refused.
func TestServeComputeCgroupBadValue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testserver.Build(ctx, t, t.TempDir())
	_, err := load.StartServer(ctx, load.ServerConfig{Binary: bin, Args: []string{"--compute-cgroup", "maybe"}})
	if err == nil || !strings.Contains(err.Error(), "want auto or off") {
		t.Errorf("got %v, want the flag refused", err)
	}
}
