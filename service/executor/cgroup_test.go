package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/crunchsvc/crunch/service/kernels"
	"golang.org/x/sys/unix"
)

// newTestGroup makes the compute cgroup for p, or skips the test where
// this machine does not allow one (no cpu controller, not root).
func newTestGroup(t *testing.T, p Priority) *ComputeGroup {
	t.Helper()
	g, err := NewComputeGroup(p)
	if err != nil {
		t.Skipf("SKIPPED: no compute cgroup here: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestComputeGroupIdle: with a compute cgroup marked idle, every thread of
// every subprocess worker, those started by jobs too, is in it;
// RaisePriority takes them out; Close removes the group. The server's own
// threads never join it (the pool's shadows: TestPoolShadows).
func TestComputeGroupIdle(t *testing.T) {
	g := newTestGroup(t, PriorityIdle)
	if data, err := os.ReadFile(filepath.Join(g.Dir(), "cpu.idle")); err != nil || strings.TrimSpace(string(data)) != "1" {
		t.Fatalf("cpu.idle of %s: %q, %v; want 1", g.Dir(), data, err)
	}
	if want := "crunch-compute-" + strconv.Itoa(os.Getpid()); filepath.Base(g.Dir()) != want || g.Setting() != "cpu.idle=1" {
		t.Errorf("group %s (%s), want one named %s with cpu.idle=1", g.Dir(), g.Setting(), want)
	}
	s, _ := newSub(t, SubprocessConfig{Workers: 2, Priority: PriorityIdle, Group: g})
	in := func(pid, tid int) bool {
		ok, err := g.Contains(pid, tid)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return ok
	}
	var wg sync.WaitGroup
	for i := range 8 { // jobs make the workers' runtimes start more threads
		wg.Go(func() {
			job := modsumJob(t, int64(i), 1e6, kernels.ImplC)
			job.Progress = func(float64) {}
			s.Run(context.Background(), job)
		})
	}
	wg.Wait()
	for _, pid := range s.pids() {
		tids, _ := threadIDs(pid)
		for _, tid := range tids {
			if !in(pid, tid) {
				t.Errorf("worker %d thread %d is not in %s", pid, tid, g.Dir())
			}
		}
	}
	self, _ := threadIDs(0)
	for _, tid := range self {
		if in(os.Getpid(), tid) {
			t.Errorf("the server's thread %d is in the compute cgroup", tid)
		}
	}
	if err := s.RaisePriority(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range s.pids() {
		tids, _ := threadIDs(pid)
		for _, tid := range tids {
			if in(pid, tid) {
				t.Errorf("worker %d thread %d still in %s after RaisePriority", pid, tid, g.Dir())
			}
		}
	}
	s.Close()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after Close: %v", g.Dir(), err)
	}
}

// TestComputeGroupLow: low priority's cgroup has the least weight.
func TestComputeGroupLow(t *testing.T) {
	g := newTestGroup(t, PriorityLow)
	file, want, _ := strings.Cut(g.Setting(), "=")
	if data, err := os.ReadFile(filepath.Join(g.Dir(), file)); err != nil || strings.TrimSpace(string(data)) != want {
		t.Errorf("%s of %s: %q, %v; want %s", file, g.Dir(), data, err, want)
	}
	if g.Setting() != "cpu.shares=2" && g.Setting() != "cpu.weight=1" {
		t.Errorf("setting %q", g.Setting())
	}
	if g, err := NewComputeGroup(PriorityNormal); g != nil || err != nil {
		t.Errorf("normal priority: %v, %v; want no group", g, err)
	}
}

// TestComputeGroupFails: a directory that is no cgroup gives an error, and
// nothing is left behind; empty groups of servers that are gone are
// removed, those of running ones kept.
func TestComputeGroupFails(t *testing.T) {
	dir := t.TempDir()
	const deadPID = 1 << 30 // above pid_max
	live := filepath.Join(dir, "crunch-compute-"+strconv.Itoa(os.Getpid()))
	stale := filepath.Join(dir, "crunch-compute-"+strconv.Itoa(deadPID))
	for _, d := range []string{live, stale} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := newComputeGroupIn(dir, false, PriorityIdle, 12345); err == nil || !strings.Contains(err.Error(), "cpu.idle") {
		t.Errorf("not a cgroup: %v, %v; want an error naming cpu.idle", g, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != filepath.Base(live) {
		t.Errorf("left in the parent: %v, want only the running server's group", entries)
	}
}

func TestParseCgroupMount(t *testing.T) {
	for _, c := range []struct {
		line string
		want cgroupMount
		ok   bool
	}{
		{"35 25 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:12 - cgroup cgroup rw,cpu", cgroupMount{point: "/sys/fs/cgroup/cpu", root: "/"}, true},
		{"35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu", cgroupMount{point: "/sys/fs/cgroup/cpu,cpuacct", root: "/"}, true},
		{"36 25 0:31 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct", cgroupMount{}, false},
		{"30 24 0:26 /docker/abc /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate", cgroupMount{point: "/sys/fs/cgroup", root: "/docker/abc", v2: true}, true},
		{`30 24 0:26 / /mnt/my\040cg rw - cgroup2 none rw`, cgroupMount{point: "/mnt/my cg", root: "/", v2: true}, true},
		{"22 1 8:1 / / rw - ext4 /dev/sda1 rw", cgroupMount{}, false},
	} {
		got, ok := parseCgroupMount(c.line)
		if got != c.want || ok != c.ok {
			t.Errorf("parseCgroupMount(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func TestCPUCgroupDir(t *testing.T) {
	v1 := []cgroupMount{{point: "/sys/fs/cgroup/cpu", root: "/"}, {point: "/sys/fs/cgroup/unified", root: "/", v2: true}}
	if d, v2, err := cpuCgroupDir(v1, "4:memory:/x\n1:cpu:/svc\n0::/\n"); err != nil || v2 || d != "/sys/fs/cgroup/cpu/svc" {
		t.Errorf("v1: %q, %v, %v", d, v2, err)
	}
	// cgroup v2: the cpu controller must be available in our cgroup.
	root := t.TempDir()
	svc := filepath.Join(root, "system.slice", "crunch.service")
	os.MkdirAll(svc, 0o755)
	mounts := []cgroupMount{{point: root, root: "/", v2: true}}
	os.WriteFile(filepath.Join(svc, "cgroup.controllers"), []byte("memory pids\n"), 0o644)
	if _, _, err := cpuCgroupDir(mounts, "0::/system.slice/crunch.service\n"); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("v2 without cpu: %v", err)
	}
	os.WriteFile(filepath.Join(svc, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644)
	if d, v2, err := cpuCgroupDir(mounts, "0::/system.slice/crunch.service\n"); err != nil || !v2 || d != svc {
		t.Errorf("v2: %q, %v, %v; want %q", d, v2, err, svc)
	}
	if _, _, err := cpuCgroupDir(nil, "0::/\n"); err == nil {
		t.Errorf("nothing mounted: no error")
	}
}

// TestSubprocessAutogroup: a worker below normal priority leads a session
// of its own, and with autogroup scheduling its autogroup has nice 19; at
// normal priority it shares the server's session.
func TestSubprocessAutogroup(t *testing.T) {
	enabled, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	autogroup := err == nil && strings.TrimSpace(string(enabled)) == "1"
	for _, prio := range []Priority{PriorityIdle, PriorityLow, PriorityNormal} {
		s, _ := newSub(t, SubprocessConfig{Workers: 1, Priority: prio})
		pid := s.pids()[0]
		sid, err := unix.Getsid(pid)
		if err != nil {
			t.Fatal(err)
		}
		if own := sid == pid; own != (prio != PriorityNormal) {
			t.Errorf("%s: worker %d in session %d", prio, pid, sid)
		}
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/autogroup")
		// Some kernels (and sandboxes) keep the file but leave it empty.
		if !autogroup || err != nil || len(strings.TrimSpace(string(data))) == 0 {
			t.Logf("%s: no autogroup to check (enabled %q, %v)", prio, enabled, err)
			continue
		}
		wantNice := " nice 0"
		if prio != PriorityNormal {
			wantNice = " nice 19"
		}
		if got := strings.TrimSpace(string(data)); !strings.HasSuffix(got, wantNice) {
			t.Errorf("%s: worker %d's autogroup is %q, want …%s", prio, pid, got, wantNice)
		}
		// Given normal priority back, its autogroup is at nice 0 again.
		if err := s.RaisePriority(); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/autogroup"); !strings.HasSuffix(strings.TrimSpace(string(data)), " nice 0") {
			t.Errorf("%s: after RaisePriority worker %d's autogroup is %q", prio, pid, data)
		}
		s.Close()
	}
}
