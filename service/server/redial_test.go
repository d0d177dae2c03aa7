package server_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// cutter is a TCP proxy whose connections can all be cut at once, as a
// network failure would.
type cutter struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutter{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go io.Copy(in, out)
			go io.Copy(out, in)
		}
	}()
	return p
}

func (p *cutter) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A Redialer dials again after a lost connection; an idempotent call cut
// off mid-flight is sent again and answered, one that is not gets the
// connection's error.
func TestRedialer(t *testing.T) {
	ts := start(t, nil)
	proxy := newCutter(t, ts.addr)
	r := client.NewRedialer(proxy.ln.Addr().String())
	ctx := context.Background()
	modsum := func(iters int64) *wire.Request {
		return &wire.Request{Op: "modsum", Args: wire.Args{"n": wire.Int(3), "iters": wire.Int(iters)}}
	}
	if _, err := r.Do(ctx, modsum(100), nil); err != nil {
		t.Fatal(err)
	}
	first, _ := r.Client(ctx)

	// Lost between calls, and noticed: the next call dials again.
	proxy.cut()
	testutil.WaitFor(t, 10*time.Second, "the client to notice the cut", func() bool { return first.Err() != nil })
	if _, err := r.Do(ctx, modsum(100), nil); err != nil {
		t.Fatalf("after a cut between calls: %v", err)
	}
	if c, _ := r.Client(ctx); c == first {
		t.Fatal("the lost connection is still in use")
	}

	// Lost mid-call: a job of about 100 ms, cut once it runs.
	const iters = 3e9 // about 0.1 s of C modsum, whatever the SIMD path
	pool := ts.execs["pool"]
	for _, idempotent := range []bool{true, false} {
		testutil.WaitFor(t, 10*time.Second, "the pool idle", func() bool { return pool.Load().Busy == 0 })
		go func() {
			testutil.Poll(10*time.Second, func() bool { return pool.Load().Busy > 0 })
			proxy.cut()
		}()
		rep, err := r.Do(ctx, modsum(iters), &client.Options{Idempotent: idempotent, Exec: "pool"})
		switch {
		case idempotent && (err != nil || !rep.OK):
			t.Errorf("idempotent call across a cut: %v", err)
		case !idempotent && (err == nil || rep != nil):
			t.Errorf("non-idempotent call across a cut: %v, %+v; want the connection's error", err, rep)
		}
	}
}
