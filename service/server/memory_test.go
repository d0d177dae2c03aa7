package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// The tests here measure a real `crunch serve` process from outside, as a
// user would: its VmRSS in /proc and its /metrics. Memory is not something
// a server in the test process could show, the clients' would count too.

// raiseNoFile makes room for n open files in this process and in the
// server it starts (children inherit the limit), or skips the test,
// loudly: without them the test would measure a server refusing clients.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
	if lim.Cur >= n {
		// Set anyway: a limit Go raised by itself at start-up is not
		// passed on to children, one set here is.
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := lim
	want.Cur = n
	want.Max = max(lim.Max, n) // raising the hard limit needs root
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		t.Skipf("\n*** SKIPPED: this test needs %d open files, and the limit (RLIMIT_NOFILE) is %d/%d "+
			"and could not be raised (%v). Raise it (ulimit -n %d, as root) and run it again. ***", n, lim.Cur, lim.Max, err, n)
	}
}

// startProcess starts `crunch serve` with args as a process of its own.
func startProcess(t *testing.T, args ...string) *load.Server {
	t.Helper()
	return testserver.Start(context.Background(), t, t.TempDir(), load.ServerConfig{Args: args}, true)
}

// rss is process pid's resident memory (VmRSS) in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	st, err := load.ReadProcStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st.RSSBytes
}

// rssParts says what process pid's resident memory is made of: anonymous
// (heaps, stacks), file (the binary) and shared (memfds, such as the
// subprocess workers' arenas).
func rssParts(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(k, "Rss") {
			parts = append(parts, k+" "+strings.Join(strings.Fields(v), " "))
		}
	}
	return strings.Join(parts, ", ")
}

// metricsOf scrapes the /metrics of the server at addr and returns the
// samples without labels by name.
func metricsOf(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			m[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// dialPinged opens a bare WebSocket connection with small buffers (the
// test holds 10,000), sends the protocol's ping and reads its answer.
func dialPinged(addr string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1 * kib, WriteBufferSize: 1 * kib}
	conn, _, err := d.Dial("ws://"+addr+"/v1/ws", nil)
	if err != nil {
		return nil, err
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"op":"ping"}`)); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, msg, err := conn.ReadMessage()
	if err == nil && !strings.Contains(string(msg), `"ok":true`) {
		err = fmt.Errorf("ping answered %s", msg)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// An idle connection costs the server at most idleBudget of resident
// memory: 10,000 connections are opened, each sends one ping and then
// stays idle, and the server process's RSS grows by at most 10,000 times
// that. Meanwhile the server still pings every connection every
// --ping-interval.
func TestIdleConnectionMemory(t *testing.T) {
	const (
		conns      = 10000
		idleBudget = 16 * kib
		interval   = 2 * time.Second
	)
	if testing.Short() {
		t.Skip("10,000 connections to a server process of its own: not with -short")
	}
	raiseNoFile(t, conns+2000)
	// The peers do not answer pings (they read nothing while idle), so
	// the ping timeout is long: the server's pings are what is measured,
	// not its closing of silent peers.
	srv := startProcess(t, "--workers", "1", "--pool-workers", "1", "--log-level", "warn",
		"--max-conns", strconv.Itoa(2*conns), "--ping-interval", interval.String(), "--ping-timeout", "5m")
	pid := srv.PID()

	// One connection first, so that what the first one sets up once for
	// all (pools, the logger's first use) is not counted.
	warm, err := dialPinged(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	if !testutil.Poll(10*time.Second, func() bool { return metricsOf(t, srv.Addr)["crunch_connections"] == 0 }) {
		t.Fatal("the warm-up connection is still open")
	}
	before := rss(t, pid)

	open := make([]*websocket.Conn, conns)
	t.Cleanup(func() { // before the server stops: it then has nothing to drain
		for _, c := range open {
			if c != nil {
				c.Close()
			}
		}
	})
	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range 32 { // not all at once: the listen backlog is finite
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < conns; i = int(next.Add(1) - 1) {
				c, err := dialPinged(srv.Addr)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				open[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d connections open and pinged in %v", conns, time.Since(began).Round(time.Millisecond))
	if !testutil.Poll(10*time.Second, func() bool { return metricsOf(t, srv.Addr)["crunch_connections"] == conns }) {
		t.Fatalf("the server counts %v connections, want %d", metricsOf(t, srv.Addr)["crunch_connections"], conns)
	}

	// Idle now: wait for the resident size to come within budget (a GC
	// cycle shrinks the stacks that grew while pinging) or 20 s to pass.
	var perConn int64
	held := testutil.Poll(20*time.Second, func() bool {
		perConn = (rss(t, pid) - before) / conns
		return perConn <= idleBudget
	})
	m := metricsOf(t, srv.Addr)
	t.Logf("idle: %.1f KiB RSS per connection (%.0f MiB before, %.0f MiB with %d open); per connection: %.2f goroutines, %.1f KiB of stacks, %.1f KiB of heap in use",
		float64(perConn)/kib, float64(before)/mib, float64(rss(t, pid))/mib, conns,
		m["go_goroutines"]/conns, m["go_memstats_stack_inuse_bytes"]/conns/kib, m["go_memstats_heap_inuse_bytes"]/conns/kib)
	if !held {
		t.Errorf("an idle connection costs %.1f KiB of resident memory, want at most %d KiB", float64(perConn)/kib, idleBudget/kib)
	}
	// One goroutine each, its reader; a writer exists only while there is
	// something to write (a few pings at any moment).
	if g := m["go_goroutines"]; g > conns+conns/20+100 {
		t.Errorf("%.0f goroutines with %d idle connections, want about one each", g, conns)
	}

	// Every connection is still pinged: a sample of them finds pings
	// waiting, or receives one within two intervals.
	var pinged atomic.Int64
	const sample = 50
	for i := range sample {
		c := open[i*(conns/sample)]
		wg.Go(func() {
			got := false
			c.SetPingHandler(func(string) error { got = true; return nil })
			c.SetReadDeadline(time.Now().Add(2*interval + time.Second))
			for !got {
				if _, _, err := c.ReadMessage(); err != nil {
					break
				}
			}
			if got {
				pinged.Add(1)
			}
		})
	}
	wg.Wait()
	if n := pinged.Load(); n != sample {
		t.Errorf("%d of %d idle connections were pinged within %v", n, sample, 2*interval+time.Second)
	}
}

// A burst of work leaves little behind: 1,000 connections calling gemm at
// once, 50 clients vanishing mid-request (TCP reset) with 16 MiB gemm
// requests, and 5 slow readers of 8 MiB results. Within 10 s of the last
// client closing, the server's resident memory is back under 150 MiB and
// its Go heap in use under 64 MiB.
func TestMemoryComesBackAfterBurst(t *testing.T) {
	const (
		conns     = 1000
		vanishing = 50
		slow      = 5
		rssBudget = 150 * mib
		heapLimit = 64 * mib
	)
	if testing.Short() {
		t.Skip("a burst of 1,000 connections to a server process of its own: not with -short")
	}
	raiseNoFile(t, 4*conns)
	srv := startProcess(t, "--workers", "2", "--pool-workers", "2", "--log-level", "warn")
	pid := srv.PID()
	ctx := context.Background()
	started := rss(t, pid)

	r := rand.New(rand.NewPCG(7, 7))
	// Built once: a client encoding 16 MiB per call would be the bottleneck.
	a256, b256 := randMatrix(r, tensor.F64, 256, 256), randMatrix(r, tensor.F64, 256, 256)
	a1k, b1k := randMatrix(r, tensor.F64, 1024, 1024), randMatrix(r, tensor.F64, 1024, 1024)
	gemm1k := func(id int64, exec string) []byte {
		msg, err := wire.EncodeRequest(&wire.Request{ID: id, Op: "gemm", Exec: exec, Reply: "binary",
			Args: wire.Args{"a": wire.TensorValue(a1k), "b": wire.TensorValue(b1k)}}, true)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	big := gemm1k(1, "pool")

	var peak atomic.Int64
	sampling := make(chan struct{})
	go func() { // the peak, for the log
		for {
			select {
			case <-sampling:
				return
			case <-time.After(50 * time.Millisecond):
				if st, err := load.ReadProcStatus(pid); err == nil && st.RSSBytes > peak.Load() {
					peak.Store(st.RSSBytes)
				}
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, conns+vanishing+slow)
	began := time.Now()

	// 1,000 connections open at once, then two gemm calls each (1 MiB
	// in, 512 KiB out) on every executor.
	clients := make([]*client.Client, conns)
	var next atomic.Int64
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < conns; i = int(next.Add(1) - 1) {
				c, err := client.Dial(ctx, srv.Addr)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	for i, c := range clients {
		if c == nil {
			continue
		}
		wg.Go(func() {
			for range 2 {
				for {
					_, _, err := c.Gemm(ctx, a256, b256, &client.Options{Exec: execNames[i%4], Timeout: time.Minute})
					if e := wire.AsError(err); e != nil && e.Code == wire.Overloaded {
						// Pacing, as the protocol asks of a client: not a wait for a state.
						time.Sleep(time.Duration(e.RetryAfterMS+1) * time.Millisecond)
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("conn %d: gemm: %w", i, err)
						return
					}
					break
				}
			}
		})
	}

	// Clients that vanish: a 16 MiB request, a moment, then a TCP reset
	// (no close frame), while the server reads it, runs it or answers.
	for i := range vanishing {
		wg.Go(func() {
			conn, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/v1/ws", nil)
			if err != nil {
				errs <- fmt.Errorf("vanishing client %d: %w", i, err)
				return
			}
			conn.WriteMessage(websocket.BinaryMessage, big) // may fail if the reset below raced it: fine
			// Under test: resets at staggered moments, while the server
			// reads the request, runs it or answers it.
			time.Sleep(time.Duration(i%10) * 20 * time.Millisecond)
			conn.UnderlyingConn().(*net.TCPConn).SetLinger(0)
			conn.Close()
		})
	}

	// Slow readers: four requests with 8 MiB results each, of which they
	// read two at about 16 MB/s, then leave.
	for i := range slow {
		wg.Go(func() {
			d := websocket.Dialer{ReadBufferSize: 16 * kib, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				c.(*net.TCPConn).SetReadBuffer(64 * kib) // so that the server's writes wait on us
				return slowConn{c}, nil
			}}
			conn, _, err := d.Dial("ws://"+srv.Addr+"/v1/ws", nil)
			if err != nil {
				errs <- fmt.Errorf("slow reader %d: %w", i, err)
				return
			}
			defer conn.Close()
			conn.SetReadLimit(-1)
			for id := range int64(4) {
				if err := conn.WriteMessage(websocket.BinaryMessage, gemm1k(id+1, execNames[(i+int(id))%4])); err != nil {
					errs <- fmt.Errorf("slow reader %d: %w", i, err)
					return
				}
			}
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			for range 2 {
				_, r, err := conn.NextReader()
				if err == nil {
					_, err = io.Copy(io.Discard, r)
				}
				if err != nil {
					errs <- fmt.Errorf("slow reader %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
	closed := time.Now()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("burst: %v, server RSS %.0f MiB at start, peak %.0f MiB", closed.Sub(began).Round(time.Millisecond),
		float64(started)/mib, float64(peak.Load())/mib)

	var res, heap int64
	back := testutil.Poll(10*time.Second, func() bool {
		res = rss(t, pid)
		m := metricsOf(t, srv.Addr)
		heap = int64(m["go_memstats_heap_inuse_bytes"])
		return res < rssBudget && heap < heapLimit && m["crunch_connections"] == 0
	})
	close(sampling)
	t.Logf("%v after the last client closed: RSS %.0f MiB (%s), Go heap in use %.0f MiB", time.Since(closed).Round(time.Millisecond),
		float64(res)/mib, rssParts(pid), float64(heap)/mib)
	if !back {
		t.Errorf("10 s after the burst the server holds RSS %.0f MiB (want < %d) and Go heap in use %.0f MiB (want < %d)",
			float64(res)/mib, rssBudget/mib, float64(heap)/mib, heapLimit/mib)
	}
}
