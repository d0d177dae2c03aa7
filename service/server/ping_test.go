package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// The server pings every connection every PingInterval: a client that
// answers stays connected however long it is otherwise idle, one that is
// silent (reads nothing, so answers no ping) is closed after PingTimeout.
func TestPingsKeepIdleConnectionsAlive(t *testing.T) {
	const interval, timeout = 50 * time.Millisecond, 400 * time.Millisecond
	ts := start(t, func(c *server.Config) { c.PingInterval, c.PingTimeout = interval, timeout })

	// The answering client: gorilla answers pings while it reads.
	alive := ts.raw(t)
	var pings atomic.Int64
	alive.SetPingHandler(func(data string) error {
		pings.Add(1)
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	replies := make(chan string, 1)
	go func() {
		defer close(replies)
		for {
			_, msg, err := alive.ReadMessage()
			if err != nil {
				return
			}
			replies <- string(msg)
		}
	}()

	ts.raw(t) // silent: it never reads, so the server's pings go unanswered
	testutil.WaitFor(t, 10*time.Second, "both connections open", func() bool { return ts.srv.Connections() == 2 })
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("the silent connection dropped (PingTimeout %v)", timeout),
		func() bool { return ts.srv.Connections() == 1 })
	// The silent one lasted PingTimeout at least; the other, which heard
	// several pings meanwhile, is still served.
	if n := pings.Load(); n < 3 {
		t.Errorf("the answering client got %d pings in %v at an interval of %v", n, timeout, interval)
	}
	if err := alive.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"op":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case msg, ok := <-replies:
		if !ok || !strings.Contains(msg, `"ok":true`) {
			t.Fatalf("ping on the kept connection: %q (open: %v)", msg, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reply on the connection that answered every ping")
	}
}

// While a connection's large message waits for a token (MaxLarge), the
// server does not ping it: the client's pong would queue behind the rest
// of the message, which nobody reads meanwhile, and gorilla's client drops
// a connection whose pong it cannot write within a second. Pings resume
// once the message has been read.
func TestNoPingsWhileALargeMessageWaits(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxLarge, c.PingInterval, c.LargeWait = 1, 20*time.Millisecond, time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The one token goes to a large request queued behind two endless
	// jobs on the two pool workers.
	busy := ts.dial(t)
	jobs := make(chan error, 2)
	for range 2 {
		go func() {
			_, _, err := busy.Modsum(ctx, 3, 1e15, &client.Options{Exec: "pool"})
			jobs <- err
		}()
	}
	ts.waitMetric(t, "two endless jobs", `crunch_executor_busy{exec="pool"}`, "2")
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randMatrix(r, tensor.F64, 256, 256), randMatrix(r, tensor.F64, 256, 256) // 1 MiB together
	holder := make(chan error, 1)
	go func() {
		_, _, err := ts.dial(t).Gemm(context.Background(), a, b, &client.Options{Exec: "pool"})
		holder <- err
	}()
	ts.waitMetric(t, "the token's holder", "crunch_large_messages_held", "1")

	// This connection's large message now waits for the token.
	conn := ts.raw(t)
	var pings atomic.Int64
	conn.SetPingHandler(func(string) error { pings.Add(1); return nil }) // no pong: nothing to write
	replies := make(chan error, 1)
	go func() {
		for {
			mt, msg, err := conn.ReadMessage()
			if err != nil {
				replies <- err
				return
			}
			rep, err := wire.DecodeReply(mt == websocket.BinaryMessage, msg)
			if err == nil && !rep.OK {
				err = rep.Error
			}
			replies <- err
		}
	}()
	req, err := wire.EncodeRequest(&wire.Request{ID: 1, Op: "gemm", Exec: "direct",
		Args: wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}}, true)
	if err != nil {
		t.Fatal(err)
	}
	go conn.WriteMessage(websocket.BinaryMessage, req) // may block until the server reads on
	ts.waitMetric(t, "the waiting message", "crunch_large_message_waits_total", "1")
	// What is under test is an absence: no ping for 25 intervals. A ping
	// already on its way may still arrive in the first 100 ms.
	time.Sleep(100 * time.Millisecond)
	before := pings.Load()
	time.Sleep(500 * time.Millisecond)
	if n := pings.Load() - before; n != 0 {
		t.Errorf("%d pings in 500 ms while the connection's message waited for a token", n)
	}

	cancel() // the endless jobs end, the holder's gemm runs, the token comes free
	for range 2 {
		<-jobs
	}
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-replies:
		if err != nil {
			t.Fatalf("the waiting request: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting request was never answered")
	}
	after := pings.Load()
	if !testutil.Poll(10*time.Second, func() bool { return pings.Load() != after }) {
		t.Error("no ping after the message was read")
	}
}
