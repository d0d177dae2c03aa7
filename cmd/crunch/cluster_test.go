package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// execLoad reads one executor's load from a server's info.
func execLoad(t *testing.T, c *client.Client, name string) (slots, busy int) {
	t.Helper()
	rep, err := c.Do(context.Background(), &wire.Request{Op: "info"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var execs []struct {
		Name  string `json:"name"`
		Slots int    `json:"slots"`
		Busy  int    `json:"busy"`
	}
	if err := json.Unmarshal(rep.Result["executors"].JSON, &execs); err != nil {
		t.Fatal(err)
	}
	for _, e := range execs {
		if e.Name == name {
			return e.Slots, e.Busy
		}
	}
	return 0, 0
}

// TestServeClusterSIGTERM runs three `crunch serve` nodes, the first
// embedding NATS (--nats-listen) and taking no work itself
// (--nats-slots -1): a job sent there with exec=cluster runs on b, and
// when b gets SIGTERM it hands the job back, and c runs it.
func TestServeClusterSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	bin := filepath.Join(t.TempDir(), "bin")
	common := []string{"--workers", "0", "--pool-workers", "1", "--grace", "300ms"}
	node := func(args ...string) *load.Server {
		return testserver.Start(ctx, t, bin, load.ServerConfig{Args: append(args, common...)}, true)
	}
	a := node("--nats-listen", natsAddr, "--nats-name", "a", "--nats-slots", "-1")
	b := node("--nats", "nats://"+natsAddr, "--nats-name", "b")
	ac, err := client.Dial(ctx, a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	bc, err := client.Dial(ctx, b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	testutil.WaitFor(t, 20*time.Second, "a to see b's slot", func() bool {
		slots, _ := execLoad(t, ac, "cluster")
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
		_, busy := execLoad(t, bc, "pool")
		return busy == 1
	})
	c := node("--nats", "nats://"+natsAddr, "--nats-name", "c")
	cc, err := client.Dial(ctx, c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	testutil.WaitFor(t, 20*time.Second, "a to see c's slot", func() bool {
		slots, _ := execLoad(t, ac, "cluster")
		return slots == 2
	})
	if err := b.Stop(); err != nil { // SIGTERM: a clean exit within its grace
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "c to run the job b handed back", func() bool {
		_, busy := execLoad(t, cc, "pool")
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
