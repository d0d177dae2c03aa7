package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// serveWithLongJob starts `crunch serve` with a long grace and one modsum
// that would run for hours, and returns once the job is running; the
// job's outcome arrives on the returned channel.
func serveWithLongJob(ctx context.Context, t *testing.T) (*load.Server, <-chan error) {
	t.Helper()
	// Stop's own check is off: the tests end the process themselves.
	srv := testserver.Start(ctx, t, t.TempDir(), load.ServerConfig{Grace: 20 * time.Second,
		Args: []string{"--workers", "1", "--pool-workers", "1", "--grace", "2s"}}, false)
	c := testserver.Dial(t, srv.Addr)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Modsum(ctx, 7, 1e15, &client.Options{Exec: "pool"})
		done <- err
	}()
	waitPoolBusy(t, srv.Addr, 1)
	return srv, done
}

// SIGTERM drains: the running job gets canceled when --grace runs out,
// and the server exits 0.
func TestSIGTERMDrains(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, done := serveWithLongJob(ctx, t)
	start := time.Now()
	if err := srv.Stop(); err != nil { // SIGTERM, then waits for a clean exit
		t.Fatal(err)
	}
	took := time.Since(start)
	if e := wire.AsError(<-done); e == nil || e.Code != wire.Canceled {
		t.Errorf("the running job ended with %v, want canceled", e)
	}
	if took < 2*time.Second || took > 10*time.Second {
		t.Errorf("exited %v after SIGTERM; the grace is 2 s", took)
	}
}

// A second signal during the drain exits at once, with status 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, _ := serveWithLongJob(ctx, t)
	syscall.Kill(srv.PID(), syscall.SIGTERM)
	// The log line, not /healthz: a loaded machine may not schedule a poll
	// within the 2 s the drain lasts.
	testutil.WaitFor(t, 10*time.Second, "the server draining after SIGTERM", func() bool {
		return strings.Contains(srv.Stderr(), "msg=draining")
	})
	if err := srv.Alive(); err != nil {
		t.Fatalf("exited before its grace on one signal: %v", err)
	}
	syscall.Kill(srv.PID(), syscall.SIGINT)
	testutil.Poll(time.Second, func() bool { return srv.Alive() != nil })
	err := srv.Alive()
	if err == nil {
		t.Fatal("still running 1 s after a second signal (its grace is 2 s)")
	}
	if !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(srv.Stderr(), "second signal") {
		t.Errorf("after a second signal: %v", err)
	}
}

// TestServeClusterSIGTERM runs three `crunch serve` nodes, the first
// embedding NATS (--nats-listen) and taking no work itself
// (--nats-slots -1): a job sent there with exec=cluster runs on b, and
// when b gets SIGTERM it hands the job back, and c runs it.
func TestServeClusterSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	natsPort, err := load.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := fmt.Sprintf("127.0.0.1:%d", natsPort)
	bin := filepath.Join(t.TempDir(), "bin")
	common := []string{"--workers", "0", "--pool-workers", "1", "--grace", "300ms"}
	node := func(args ...string) *load.Server {
		return testserver.Start(ctx, t, bin, load.ServerConfig{Args: append(args, common...)}, true)
	}
	a := node("--nats-listen", natsAddr, "--nats-name", "a", "--nats-slots", "-1")
	b := node("--nats", "nats://"+natsAddr, "--nats-name", "b")
	ac := testserver.Dial(t, a.Addr)
	bc := testserver.Dial(t, b.Addr)
	testutil.WaitFor(t, 20*time.Second, "a to see b's slot", func() bool {
		slots, _ := testserver.ExecLoad(t, ac, "cluster")
		return slots == 1
	})

	jobCtx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	errc := make(chan error, 1)
	go func() {
		_, err := ac.Do(jobCtx, &wire.Request{Op: "modsum", Args: wire.Args{"n": wire.Int(7), "iters": wire.Int(1 << 50)}},
			&client.Options{Exec: "cluster"})
		errc <- err
	}()
	testutil.WaitFor(t, 20*time.Second, "b to run the job", func() bool {
		_, busy := testserver.ExecLoad(t, bc, "pool")
		return busy == 1
	})
	c := node("--nats", "nats://"+natsAddr, "--nats-name", "c")
	cc := testserver.Dial(t, c.Addr)
	testutil.WaitFor(t, 20*time.Second, "a to see c's slot", func() bool {
		slots, _ := testserver.ExecLoad(t, ac, "cluster")
		return slots == 2
	})
	if err := b.Stop(); err != nil { // SIGTERM: a clean exit within its grace
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "c to run the job b handed back", func() bool {
		_, busy := testserver.ExecLoad(t, cc, "pool")
		return busy == 1
	})
	stopJob()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want canceled", err)
	}
	rep, err := ac.Do(ctx, &wire.Request{Op: "modsum", Args: wire.Args{"n": wire.Int(7)}}, &client.Options{Exec: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Node != "c" || rep.Stats.Exec != "cluster" {
		t.Errorf("stats %+v, want exec cluster on node c", rep.Stats)
	}
}
