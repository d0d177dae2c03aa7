package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// The test binary doubles as the subprocess worker, so the end-to-end
// tests run the real subprocess executor without building cmd/crunch.
func TestMain(m *testing.M) {
	if os.Getenv("CRUNCH_TEST_WORKER") == "1" {
		if err := executor.WorkerMain(os.Stdin, os.Stdout, kernels.Default()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testOp registers in the default registry an op for tests only, with no
// arguments, outElems elements of result and one implementation, Go's:
// run. This test binary both serves and plays the subprocess worker, so
// its workers know the op too; no normal build can reach it.
func testOp(name, doc string, outElems float64, run kernels.RunFunc) *kernels.Op {
	op := &kernels.Op{Name: name, Doc: doc, Impls: []string{kernels.ImplGo},
		Bind: func(kernels.Args) (*kernels.Call, error) {
			return kernels.NewCall(nil, 1, outElems, map[string]kernels.RunFunc{kernels.ImplGo: run}), nil
		}}
	kernels.Default().Register(op)
	return op
}

// testServer is a real server on a free loopback port.
type testServer struct {
	srv   *server.Server
	addr  string
	execs map[string]executor.Executor
}

func start(t testing.TB, tweak func(*server.Config)) *testServer {
	t.Helper()
	sub, err := executor.NewSubprocess(executor.SubprocessConfig{
		Workers: 2, Command: []string{os.Args[0]}, Env: []string{"CRUNCH_TEST_WORKER=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	execs := map[string]executor.Executor{
		executor.NameDirect:     executor.NewDirect(0),
		executor.NamePool:       executor.NewPool(executor.PoolConfig{Workers: 2}),
		executor.NameSubprocess: sub,
	}
	cfg := server.DefaultConfig()
	cfg.Executors = execs
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the server's shutdown
		for _, ex := range execs {
			ex.Close()
		}
	})
	return &testServer{srv: srv, addr: testserver.Serve(t, srv), execs: execs}
}

// dial connects a client to ts, closed when the test ends.
func (ts *testServer) dial(t testing.TB) *client.Client { return testserver.Dial(t, ts.addr) }

// raw is a bare WebSocket connection for sending what no client would.
func (ts *testServer) raw(t *testing.T) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// exchange sends one message on a raw connection and decodes the next reply.
func exchange(t *testing.T, conn *websocket.Conn, typ int, msg []byte) *wire.Reply {
	t.Helper()
	if err := conn.WriteMessage(typ, msg); err != nil {
		t.Fatal(err)
	}
	_, rep := nextReply(t, conn)
	return rep
}

// nextReply reads the next message on a raw connection within 10 s and
// returns its type with the decoded reply.
func nextReply(t *testing.T, conn *websocket.Conn) (int, *wire.Reply) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	mt, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	rep, err := wire.DecodeReply(mt == websocket.BinaryMessage, data)
	if err != nil {
		t.Fatalf("decoding reply %q: %v", data, err)
	}
	return mt, rep
}

func wantCode(t *testing.T, what string, err error, code wire.Code) *wire.Error {
	t.Helper()
	var e *wire.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	if e.Message == "" {
		t.Fatalf("%s: empty error message", what)
	}
	return e
}

// execNames are the values of "exec" every test server answers: auto and
// every executor; runExecs leaves auto out.
var execNames = append([]string{executor.NameAuto}, executor.Names...)
var runExecs = executor.Names

// implsOf returns op's implementations, from its definition.
func implsOf(t testing.TB, op string) []string {
	o, err := kernels.Default().Lookup(op)
	if err != nil {
		t.Fatal(err)
	}
	return o.Impls
}

func randMatrix(r *rand.Rand, dt tensor.DType, rows, cols int) *tensor.Tensor {
	t, _ := tensor.New(dt, rows, cols)
	switch dt {
	case tensor.F64:
		for i := range t.Float64() {
			t.Float64()[i] = r.Float64()*2 - 1
		}
	case tensor.F32:
		for i := range t.Float32() {
			t.Float32()[i] = float32(r.Float64()*2 - 1)
		}
	}
	return t
}

func TestGemmOptions(t *testing.T) {
	ts := start(t, nil)
	cl := ts.dial(t)
	a := tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})
	b := tensor.FromFloat64([]int{2, 2}, []float64{5, 6, 7, 8})
	c := tensor.FromFloat64([]int{2, 2}, []float64{1, 1, 1, 1})
	// 2·aᵀ·b + 3·c: aᵀ = [[1,3],[2,4]]; aᵀb = [[26,30],[38,44]]
	for _, impl := range implsOf(t, "gemm") {
		got, _, err := cl.GemmEx(context.Background(), client.GemmArgs{A: a, B: b, C: c, Alpha: new(2.0), Beta: new(3.0), TransA: new(true)}, &client.Options{Impl: impl})
		if err != nil {
			t.Fatal(err)
		}
		if want := []float64{55, 63, 79, 91}; fmt.Sprint(got.Float64()) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", impl, got.Float64(), want)
		}
	}
}

func TestPingInfoCancel(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"version", "cpu", "executors", "limits", "ops"} {
		if _, ok := info[key]; !ok {
			t.Errorf("info lacks %q", key)
		}
	}
	var ops []struct {
		Name  string   `json:"name"`
		Impls []string `json:"impls"`
	}
	json.Unmarshal(info["ops"], &ops)
	// sorted by name, with the first ops among them (more are added over time)
	var names []string
	for i, op := range ops {
		if i > 0 && op.Name <= ops[i-1].Name {
			t.Errorf("info ops out of order: %q after %q", op.Name, ops[i-1].Name)
		}
		names = append(names, op.Name)
	}
	if all := "," + strings.Join(names, ",") + ","; !strings.Contains(all, ",gemm,") || !strings.Contains(all, ",modsum,") {
		t.Errorf("info ops: %s", info["ops"])
	}

	// cancel: a long job on each exec, cancelled through the protocol.
	conn := ts.raw(t)
	for i, ex := range runExecs {
		id := int64(100 + i)
		msg := fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":%q}`, id, ex)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 10*time.Second, ex+": the long job running", func() bool { return ts.execs[ex].Load().Busy > 0 })
		cancelMsg := fmt.Sprintf(`{"id":%d,"op":"cancel","args":{"target":%d}}`, id+50, id)
		conn.WriteMessage(websocket.TextMessage, []byte(cancelMsg))
		got := map[int64]*wire.Reply{}
		for len(got) < 2 {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, data, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("%s: %v", ex, err)
			}
			rep, err := wire.DecodeReply(false, data)
			if err != nil {
				t.Fatal(err)
			}
			got[rep.ID] = rep
		}
		if r := got[id]; r == nil || r.OK || r.Error.Code != wire.Canceled || !strings.Contains(r.Error.Message, "canceled by request") {
			t.Errorf("%s: cancelled request replied %+v", ex, r)
		}
		if r := got[id+50]; r == nil || !r.OK || string(r.Result["canceled"].JSON) != "true" {
			t.Errorf("%s: cancel replied %+v", ex, r)
		}
	}
	// cancelling what is not in flight says so
	rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":1,"op":"cancel","args":{"target":999}}`))
	if !rep.OK || string(rep.Result["canceled"].JSON) != "false" {
		t.Errorf("cancel of nothing: %+v", rep)
	}
}

func TestDeadlineOnEveryExec(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	for _, ex := range execNames {
		start := time.Now()
		_, _, err := c.Modsum(context.Background(), 3, 1e12, &client.Options{Exec: ex, Timeout: 100 * time.Millisecond})
		wantCode(t, ex, err, wire.DeadlineExceeded)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: deadline reply after %v", ex, took)
		}
	}
	// and every executor is healthy afterwards
	for _, ex := range execNames {
		if _, _, err := c.Modsum(context.Background(), 3, 1000, &client.Options{Exec: ex}); err != nil {
			t.Fatalf("%s after deadline: %v", ex, err)
		}
	}
}

func TestProgressMessages(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	for _, ex := range runExecs {
		var mu sync.Mutex
		var seen []float64
		o := &client.Options{Exec: ex, Impl: "go", Timeout: 450 * time.Millisecond,
			Progress: func(f float64) { mu.Lock(); seen = append(seen, f); mu.Unlock() }}
		_, _, err := c.Modsum(context.Background(), 3, 1e12, o)
		wantCode(t, ex, err, wire.DeadlineExceeded)
		mu.Lock()
		if len(seen) < 2 {
			t.Errorf("%s: %d progress messages in 450 ms", ex, len(seen))
		}
		mu.Unlock()
	}
}

func TestBadInputGetsErrorAndServerServes(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxElements = 1000 })
	conn := ts.raw(t)
	cases := []struct {
		name string
		typ  int
		msg  string
		bin  []byte
		code wire.Code
		id   int64
	}{
		{"not json", websocket.TextMessage, `{"id":1,`, nil, wire.InvalidArgument, 0},
		{"no op", websocket.TextMessage, `{"id":2}`, nil, wire.InvalidArgument, 2},
		{"unknown op", websocket.TextMessage, `{"id":3,"op":"frobnicate"}`, nil, wire.NotFound, 3},
		{"unknown impl", websocket.TextMessage, `{"id":4,"op":"modsum","args":{"n":1},"impl":"gonum"}`, nil, wire.NotFound, 4},
		{"unknown exec", websocket.TextMessage, `{"id":5,"op":"modsum","args":{"n":1},"exec":"gpu"}`, nil, wire.NotFound, 5},
		{"negative iters", websocket.TextMessage, `{"id":6,"op":"modsum","args":{"n":1,"iters":-5}}`, nil, wire.InvalidArgument, 6},
		{"missing n", websocket.TextMessage, `{"id":7,"op":"modsum","args":{}}`, nil, wire.InvalidArgument, 7},
		{"unknown arg", websocket.TextMessage, `{"id":8,"op":"modsum","args":{"n":1,"nn":2}}`, nil, wire.InvalidArgument, 8},
		{"shapes differ", websocket.TextMessage, `{"id":9,"op":"gemm","args":{"a":[[1,2,3]],"b":[[1,2],[3,4]]}}`, nil, wire.InvalidArgument, 9},
		{"dtype mismatch", websocket.TextMessage, `{"id":10,"op":"gemm","args":{"a":{"dtype":"f32","shape":[1,1],"data":[1]},"b":[[1]]}}`, nil, wire.InvalidArgument, 10},
		{"int gemm", websocket.TextMessage, `{"id":11,"op":"gemm","args":{"a":{"dtype":"i32","shape":[1,1],"data":[1]},"b":{"dtype":"i32","shape":[1,1],"data":[1]}}}`, nil, wire.InvalidArgument, 11},
		{"ragged", websocket.TextMessage, `{"id":12,"op":"gemm","args":{"a":[[1,2],[3]],"b":[[1]]}}`, nil, wire.InvalidArgument, 12},
		{"too large arg", websocket.TextMessage, fmt.Sprintf(`{"id":13,"op":"gemm","args":{"a":{"dtype":"f64","shape":[1,1001],"data":[%s0]},"b":[[1]]}}`, strings.Repeat("0,", 1000)), nil, wire.TooLarge, 13},
		{"too large result", websocket.TextMessage, `{"id":14,"op":"gemm","args":{"a":{"dtype":"f64","shape":[100,0],"data":[]},"b":{"dtype":"f64","shape":[0,100],"data":[]}}}`, nil, wire.TooLarge, 14},
		{"bad magic", websocket.BinaryMessage, "", []byte("XXXX\x02\x00\x00\x00{}"), wire.InvalidArgument, 0},
		{"buffer outside", websocket.BinaryMessage, "", binaryMessage(`{"id":15,"op":"gemm","args":{"a":{"dtype":"f64","shape":[1,1],"buffer":0},"b":[[1]]},"buffers":[[64,800]]}`, 0, make([]byte, 8)), wire.InvalidArgument, 15},
		{"buffer length", websocket.BinaryMessage, "", binaryMessage(`{"id":16,"op":"gemm","args":{"a":{"dtype":"f64","shape":[2,1],"buffer":0},"b":[[1]]},"buffers":[[64,8]]}`, 0, make([]byte, 8)), wire.InvalidArgument, 16},
		{"string n", websocket.TextMessage, `{"id":17,"op":"modsum","args":{"n":"seven"}}`, nil, wire.InvalidArgument, 17},
		{"fractional n", websocket.TextMessage, `{"id":18,"op":"modsum","args":{"n":1.5}}`, nil, wire.InvalidArgument, 18},
	}
	for _, tc := range cases {
		msg := tc.bin
		if msg == nil {
			msg = []byte(tc.msg)
		}
		rep := exchange(t, conn, tc.typ, msg)
		if rep.OK || rep.Error == nil || rep.Error.Code != tc.code || rep.ID != tc.id {
			t.Errorf("%s: reply %+v (error %+v), want %s for id %d", tc.name, rep, rep.Error, tc.code, tc.id)
		} else if rep.Error.Message == "" {
			t.Errorf("%s: no message", tc.name)
		}
	}
	// duplicate id while in flight
	conn.WriteMessage(websocket.TextMessage, []byte(`{"id":50,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":"pool"}`))
	rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":50,"op":"modsum","args":{"n":3}}`))
	if rep.OK || rep.Error.Code != wire.InvalidArgument || rep.ID != 50 {
		t.Errorf("duplicate id: %+v", rep)
	}
	// the same connection still serves
	rep = exchange(t, conn, websocket.TextMessage, []byte(`{"id":51,"op":"ping"}`))
	if !rep.OK || rep.ID != 51 {
		t.Errorf("ping after bad input: %+v", rep)
	}
}

func TestOversizeMessageCloses1009(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxMessage = 1024 })
	conn := ts.raw(t)
	conn.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"op":"ping","pad":"`+strings.Repeat("x", 2000)+`"}`))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("got %v, want close 1009", err)
	}
	if _, err := ts.dial(t).Ping(context.Background()); err != nil {
		t.Fatalf("server after 1009: %v", err)
	}
}

func TestGarbageCloses1008(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	for range 40 { // the server closes after 16: later writes may fail
		if conn.WriteMessage(websocket.BinaryMessage, []byte("garbage")) != nil {
			break
		}
	}
	// And large ones: the server drops what comes after its close as it
	// streams in, and its close frame still arrives (no reset).
	big := make([]byte, 1<<20)
	for range 8 {
		if conn.WriteMessage(websocket.BinaryMessage, big) != nil {
			break
		}
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, _, err = conn.ReadMessage()
	}
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("got %v, want close 1008", err)
	}
}

func TestInFlightCap(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxInFlight = 2 })
	conn := ts.raw(t)
	for id := 1; id <= 2; id++ {
		conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":"pool","timeout_ms":5000}`, id)))
	}
	rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":3,"op":"modsum","args":{"n":3}}`))
	if rep.OK || rep.Error.Code != wire.Overloaded || rep.Error.RetryAfterMS <= 0 {
		t.Fatalf("third request: %+v", rep.Error)
	}
}

// A client that leaves must not keep the CPU busy: its running jobs are
// cancelled and the executor slots freed.
func TestDisconnectCancelsWork(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	for id, ex := range []string{"pool", "pool", "subprocess", "subprocess"} {
		conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":%q}`, id+1, ex)))
	}
	busy := func() int { return ts.execs["pool"].Load().Busy + ts.execs["subprocess"].Load().Busy }
	testutil.WaitFor(t, 10*time.Second, "the four jobs running", func() bool { return busy() >= 4 })
	conn.Close()
	if !testutil.Poll(5*time.Second, func() bool { return busy() == 0 }) {
		t.Fatalf("%d jobs still running 5 s after the client left", busy())
	}
}

func TestManyConcurrentCalls(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	want := make([]int64, 200) // computed here: t.Fatal belongs to the test goroutine
	for i := range want {
		want[i] = modsumRef(t, int64(i-100), 5000)
	}
	testutil.Concurrently(t, len(want), func(i int) error {
		n := int64(i - 100)
		got, _, err := c.Modsum(context.Background(), n, 5000, &client.Options{Exec: execNames[i%4]})
		if err == nil && got != want[i] {
			err = fmt.Errorf("n=%d: %d", n, got)
		}
		return err
	})
}

func TestShutdownDrains(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Grace = 2 * time.Second })
	conn := ts.raw(t)
	// one job that finishes within the grace period, one that cannot
	conn.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"op":"modsum","args":{"n":3,"iters":10000000000},"impl":"c","exec":"pool"}`))
	conn.WriteMessage(websocket.TextMessage, []byte(`{"id":2,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":"pool"}`))
	testutil.WaitFor(t, 10*time.Second, "both jobs running", func() bool { return ts.execs["pool"].Load().Busy == 2 })
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	replies := map[int64]*wire.Reply{}
	var closeErr error
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			closeErr = err
			break
		}
		rep, _ := wire.DecodeReply(false, data)
		replies[rep.ID] = rep
	}
	if r := replies[1]; r == nil || !r.OK {
		t.Errorf("job within grace: %+v", r)
	}
	if r := replies[2]; r == nil || r.OK || r.Error.Code != wire.Canceled {
		t.Errorf("job past grace: %+v", r)
	}
	if !websocket.IsCloseError(closeErr, websocket.CloseGoingAway) {
		t.Errorf("close: %v, want 1001", closeErr)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// No goroutine outlives its connection.
func TestNoGoroutineLeak(t *testing.T) {
	ts := start(t, nil)
	before := runtime.NumGoroutine()
	for range 20 {
		c, err := client.Dial(context.Background(), ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Modsum(context.Background(), 1, 1000, nil)
		c.Close()
	}
	if !testutil.Poll(5*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 }) {
		t.Fatalf("%d goroutines before, %d 5 s after 20 connections closed", before, runtime.NumGoroutine())
	}
}

// modsumRef is the Go implementation, which the kernels package checks
// against exact big-integer arithmetic: an independent reference for C.
func modsumRef(t testing.TB, n, iters int64) int64 {
	t.Helper()
	want, err := kernels.ModsumGo(nil, n, iters)
	if err != nil {
		t.Fatal(err)
	}
	return want
}
