package server_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
)

// TestLargeMessagesWaitTheirTurn: with --max-large 1, a second large
// request is left unread while the first is answered, then served; pings
// and small calls on other connections are answered meanwhile, and the
// token is back once both are done.
func TestLargeMessagesWaitTheirTurn(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxLarge, c.LargeWait = 1, time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := rand.New(rand.NewPCG(1, 2))
	// 512 KiB of image, and a kernel that makes the plain Go convolution
	// take a while: long enough to see the second request wait.
	image, kernel := randMatrix(r, tensor.F64, 256, 256), randMatrix(r, tensor.F64, 63, 63)
	want, _, err := ts.dial(t).Conv2D(ctx, image, kernel, "same", &client.Options{Exec: "direct", Impl: "c"})
	if err != nil {
		t.Fatal(err)
	}

	calls := make(chan error, 2)
	call := func() {
		got, _, err := ts.dial(t).Conv2D(ctx, image, kernel, "same", &client.Options{Exec: "pool", Impl: "go"})
		if err == nil {
			for i, v := range got.Float64() {
				if d := v - want.Float64()[i]; d > 1e-9 || d < -1e-9 {
					t.Errorf("element %d: %g, want %g", i, v, want.Float64()[i])
					break
				}
			}
		}
		calls <- err
	}
	go call()
	ts.waitMetric(t, "the first request", "crunch_executor_busy{exec=\"pool\"}", "1")
	ts.waitMetric(t, "the first request", "crunch_large_messages_held", "1")
	go call()
	ts.waitMetric(t, "the second request", "crunch_large_message_waits_total", "1")

	other := ts.dial(t)
	for range 20 {
		if rtt, err := other.Ping(ctx); err != nil || rtt > time.Second {
			t.Fatalf("ping while a large message waits: %v, %v", rtt, err)
		}
		if _, _, err := other.Modsum(ctx, 1000, 10, &client.Options{Exec: "direct"}); err != nil {
			t.Fatalf("small call while a large message waits: %v", err)
		}
	}
	for range 2 {
		if err := <-calls; err != nil {
			t.Fatal(err)
		}
	}
	ts.waitMetric(t, "both answered", "crunch_large_messages_held", "0")
}
