package main

import (
	"context"
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
