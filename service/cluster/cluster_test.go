package cluster_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/kernels/conform"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Protocol timings for the tests: short, so that loss is found fast. The
// race detector slows the whole process (the embedded NATS server parses
// every byte in instrumented Go) until a node looks silent for hundreds of
// milliseconds while it works; under it they are five times longer.
var (
	testHeartbeat = raceSlack(20 * time.Millisecond)
	testLoss      = raceSlack(300 * time.Millisecond)
	testStatus    = raceSlack(50 * time.Millisecond)
)

// raceSlack returns d, or 5d under the race detector.
func raceSlack(d time.Duration) time.Duration {
	if testutil.RaceEnabled {
		return 5 * d
	}
	return d
}

// node is an in-process crunch server that is a cluster node.
type node struct {
	name string
	addr string // WebSocket host:port
	pool executor.Executor
	n    *cluster.Node
	srv  *server.Server
}

// startNATS starts an embedded nats-server on a free port.
func startNATS(t testing.TB) *cluster.Embedded {
	t.Helper()
	emb, err := cluster.Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	return emb
}

// startNode starts a server named name joined to the NATS at url, with
// workers pool threads and slots cluster slots (0: workers; -1: none).
func startNode(t testing.TB, url, name string, workers, slots int, tweak func(*cluster.Config)) *node {
	t.Helper()
	pool := executor.NewPool(executor.PoolConfig{Workers: workers})
	direct := executor.NewDirect(0)
	cfg := cluster.Config{URL: url, Name: name, Exec: pool, Slots: slots,
		Heartbeat: testHeartbeat, LossTimeout: testLoss, Status: testStatus,
		Executors: map[string]executor.Executor{executor.NameDirect: direct, executor.NamePool: pool}}
	if tweak != nil {
		tweak(&cfg)
	}
	cn, err := cluster.Join(cfg)
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	scfg := server.DefaultConfig()
	scfg.Executors = map[string]executor.Executor{
		executor.NameDirect:  direct,
		executor.NamePool:    pool,
		executor.NameCluster: cn.Executor(),
	}
	scfg.NodeName = name
	scfg.Cluster = cn
	srv, err := server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the server's shutdown
		cn.Close()
		pool.Close()
	})
	return &node{name: name, addr: testserver.Serve(t, srv), pool: pool, n: cn, srv: srv}
}

// waitSlots waits until nd's cluster executor sees slots slots in all.
func waitSlots(t testing.TB, nd *node, slots int) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "the nodes' status", func() bool {
		return nd.n.Executor().Load().Slots == slots
	})
}

// startCluster starts nodes on the NATS at url: gw, which takes no
// cluster work itself, and one node named for each of runners with
// workers slots; it returns once gw sees all their slots.
func startCluster(t testing.TB, url string, workers int, tweak func(*cluster.Config), runners ...string) (gw *node, rs []*node) {
	t.Helper()
	gw = startNode(t, url, "gw", 1, -1, tweak)
	for _, name := range runners {
		rs = append(rs, startNode(t, url, name, workers, 0, tweak))
	}
	waitSlots(t, gw, workers*len(runners))
	return gw, rs
}

// gatewayAndRunner starts a cluster of gw and one runner, b, with one
// slot (see startCluster).
func gatewayAndRunner(t testing.TB, url string, tweak func(*cluster.Config)) (gw, b *node) {
	t.Helper()
	gw, rs := startCluster(t, url, 1, tweak, "b")
	return gw, rs[0]
}

// wantNode sends a short modsum with exec=cluster through c and checks
// that node ran it (for the reason why, where there is one).
func wantNode(t testing.TB, c *client.Client, node, why string) {
	t.Helper()
	rep, err := c.Do(context.Background(), modsum(1000), &client.Options{Exec: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Node != node {
		if why != "" {
			node += " (" + why + ")"
		}
		t.Errorf("ran on %q, want %s", rep.Stats.Node, node)
	}
}

// runForever sends through c a modsum with exec=cluster that runs until
// ctx ends, and returns the channel its error comes on.
func runForever(ctx context.Context, c *client.Client) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, modsum(forever), &client.Options{Exec: "cluster"})
		errc <- err
	}()
	return errc
}

// modsum is a request for modsum over iters terms.
func modsum(iters int64) *wire.Request {
	return &wire.Request{Op: "modsum", Args: wire.Args{"n": wire.Int(7), "iters": wire.Int(iters)}}
}

// forever is a modsum that runs until stopped.
const forever = int64(1) << 50

// TestEveryOpThroughCluster: every op sent with exec=cluster to a node
// that runs nothing itself gives the result the node's own pool gives,
// and names the node that ran it.
func TestEveryOpThroughCluster(t *testing.T) {
	emb := startNATS(t)
	gw, _ := startCluster(t, emb.URL(), 2, nil, "b", "c")
	c := testserver.Dial(t, gw.addr)
	ctx := context.Background()
	for _, op := range kernels.Default().Ops() {
		for _, impl := range op.Impls {
			want, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: conform.ValidArgs(op)}, &client.Options{Exec: "pool", Impl: impl})
			if err != nil {
				t.Fatalf("%s/%s on the pool: %v", op.Name, impl, err)
			}
			got, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: conform.ValidArgs(op)}, &client.Options{Exec: "cluster", Impl: impl})
			if err != nil {
				t.Fatalf("%s/%s on the cluster: %v", op.Name, impl, err)
			}
			if len(got.Result) != len(want.Result) {
				t.Fatalf("%s/%s: cluster gave %d results, pool %d", op.Name, impl, len(got.Result), len(want.Result))
			}
			for k, v := range want.Result {
				if !v.Equal(got.Result[k]) {
					t.Errorf("%s/%s: result %q differs between cluster and pool", op.Name, impl, k)
				}
			}
			if s := got.Stats; s == nil || s.Exec != "cluster" || (s.Node != "b" && s.Node != "c") || s.Impl != impl {
				t.Errorf("%s/%s: stats %+v, want exec cluster on node b or c", op.Name, impl, s)
			}
			if s := want.Stats; s == nil || s.Node != "gw" {
				t.Errorf("%s/%s on the pool: stats %+v, want node gw", op.Name, impl, s)
			}
		}
	}
}

// TestLocalFirst: a node with a free slot runs its own cluster request.
func TestLocalFirst(t *testing.T) {
	emb := startNATS(t)
	a := startNode(t, emb.URL(), "a", 1, 0, nil)
	startNode(t, emb.URL(), "b", 1, 0, nil)
	waitSlots(t, a, 2)
	wantNode(t, testserver.Dial(t, a.addr), "a", "its own free slot")
}

// TestBusyNodeGetsNoWork: with one slot on each of two nodes, two long
// jobs run one on each, never both on one while the other idles.
func TestBusyNodeGetsNoWork(t *testing.T) {
	emb := startNATS(t)
	gw, _ := startCluster(t, emb.URL(), 1, nil, "b", "c")
	c := testserver.Dial(t, gw.addr)
	for round := range 3 {
		var wg sync.WaitGroup
		nodes := make([]string, 2)
		for i := range nodes {
			wg.Go(func() {
				rep, err := c.Do(context.Background(), modsum(5_000_000_000), &client.Options{Exec: "cluster"})
				if err != nil {
					t.Error(err)
					return
				}
				nodes[i] = rep.Stats.Node
			})
		}
		wg.Wait()
		if nodes[0] == nodes[1] {
			t.Errorf("round %d: both jobs ran on %q", round, nodes[0])
		}
		waitSlots(t, gw, 2)
	}
}

// TestNoNodeLeft: a cluster request with no node to run it is refused
// with overloaded and a retry hint, not left unanswered.
func TestNoNodeLeft(t *testing.T) {
	emb := startNATS(t)
	gw := startNode(t, emb.URL(), "gw", 1, -1, nil)
	_, err := testserver.Dial(t, gw.addr).Do(context.Background(), modsum(1000), &client.Options{Exec: "cluster"})
	var e *wire.Error
	if !errors.As(err, &e) || e.Code != wire.Overloaded || e.RetryAfterMS <= 0 {
		t.Fatalf("got %v, want overloaded with retry_after_ms", err)
	}
}

// busyNode waits until one of nodes runs a job and returns it.
func busyNode(t testing.TB, nodes ...*node) *node {
	t.Helper()
	var busy *node
	testutil.WaitFor(t, 10*time.Second, "a job running on a node", func() bool {
		for _, nd := range nodes {
			if nd.pool.Load().Busy > 0 {
				busy = nd
				return true
			}
		}
		return false
	})
	return busy
}

// TestStopsReachTheRunner: cancel, timeout_ms and a closed connection
// stop the kernel on the node that runs it.
func TestStopsReachTheRunner(t *testing.T) {
	emb := startNATS(t)
	gw, b := gatewayAndRunner(t, emb.URL(), nil)
	idle := func(what string, since time.Time) {
		t.Helper()
		testutil.WaitFor(t, 5*time.Second, "b's kernel to stop after "+what, func() bool { return b.pool.Load().Busy == 0 })
		// The aim is ~50 ms; the bound is generous for a loaded machine.
		if took := time.Since(since); took > 500*time.Millisecond {
			t.Errorf("%s: b's kernel stopped only %v after", what, took)
		} else {
			t.Logf("%s: b's kernel stopped %v after", what, took.Round(time.Millisecond))
		}
	}

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := runForever(ctx, testserver.Dial(t, gw.addr))
		busyNode(t, b)
		at := time.Now()
		cancel() // the client sends cancel
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want canceled", err)
		}
		idle("cancel", at)
	})
	t.Run("deadline", func(t *testing.T) {
		c := testserver.Dial(t, gw.addr)
		at := time.Now()
		_, err := c.Do(context.Background(), modsum(forever), &client.Options{Exec: "cluster", Timeout: 300 * time.Millisecond})
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != wire.DeadlineExceeded {
			t.Fatalf("got %v, want deadline_exceeded", err)
		}
		idle("deadline", at.Add(300*time.Millisecond))
	})
	t.Run("closed", func(t *testing.T) {
		c, err := client.Dial(context.Background(), gw.addr)
		if err != nil {
			t.Fatal(err)
		}
		go c.Do(context.Background(), modsum(forever), &client.Options{Exec: "cluster"})
		busyNode(t, b)
		at := time.Now()
		c.Close()
		idle("closing the connection", at)
	})
}

// TestDrainHandsBack: a node leaving gracefully hands back the job it
// cannot finish in time, and another node runs it.
func TestDrainHandsBack(t *testing.T) {
	emb := startNATS(t)
	gw, b := gatewayAndRunner(t, emb.URL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := runForever(ctx, testserver.Dial(t, gw.addr))
	busyNode(t, b)
	// c joins only now, so that the job went to b.
	cn := startNode(t, emb.URL(), "c", 1, 0, nil)
	waitSlots(t, gw, 2)
	grace, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	b.n.Drain(grace)
	testutil.WaitFor(t, 5*time.Second, "b to stop the job it handed back", func() bool { return b.pool.Load().Busy == 0 })
	busyNode(t, cn)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want canceled", err)
	}
}

// TestLargeArraysTravelInParts: requests and results far over the NATS
// max payload (1 MiB here) go between nodes in parts, give the pool's
// result, and leave nothing behind.
func TestLargeArraysTravelInParts(t *testing.T) {
	emb := startNATS(t)
	// Not a test of loss: a loaded machine (or -race) may take seconds.
	patient := func(c *cluster.Config) { c.LossTimeout = 10 * time.Second }
	gw, b := gatewayAndRunner(t, emb.URL(), patient)
	c := testserver.Dial(t, gw.addr)
	const n = 10 << 20 / 8 // 10 MiB of f64: a window (8 MiB) and a bit
	x := make([]float64, n)
	for i := range x {
		x[i] = float64((i * 7919) % n)
	}
	m := make([]float64, 512*512)
	for i := range m {
		m[i] = float64(i%13) - 6
	}
	for _, req := range []*wire.Request{
		{Op: "sort", Args: wire.Args{"x": wire.TensorValue(tensor.FromFloat64([]int{n}, x))}},
		{Op: "gemm", Args: wire.Args{"a": wire.TensorValue(tensor.FromFloat64([]int{512, 512}, m)),
			"b": wire.TensorValue(tensor.FromFloat64([]int{512, 512}, m))}},
	} {
		want, err := c.Do(context.Background(), req, &client.Options{Exec: "pool"})
		if err != nil {
			t.Fatal(err)
		}
		req.ID = 0
		got, err := c.Do(context.Background(), req, &client.Options{Exec: "cluster"})
		if err != nil {
			t.Fatalf("%s through the cluster: %v", req.Op, err)
		}
		if got.Stats.Node != "b" {
			t.Errorf("%s ran on %q", req.Op, got.Stats.Node)
		}
		for k, v := range want.Result {
			if !v.Equal(got.Result[k]) {
				t.Errorf("%s: result %q differs between cluster and pool", req.Op, k)
			}
		}
	}
	if a, b := cluster.Assembling(gw.n), cluster.Assembling(b.n); a != 0 || b != 0 {
		t.Errorf("messages left in assembly: %d at the origin, %d at the runner", a, b)
	}
}

// A 64 MiB request (and its 64 MiB reply) crosses the cluster in parts no
// larger than NATS's recommended payload, comes back right, and leaves
// nothing in assembly on either node.
func TestSixtyFourMiBRequest(t *testing.T) {
	if testing.Short() || testutil.RaceEnabled {
		// TestLargeArraysTravelInParts takes the same path under the
		// race detector, with fewer parts.
		t.Skip("moves 128 MiB between nodes")
	}
	emb := startNATS(t)
	patient := func(c *cluster.Config) { c.LossTimeout = 30 * time.Second }
	gw, b := gatewayAndRunner(t, emb.URL(), patient)
	c := testserver.Dial(t, gw.addr)
	const n = 64 << 20 / 8
	x := make([]float64, n)
	s := uint64(1)
	for i := range x {
		s = s*6364136223846793005 + 1442695040888963407
		x[i] = float64(int64(s>>11)) - float64(1<<52)
	}
	want := slices.Clone(x)
	slices.Sort(want)
	req := &wire.Request{Op: "sort", Args: wire.Args{"x": wire.TensorValue(tensor.FromFloat64([]int{n}, x))}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := c.Do(ctx, req, &client.Options{Exec: "cluster"})
	if err != nil {
		t.Fatalf("64 MiB sort through the cluster: %v", err)
	}
	if got.Stats.Node != "b" {
		t.Errorf("ran on %q, want b", got.Stats.Node)
	}
	if !got.Result["x"].Equal(wire.TensorValue(tensor.FromFloat64([]int{n}, want))) {
		t.Error("the sorted 64 MiB differ from slices.Sort's")
	}
	if a, r := cluster.Assembling(gw.n), cluster.Assembling(b.n); a != 0 || r != 0 {
		t.Errorf("messages left in assembly: %d at the origin, %d at the runner", a, r)
	}
}

// TestAutoSpills: with AutoSpill, a job exec=auto gives a pool whose
// queue is full runs on the cluster, and says so in its stats.
func TestAutoSpills(t *testing.T) {
	emb := startNATS(t)
	pool := executor.NewPool(executor.PoolConfig{Workers: 1, Queue: 1})
	t.Cleanup(func() { pool.Close() }) // after the server's shutdown, as cn's
	cn, err := cluster.Join(cluster.Config{URL: emb.URL(), Name: "a", Exec: pool,
		Heartbeat: testHeartbeat, LossTimeout: testLoss, Status: testStatus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cn.Close() })
	scfg := server.DefaultConfig()
	scfg.Executors = map[string]executor.Executor{executor.NameDirect: executor.NewDirect(0), executor.NamePool: pool,
		executor.NameCluster: cn.Executor()}
	scfg.NodeName = "a"
	scfg.AutoSpill = cluster.Spill(pool, cn)
	srv, err := server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := testserver.Serve(t, srv)
	startNode(t, emb.URL(), "b", 1, 0, nil)
	testutil.WaitFor(t, 10*time.Second, "a to see both nodes", func() bool { return cn.Executor().Load().Slots == 2 })

	c := testserver.Dial(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One runs on a's pool, then one waits in its queue.
	go c.Do(ctx, modsum(forever), nil)
	testutil.WaitFor(t, 10*time.Second, "a's pool busy", func() bool { return pool.Load().Busy == 1 })
	go c.Do(ctx, modsum(forever), nil)
	testutil.WaitFor(t, 10*time.Second, "a's pool full", func() bool { l := pool.Load(); return l.Busy == 1 && l.Queued == 1 })
	rep, err := c.Do(context.Background(), modsum(1_000_000_000), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Exec != "cluster" || rep.Stats.Node != "b" {
		t.Errorf("stats %+v, want exec cluster on node b", rep.Stats)
	}
}
