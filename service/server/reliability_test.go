package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/wire"
)

// settle waits up to 10 s for the goroutine count to fall back to at most
// base+slack and reports the last count.
func settle(base, slack int) int {
	testutil.Poll(10*time.Second, func() bool { return runtime.NumGoroutine() <= base+slack })
	return runtime.NumGoroutine()
}

// 1,000 connections at once, each with a ping and a modsum on a different
// executor: every call answered right, and once they close the server's
// goroutines are back where they were.
func TestThousandConnections(t *testing.T) {
	ts := start(t, nil)
	base := runtime.NumGoroutine()
	const conns = 1000
	clients := make([]*client.Client, conns)
	want := modsumRef(t, 11, 500)
	testutil.Concurrently(t, conns, func(i int) error {
		c, err := client.Dial(context.Background(), ts.addr)
		if err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		clients[i] = c
		if _, err := c.Ping(context.Background()); err != nil {
			return fmt.Errorf("ping %d: %w", i, err)
		}
		// A full queue answers overloaded: retry after the time it says,
		// as a client should.
		var got int64
		for {
			got, _, err = c.Modsum(context.Background(), 11, 500, &client.Options{Exec: execNames[i%4]})
			e := wire.AsError(err)
			if e == nil || e.Code != wire.Overloaded {
				break
			}
			time.Sleep(time.Duration(e.RetryAfterMS+1) * time.Millisecond) // pacing, not a wait for a state
		}
		if err == nil && got != want {
			err = fmt.Errorf("modsum = %d, want %d", got, want)
		}
		if err != nil {
			return fmt.Errorf("conn %d: %w", i, err)
		}
		return nil
	})
	if n := ts.srv.Connections(); n != conns {
		t.Errorf("server counts %d connections, want %d", n, conns)
	}
	peak := runtime.NumGoroutine()
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
	if n := settle(base, 5); n > base+5 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d with 1,000 connections, %d after they closed:\n%s",
			base, peak, n, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("goroutines: %d before, %d with %d connections open (both ends), %d after", base, peak, conns, runtime.NumGoroutine())
}

// A client that sends requests with large results and never reads them:
// once the socket's buffers are full the server's write times out, it
// drops that connection and its jobs, and everyone else is served all the
// while.
func TestSlowReaderIsDropped(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.WriteTimeout = 500 * time.Millisecond })
	other := ts.dial(t)
	base := runtime.NumGoroutine()

	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Shrink our receive buffer so that the server's writes block soon.
	conn.UnderlyingConn().(*net.TCPConn).SetReadBuffer(4096)
	// 512x512 f64 results: 2 MiB each, far beyond the socket buffers.
	for id := 1; id <= 16; id++ {
		msg := fmt.Sprintf(`{"id":%d,"op":"gemm","args":{"a":{"dtype":"f64","shape":[512,1],"data":%s},"b":{"dtype":"f64","shape":[1,512],"data":%s}},"reply":"binary"}`,
			id, ones(512), ones(512))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			break // dropped already
		}
	}
	// Meanwhile the other connection is served promptly.
	for range 20 {
		start := time.Now()
		if _, err := other.Ping(context.Background()); err != nil {
			t.Fatalf("ping on another connection: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("ping took %v while a client was not reading", d)
		}
		time.Sleep(50 * time.Millisecond) // pacing: pings spread over a second
	}
	// The slow reader is gone: the server has one connection left.
	if !testutil.Poll(10*time.Second, func() bool { return ts.srv.Connections() == 1 }) {
		t.Fatalf("%d connections, want 1: the reader that never reads is still served", ts.srv.Connections())
	}
	conn.Close()
	if n := settle(base, 3); n > base+3 {
		t.Errorf("%d goroutines before, %d after the slow reader was dropped", base, n)
	}
}

// slowConn reads at most 16 KiB per Read and pauses 1 ms before each:
// a client that reads steadily at about 16 MB/s at most, far slower than
// the server can write.
type slowConn struct{ net.Conn }

func (c slowConn) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond) // under test: a client that really is slow
	return c.Conn.Read(p[:min(len(p), 16<<10)])
}

// A client that reads slowly but steadily is served in full: every one of
// its large replies arrives, right, although each write takes hundreds of
// milliseconds, and other connections are served promptly all the while.
// Only a client that stops reading for the write timeout is dropped
// (TestSlowReaderIsDropped).
func TestSteadilySlowReaderIsServed(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.WriteTimeout = 2 * time.Second })
	other := ts.dial(t)
	base := runtime.NumGoroutine()

	d := websocket.Dialer{ReadBufferSize: 16 << 10, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.(*net.TCPConn).SetReadBuffer(64 << 10) // so that the server's writes wait on us
		return slowConn{c}, nil
	}}
	conn, _, err := d.Dial("ws://"+ts.addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// a (512x1) = 1..512 times b (1x512) = ones: row i of the 2 MiB
	// result is all i+1.
	col := make([]byte, 0, 4*512)
	col = append(col, '[')
	for i := range 512 {
		if i > 0 {
			col = append(col, ',')
		}
		col = fmt.Appendf(col, "%d", i+1)
	}
	col = append(col, ']')
	const requests = 8
	for id := 1; id <= requests; id++ {
		msg := fmt.Sprintf(`{"id":%d,"op":"gemm","args":{"a":{"dtype":"f64","shape":[512,1],"data":%s},"b":{"dtype":"f64","shape":[1,512],"data":%s}},"reply":"binary"}`,
			id, col, ones(512))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("request %d: %v", id, err)
		}
	}
	pings := make(chan error, 1)
	go func() {
		var worst time.Duration
		for range 20 {
			start := time.Now()
			if _, err := other.Ping(context.Background()); err != nil {
				pings <- err
				return
			}
			worst = max(worst, time.Since(start))
			time.Sleep(50 * time.Millisecond) // pacing: pings spread over a second
		}
		if worst > time.Second {
			pings <- fmt.Errorf("a ping took %v while a client read slowly", worst)
		}
		close(pings)
	}()
	start := time.Now()
	conn.SetReadDeadline(start.Add(time.Minute))
	seen := map[int64]bool{}
	for len(seen) < requests {
		kind, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d replies: %v", len(seen), requests, err)
		}
		rep, err := wire.DecodeReply(kind == websocket.BinaryMessage, msg)
		if err != nil || !rep.OK {
			t.Fatalf("reply: %v %+v", err, rep)
		}
		c := rep.Result["c"].Tensor
		if c == nil || len(c.Shape) != 2 || c.Shape[0] != 512 || c.Shape[1] != 512 {
			t.Fatalf("reply %d: result %+v", rep.ID, rep.Result)
		}
		for i, v := range c.Float64() {
			if v != float64(i/512+1) {
				t.Fatalf("reply %d: c[%d] = %v, want %d", rep.ID, i, v, i/512+1)
			}
		}
		seen[rep.ID] = true
	}
	took := time.Since(start)
	if err := <-pings; err != nil {
		t.Error(err)
	}
	t.Logf("%d replies of 2 MiB read slowly in %v (%.1f MB/s)", requests, took, float64(requests*2<<20)/took.Seconds()/1e6)
	conn.Close()
	if n := settle(base, 3); n > base+3 {
		t.Errorf("%d goroutines before, %d after the slow reader left", base, n)
	}
}

// ones is a JSON array of n ones.
func ones(n int) string {
	b := make([]byte, 0, 2*n+2)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '1')
	}
	return string(append(b, ']'))
}

// A client whose TCP connection vanishes mid-request, without a close
// frame: its jobs stop and its goroutines end; the server serves on.
func TestVanishedClient(t *testing.T) {
	ts := start(t, nil)
	base := runtime.NumGoroutine()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, ex := range []string{"pool", "subprocess"} {
		conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":3,"iters":1e15},"exec":%q}`, id+1, ex)))
	}
	busy := func() int { return ts.execs["pool"].Load().Busy + ts.execs["subprocess"].Load().Busy }
	testutil.WaitFor(t, 10*time.Second, "both jobs running", func() bool { return busy() == 2 })
	conn.UnderlyingConn().(*net.TCPConn).SetLinger(0) // a reset, not a FIN after a close frame
	conn.UnderlyingConn().Close()
	if !testutil.Poll(5*time.Second, func() bool { return busy() == 0 }) {
		t.Fatalf("%d jobs still running 5 s after the client vanished", busy())
	}
	if _, err := ts.dial(t).Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := settle(base, 8); n > base+8 {
		t.Errorf("%d goroutines before, %d after", base, n)
	}
}

// Shutdown with 50 connections busy: every request in flight gets its
// reply (a result within the grace, canceled after it) before the close
// (only one sent after Shutdown began may meet the close instead),
// and no goroutine of the server outlives it.
func TestShutdownUnderLoad(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Grace = 500 * time.Millisecond })
	base := runtime.NumGoroutine()
	const conns = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	answered := 0
	var shutdownAt atomic.Int64 // when Shutdown was called, in Unix ns
	for i := range conns {
		c := ts.dial(t)
		wg.Go(func() {
			// Short jobs, one after another, then a long one.
			for j := 0; ; j++ {
				iters := int64(1e6)
				if j == 3 {
					iters = 1e15
				}
				sentBeforeShutdown := shutdownAt.Load() == 0
				_, _, err := c.Modsum(context.Background(), int64(i), iters, &client.Options{Exec: execNames[i%4]})
				mu.Lock()
				answered++
				switch e := wire.AsError(err); {
				case err == nil:
					outcomes["ok"]++
				case e != nil && e.Code == wire.Canceled:
					outcomes["canceled"]++
				case e != nil && e.Code == wire.Overloaded:
					outcomes["overloaded"]++
				case !sentBeforeShutdown && strings.Contains(err.Error(), "close 1001"):
					// Sent while the server was draining: it may cross the
					// server's close frame on the wire, and nothing can be
					// sent after that frame. The client says why.
					outcomes["crossed the close"]++
				default:
					outcomes[err.Error()]++ // the connection closed under a call: a lost reply
				}
				mu.Unlock()
				if err != nil && (wire.AsError(err) == nil || wire.AsError(err).Code != wire.Overloaded) {
					return
				}
			}
		})
	}
	// Shutdown comes once the load has settled: every connection waits on
	// a call the server holds (its long job, or a short one queued behind
	// the long jobs that fill the pool and the workers), and none has been
	// answered for 100 ms. No connection is then about to send, so every
	// call sent before Shutdown has reached the server.
	last, since := -1, time.Now()
	testutil.WaitFor(t, time.Minute, "every connection waiting on a call", func() bool {
		mu.Lock()
		n := answered
		mu.Unlock()
		if n != last || ts.inFlight(t) != conns {
			last, since = n, time.Now()
			return false
		}
		return time.Since(since) >= 100*time.Millisecond
	})
	shutdownAt.Store(time.Now().UnixNano())
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	for what, n := range outcomes {
		if what != "ok" && what != "canceled" && what != "overloaded" && what != "crossed the close" {
			t.Errorf("%d calls ended with %q: a reply was lost", n, what)
		}
	}
	if outcomes["canceled"] == 0 || outcomes["ok"] == 0 {
		t.Errorf("outcomes %v: want results and cancellations", outcomes)
	}
	t.Logf("outcomes: %v", outcomes)
	if n := settle(base, 4); n > base+4 {
		t.Errorf("%d goroutines before, %d after shutdown", base, n)
	}
}

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
