package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

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
