package server_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/service/server"
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
	waitConns := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); ts.srv.Connections() != n && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitConns(2)
	waitConns(1)
	if n := ts.srv.Connections(); n != 1 {
		t.Fatalf("%d connections 10 s after the silent one stopped answering, want 1 (PingTimeout %v)", n, timeout)
	}
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
