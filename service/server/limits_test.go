package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/wire"
)

// Beyond --max-conns, an upgrade gets HTTP 503 with Retry-After; once a
// connection closes, a new one is accepted.
func TestMaxConns(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxConns = 2 })
	a, b := ts.dial(t), ts.dial(t)
	for _, c := range []*client.Client{a, b} { // answered: their sessions run, and count
		if _, err := c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/v1/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %v, %+v; want HTTP 503 with Retry-After", err, resp)
	}
	if _, err := b.Ping(context.Background()); err != nil {
		t.Fatalf("open connection after a refusal: %v", err)
	}
	a.Close()
	var c *client.Client
	if !testutil.Poll(5*time.Second, func() bool { c, err = client.Dial(context.Background(), ts.addr); return err == nil }) {
		t.Fatalf("no connection accepted 5 s after one closed: %v", err)
	}
	defer c.Close()
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Beyond --max-total requests in flight on the server, from any
// connections, a request gets overloaded with retry_after_ms.
func TestMaxTotal(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxTotal = 2 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b, c := ts.dial(t), ts.dial(t), ts.dial(t)
	long := &client.Options{Exec: "pool"}
	for _, cl := range []*client.Client{a, b} {
		go func() {
			if _, _, err := cl.Modsum(ctx, 3, 1e15, long); ctx.Err() == nil {
				t.Errorf("long request ended early: %v", err)
			}
		}()
	}
	// c asks only once both long requests are in flight: a request of
	// c's in flight when one of them arrived would get that one refused.
	testutil.WaitFor(t, 10*time.Second, "the two long requests in flight", func() bool { return ts.inFlight(t) == 2 })
	_, _, err := c.Modsum(context.Background(), 3, 10, nil)
	e := wire.AsError(err)
	if e == nil || e.Code != wire.Overloaded || e.RetryAfterMS <= 0 {
		t.Fatalf("third request: %v, want overloaded with retry_after_ms", err)
	}
	cancel() // the two long ones end; the server takes requests again
	if !testutil.Poll(5*time.Second, func() bool { _, _, err = c.Modsum(context.Background(), 3, 10, nil); return err == nil }) {
		t.Fatalf("still refused 5 s after the long requests ended: %v", err)
	}
}
