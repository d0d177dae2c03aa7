package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestKillNodeUnderLoad: a node process killed with SIGKILL while it runs
// jobs costs only latency: every request is answered once, with success.
func TestKillNodeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/crunch")
	}
	emb := startNATS(t)
	gw := startNode(t, emb.URL(), "gw", 1, -1, nil)
	startNode(t, emb.URL(), "b", 2, 0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	victim := testserver.Start(ctx, t, t.TempDir(), load.ServerConfig{Args: []string{
		"--nats", emb.URL(), "--nats-name", "victim", "--pool-workers", "2", "--workers", "0"}}, false)
	waitSlots(t, gw, 4)

	// A raw connection, so that a second reply to one id would be seen.
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+gw.addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const jobs = 12
	var mu sync.Mutex
	replies := map[int64][]*wire.Reply{}
	fence := make(chan struct{})
	go func() {
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			rep, err := wire.DecodeReply(false, msg)
			if err != nil {
				t.Errorf("a reply that does not decode: %v", err)
				return
			}
			if rep.ID == jobs+1 { // the ping sent after every job's reply
				close(fence)
				continue
			}
			mu.Lock()
			replies[rep.ID] = append(replies[rep.ID], rep)
			mu.Unlock()
		}
	}()
	for id := int64(1); id <= jobs; id++ {
		req := fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":7,"iters":3000000000},"exec":"cluster"}`, id)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	vc := testserver.Dial(t, victim.Addr)
	testutil.WaitFor(t, 30*time.Second, "the victim to run jobs", func() bool { _, busy := testserver.ExecLoad(t, vc, "pool"); return busy > 0 })
	if err := syscall.Kill(victim.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 2*time.Minute, "every job's reply", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(replies) == jobs
	})
	if err := conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"id":%d,"op":"ping"}`, jobs+1)); err != nil {
		t.Fatal(err)
	}
	<-fence
	mu.Lock()
	defer mu.Unlock()
	for id, reps := range replies {
		if len(reps) != 1 {
			t.Errorf("request %d: %d replies", id, len(reps))
		}
		if r := reps[0]; !r.OK {
			t.Errorf("request %d: %v", id, r.Error)
		} else if r.Stats.Node != "b" && r.Stats.Node != "victim" {
			t.Errorf("request %d ran on %q", id, r.Stats.Node)
		}
	}
}

// proxy forwards TCP connections to a NATS server until cut.
type proxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    []net.Conn
}

func startProxy(t testing.TB, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

// cut closes every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestNodeLinkDropsAndReturns: a node whose NATS connection drops while
// it runs a job loses that job to another node (answered once), and takes
// work again once its connection is back.
func TestNodeLinkDropsAndReturns(t *testing.T) {
	emb := startNATS(t)
	gw := startNode(t, emb.URL(), "gw", 1, -1, nil)
	px := startProxy(t, emb.URL()[len("nats://"):])
	b := startNode(t, px.url(), "b", 1, 0, nil)
	waitSlots(t, gw, 1)
	c := testserver.Dial(t, gw.addr)
	type result struct {
		rep *wire.Reply
		err error
	}
	res := make(chan result, 1)
	go func() {
		rep, err := c.Do(context.Background(), modsum(3_000_000_000), &client.Options{Exec: "cluster"})
		res <- result{rep, err}
	}()
	busyNode(t, b)
	cn := startNode(t, emb.URL(), "c", 1, 0, nil)
	waitSlots(t, gw, 2)
	px.cut()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rep.Stats.Node != "c" {
		t.Errorf("ran on %q, want c (b was cut off)", r.rep.Stats.Node)
	}

	px.restore()
	testutil.WaitFor(t, 10*time.Second, "b back and idle", func() bool {
		return b.n.Conn().IsConnected() && b.pool.Load().Busy == 0 && gw.n.Executor().Load().Busy == 0
	})
	waitSlots(t, gw, 2)
	// With c busy with work of its own, the next job can only go to b.
	busy, stop := context.WithCancel(context.Background())
	defer stop()
	go testserver.Dial(t, cn.addr).Do(busy, modsum(forever), &client.Options{Exec: "pool"})
	busyNode(t, cn)
	wantNode(t, c, "b", "back, and the only node free")
}

// TestOriginGone: a runner stops the job of an origin that has gone.
func TestOriginGone(t *testing.T) {
	emb := startNATS(t)
	gw, b := gatewayAndRunner(t, emb.URL(), nil)
	go testserver.Dial(t, gw.addr).Do(context.Background(), modsum(forever), &client.Options{Exec: "cluster"})
	busyNode(t, b)
	at := time.Now()
	gw.n.Conn().Close()
	testutil.WaitFor(t, 10*time.Second, "b to stop the orphaned job", func() bool { return b.pool.Load().Busy == 0 })
	t.Logf("b stopped the job %v after its origin left", time.Since(at).Round(time.Millisecond))
}
