package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Regression tests, one per way a hostile client once broke the server;
// hostile_test.go throws whole groups of such inputs at it.

// A timeout_ms whose value in nanoseconds overflows int64 is capped at
// --max-timeout like any other large one, instead of wrapping to a
// deadline already past.
func TestHugeTimeoutIsCapped(t *testing.T) {
	const maxTimeout = 1500 * time.Millisecond
	ts := start(t, func(c *server.Config) { c.MaxTimeout = maxTimeout })
	conn := ts.raw(t)
	huge := []string{"9223372036855", "18446744073710", "9223372036854775807", "9.2e15"}
	sent := time.Now()
	for i, ms := range huge {
		msg := fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":1,"iters":1000000000000000},"exec":"pool","timeout_ms":%s}`, i+1, ms)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for range huge {
		_, rep := nextReply(t, conn)
		if rep.OK || rep.Error.Code != wire.DeadlineExceeded || !strings.Contains(rep.Error.Message, "deadline of 1.5s") {
			t.Errorf("id %d: %+v, want deadline_exceeded after the 1.5s cap", rep.ID, rep.Error)
		}
		if took := time.Since(sent); took < maxTimeout {
			t.Errorf("id %d: deadline reply after %v, before the %v cap", rep.ID, took, maxTimeout)
		}
	}
}

// An error found after the id is answered in the form the request's
// "reply" asked for, whatever the form the request came in.
func TestErrorRepliesFollowReplyForm(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	cases := []struct {
		name     string
		typ      int
		msg      []byte
		wantType int
		id       int64
	}{
		{"text ragged, binary reply", websocket.TextMessage,
			[]byte(`{"id":5,"op":"gemm","args":{"a":[[1,2],[3]],"b":[[1]]},"reply":"binary"}`), websocket.BinaryMessage, 5},
		{"text, no op, binary reply", websocket.TextMessage,
			[]byte(`{"id":6,"reply":"binary"}`), websocket.BinaryMessage, 6},
		{"text, bad exec type, binary reply", websocket.TextMessage,
			[]byte(`{"id":7,"op":"modsum","exec":3,"reply":"binary"}`), websocket.BinaryMessage, 7},
		{"binary short buffer, text reply", websocket.BinaryMessage,
			binaryMessage(`{"id":8,"op":"gemm","args":{"a":{"dtype":"f64","shape":[2,1],"buffer":0},"b":[[1]]},"reply":"text","buffers":[[64,8]]}`, 0, make([]byte, 8)), websocket.TextMessage, 8},
		{"binary unknown op, text reply", websocket.BinaryMessage,
			binaryMessage(`{"id":9,"op":"frobnicate","reply":"text","buffers":[]}`, 0, nil), websocket.TextMessage, 9},
		{"text, bad reply form: the request's own", websocket.TextMessage,
			[]byte(`{"id":10,"op":"ping","reply":"xml"}`), websocket.TextMessage, 10},
	}
	for _, tc := range cases {
		if err := conn.WriteMessage(tc.typ, tc.msg); err != nil {
			t.Fatal(err)
		}
		mt, rep := nextReply(t, conn)
		if mt != tc.wantType || rep.OK || rep.ID != tc.id {
			t.Errorf("%s: message type %d, reply %+v; want type %d, a failure for id %d", tc.name, mt, rep, tc.wantType, tc.id)
		}
	}
}

// A null required argument is refused, not taken as a zero.
func TestNullRequiredArgumentRefused(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	for i, msg := range []string{
		`{"id":1,"op":"modsum","args":{"n":null}}`,
		`{"id":2,"op":"modsum","args":{"n":null,"iters":5}}`,
		`{"id":3,"op":"gemm","args":{"a":null,"b":[[1]]}}`,
	} {
		rep := exchange(t, conn, websocket.TextMessage, []byte(msg))
		if rep.OK || rep.ID != int64(i+1) || rep.Error.Code != wire.InvalidArgument {
			t.Errorf("%s: %+v", msg, rep)
		}
	}
}

// A control op may not take the id of a request in flight: every reply's
// id names one request.
func TestControlOpsRefuseInFlightIDs(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"id":62,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":"pool","timeout_ms":20000}`)); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{
		`{"id":62,"op":"ping"}`,
		`{"id":62,"op":"info"}`,
		`{"id":62,"op":"cancel","args":{"target":62}}`,
		`{"id":62,"op":"shm_unregister","args":{"region":1}}`,
	} {
		rep := exchange(t, conn, websocket.TextMessage, []byte(op))
		if rep.OK || rep.ID != 62 || rep.Error.Code != wire.InvalidArgument || !strings.Contains(rep.Error.Message, "in flight") {
			t.Errorf("%s while 62 runs: %+v", op, rep)
		}
	}
	// Request 62 still runs (the refused cancel did not end it); a cancel
	// with an id of its own does. The two replies may come in either
	// order: the kernel may stop before the cancel's own reply is written.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"id":63,"op":"cancel","args":{"target":62}}`)); err != nil {
		t.Fatal(err)
	}
	replies := map[int64]*wire.Reply{}
	for range 2 {
		_, rep := nextReply(t, conn)
		replies[rep.ID] = rep
	}
	if rep := replies[63]; rep == nil || !rep.OK || string(rep.Result["canceled"].JSON) != "true" {
		t.Fatalf("cancel 62: %+v (replies %v)", rep, replies)
	}
	if rep := replies[62]; rep == nil || rep.Error == nil || rep.Error.Code != wire.Canceled {
		t.Fatalf("request 62: %+v (replies %v)", rep, replies)
	}
	// Once 62 has replied, the id is free again.
	if rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":62,"op":"ping"}`)); !rep.OK || rep.ID != 62 {
		t.Errorf("ping 62 after 62 replied: %+v", rep)
	}
}

// freshPing dials addr, sends the protocol's ping and returns how long the
// dial and the answer took together.
func freshPing(t *testing.T, addr string) time.Duration {
	t.Helper()
	begin := time.Now()
	conn, err := dialPinged(addr)
	if err != nil {
		t.Fatalf("a fresh connection's ping: %v", err)
	}
	took := time.Since(begin)
	conn.Close()
	return took
}

// A flood of long direct calls neither starves the sockets nor outlives
// its deadlines: `crunch serve` with its default --direct-max runs at most
// GOMAXPROCS of them at once while the rest wait for a slot without a
// thread (the process's threads stay few), a fresh connection's ping is
// answered at once meanwhile, every deadline is answered soon after it
// passes, and no call that succeeded took longer than its deadline.
func TestDirectFloodKeepsServerResponsive(t *testing.T) {
	const (
		conns   = 2
		perConn = 250
		timeout = 1500 * time.Millisecond
		// Generous: a loaded machine may add its own delays; without a cap
		// the same flood took 1.5 to 15 s.
		pingBound = 2 * time.Second
	)
	srv := startProcess(t)
	var wg sync.WaitGroup
	type result struct {
		rep  *wire.Reply
		took time.Duration
	}
	results := make(chan result, conns*perConn)
	for c := range conns {
		conn, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/v1/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		sent := make([]time.Time, perConn+1)
		for i := 1; i <= perConn; i++ {
			sent[i] = time.Now()
			msg := fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":%d,"iters":3000000000},"exec":"direct","timeout_ms":%d}`, i, c+1, timeout.Milliseconds())
			if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perConn {
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := conn.ReadMessage()
				if err != nil {
					t.Errorf("connection %d: %v", c, err)
					return
				}
				rep, err := wire.DecodeReply(false, data)
				if err != nil {
					t.Errorf("connection %d: %v", c, err)
					return
				}
				results <- result{rep, time.Since(sent[rep.ID])}
			}
		}()
	}
	// The process's threads while the flood runs: each running direct call
	// holds one; without a cap there were 500.
	maxThreads := 0
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if st, err := load.ReadProcStatus(srv.PID()); err == nil {
				maxThreads = max(maxThreads, st.Threads)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var pings []time.Duration
	for range 5 {
		pings = append(pings, freshPing(t, srv.Addr))
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	close(results)
	codes := map[string]int{}
	for r := range results {
		switch {
		case r.rep.OK:
			codes["ok"]++
			if s := r.rep.Stats; s == nil || time.Duration(s.QueueUS+s.RunUS)*time.Microsecond >= timeout {
				t.Errorf("id %d: ok after its deadline: %+v", r.rep.ID, s)
			}
		case r.rep.Error.Code == wire.DeadlineExceeded:
			codes[string(r.rep.Error.Code)]++
			// Soon after the deadline; generous for a loaded machine
			// (without a cap they came 6 to 24 s late).
			if r.took > timeout+5*time.Second {
				t.Errorf("id %d: %s after %v", r.rep.ID, r.rep.Error.Code, r.took)
			}
		default:
			t.Errorf("id %d: %+v", r.rep.ID, r.rep.Error)
		}
	}
	t.Logf("replies %v; fresh connection + ping: %v; at most %d threads", codes, pings, maxThreads)
	// The runtime's own threads, the pool's and the subprocess
	// executor's, and GOMAXPROCS direct calls: a few dozen at most.
	if maxThreads > 64 {
		t.Errorf("the server ran %d threads during the flood: direct calls are not capped", maxThreads)
	}
	slow := 0
	for _, p := range pings {
		if p > pingBound {
			slow++
		}
	}
	if slow > 1 { // one slow probe may be the machine's; more is the server's
		t.Errorf("fresh connection + ping took %v during the flood; want under %v", pings, pingBound)
	}
	// And the server is idle again: a fresh connection's ping is prompt.
	if p := freshPing(t, srv.Addr); p > pingBound {
		t.Errorf("fresh ping after the flood: %v", p)
	}
}

// deafOp is a test-only op whose kernel never looks at its cancel flag:
// it succeeds 300 ms after it starts, whatever happened meanwhile, as a
// kernel does that a busy machine runs long after its flag was set.
var deafOp = testOp("test_deaf", "test only: succeeds after 300 ms, deaf to cancels", 1,
	func(*cgo.Ctx, kernels.Out) (wire.Result, error) {
		time.Sleep(300 * time.Millisecond)
		return wire.Result{"done": wire.Bool(true)}, nil
	})

// A kernel that succeeds after its request's deadline gives
// deadline_exceeded, not its result, on every executor.
func TestLateResultIsDeadlineExceeded(t *testing.T) {
	ts := start(t, nil)
	conn := ts.raw(t)
	for i, ex := range runExecs {
		msg := fmt.Sprintf(`{"id":%d,"op":"test_deaf","exec":%q,"timeout_ms":50}`, i+1, ex)
		rep := exchange(t, conn, websocket.TextMessage, []byte(msg))
		if rep.OK || rep.Error.Code != wire.DeadlineExceeded {
			t.Errorf("%s: %+v, want deadline_exceeded", ex, rep)
		}
	}
}

// exec=auto sends a call it would run directly to the pool while every
// direct slot is busy; a call that asked for direct waits for a slot,
// within its deadline.
func TestAutoAvoidsFullDirect(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Executors[executor.NameDirect] = executor.NewDirect(1) })
	conn := ts.raw(t)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"op":"modsum","args":{"n":3,"iters":1000000000000000},"exec":"direct","timeout_ms":20000}`)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the long direct call running", func() bool { return ts.execs[executor.NameDirect].Load().Busy > 0 })
	rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":2,"op":"modsum","args":{"n":3,"iters":10}}`))
	if !rep.OK || rep.Stats == nil || rep.Stats.Exec != executor.NamePool {
		t.Errorf("auto while direct is full: %+v (stats %+v), want ok on the pool", rep, rep.Stats)
	}
	rep = exchange(t, conn, websocket.TextMessage, []byte(`{"id":3,"op":"modsum","args":{"n":3,"iters":10},"exec":"direct","timeout_ms":200}`))
	if rep.OK || rep.Error.Code != wire.DeadlineExceeded {
		t.Errorf("direct while direct is full: %+v, want deadline_exceeded after waiting for a slot", rep)
	}
}

// largeRequest is a text modsum request padded past 256 KiB, endless on
// the pool until its 8 s deadline: a large message that holds its token.
func largeRequest(id int) []byte {
	return []byte(fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":1,"iters":1000000000000000},"exec":"pool","timeout_ms":8000,"pad":"%s"}`,
		id, strings.Repeat("x", 300<<10)))
}

// largeVictim sends a 640 KB binary gemm, an application ping and a
// WebSocket ping on conn, and returns the gemm's and the ping's replies
// by id, having seen the pong.
func largeVictim(t *testing.T, conn *websocket.Conn) map[int64]*wire.Reply {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	a, b := randMatrix(r, tensor.F64, 200, 200), randMatrix(r, tensor.F64, 200, 200)
	msg, err := wire.EncodeRequest(&wire.Request{ID: 100, Op: "gemm", Exec: "direct",
		Args: wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}}, true)
	if err != nil {
		t.Fatal(err)
	}
	pong := make(chan struct{}, 1)
	conn.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	written := make(chan error, 1)
	go func() {
		err := conn.WriteMessage(websocket.BinaryMessage, msg)
		if err == nil {
			err = conn.WriteMessage(websocket.TextMessage, []byte(`{"id":101,"op":"ping"}`))
		}
		if err == nil {
			err = conn.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(10*time.Second))
		}
		written <- err
	}()
	begin := time.Now()
	got := map[int64]*wire.Reply{}
	for len(got) < 2 {
		_, rep := nextReply(t, conn)
		got[rep.ID] = rep
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	// The hogs' requests hold their tokens for 8 s: an answer within 4
	// (generous, for a loaded machine) did not wait for them.
	if took := time.Since(begin); took > 4*time.Second {
		t.Errorf("the gemm and the ping were answered after %v", took)
	}
	// The pong comes after the ping reply; a read runs the pong handler.
	go func() {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		conn.ReadMessage()
	}()
	select {
	case <-pong:
	case <-time.After(10 * time.Second):
		t.Error("no pong for the WebSocket ping sent after the large message")
	}
	return got
}

// One connection cannot hold every large-message token: it gets a share
// (a quarter of --max-large), its further large messages are refused once
// they have waited --large-wait, and another connection's large message,
// pings and ping frames are answered meanwhile. Even connections that
// together hold every token only delay another's large message by
// --large-wait: it is refused, and what its client sent after it answered.
func TestLargeTokensCannotBeMonopolised(t *testing.T) {
	const largeWait = 300 * time.Millisecond
	ts := start(t, func(c *server.Config) { c.MaxLarge, c.LargeWait = 8, largeWait })
	hog := ts.raw(t)
	go func() {
		for id := 1; id <= 8; id++ {
			if hog.WriteMessage(websocket.TextMessage, largeRequest(id)) != nil {
				return
			}
		}
	}()
	ts.waitMetric(t, "the hog's share", "crunch_large_messages_held", "2")

	got := largeVictim(t, ts.raw(t))
	if r := got[100]; r == nil || !r.OK {
		t.Errorf("the other connection's gemm: %+v", r)
	}
	if r := got[101]; r == nil || !r.OK {
		t.Errorf("the other connection's ping: %+v", r)
	}
	// The hog's messages past its share are refused, each by its id.
	for want := int64(3); want <= 8; want++ {
		_, rep := nextReply(t, hog)
		if rep.ID != want || rep.OK || rep.Error.Code != wire.Overloaded || rep.Error.RetryAfterMS != largeWait.Milliseconds() {
			t.Fatalf("hog's message %d: %+v", want, rep)
		}
	}

	// Three more hogs take the remaining six tokens.
	for h := range 3 {
		conn := ts.raw(t)
		for id := 1; id <= 2; id++ {
			if err := conn.WriteMessage(websocket.TextMessage, largeRequest(10*h+id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ts.waitMetric(t, "every token held", "crunch_large_messages_held", "8")
	got = largeVictim(t, ts.raw(t))
	if r := got[100]; r == nil || r.OK || r.Error.Code != wire.Overloaded {
		t.Errorf("a large message with every token held: %+v, want overloaded", r)
	}
	if r := got[101]; r == nil || !r.OK {
		t.Errorf("the ping after the refused message: %+v", r)
	}
}

// RFC 6455's handshake rules: another version is refused with 426 naming
// version 13, and so is a key that is not 16 bytes in base64 (400); a
// well-formed handshake is upgraded.
func TestHandshakeChecks(t *testing.T) {
	ts := start(t, nil)
	cases := []struct {
		name, version, key string
		status             int
	}{
		{"good", "13", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusSwitchingProtocols},
		{"version 8", "8", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusUpgradeRequired},
		{"version 14", "14", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusUpgradeRequired},
		{"no version", "", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusUpgradeRequired},
		{"no key", "13", "", http.StatusBadRequest},
		{"short key", "13", "c2hvcnQ=", http.StatusBadRequest},
		{"long key", "13", "dGhpcyBrZXkgaXMgdHdlbnR5IGJ5dGVz", http.StatusBadRequest},
		{"not base64", "13", "!!!!not-base64!!!!!!!!==", http.StatusBadRequest},
	}
	for _, tc := range cases {
		_, resp := handshake(t, ts.addr, tc.version, tc.key)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s, want %d", tc.name, resp.Status, tc.status)
		}
		if tc.status != http.StatusSwitchingProtocols && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("%s: refused without Sec-WebSocket-Version: 13 (headers %v)", tc.name, resp.Header)
		}
	}
	// Refusals the upgrader itself makes name the version too.
	resp, err := http.Get("http://" + ts.addr + "/v1/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("plain GET of /v1/ws: %s, headers %v", resp.Status, resp.Header)
	}
}

// A text message that is not UTF-8 fails the connection with 1007, in one
// frame or split across fragments; other connections are not affected.
func TestInvalidUTF8Closes1007(t *testing.T) {
	ts := start(t, nil)
	for name, frames := range map[string][][]byte{
		"one frame":       {frame(true, 0, opText, []byte("{\"id\":1,\"op\":\"ping\",\"x\":\"\xff\"}"), true)},
		"fragments":       {frame(false, 0, opText, []byte("{\"id\":1,\"op\":\"ping\",\"x\":\"\xe2\x82"), true), frame(true, 0, opCont, []byte("\"}"), true)},
		"overlong":        {frame(true, 0, opText, []byte("{\"id\":1,\"op\":\"ping\",\"x\":\"\xc0\xaf\"}"), true)},
		"surrogate":       {frame(true, 0, opText, []byte("{\"id\":1,\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}"), true)},
		"split codepoint": {frame(false, 0, opText, []byte("{\"id\":1,\"op\":\"ping\",\"x\":\"\xe2"), true), frame(true, 0, opCont, []byte("\x82\xac\"}"), true)},
	} {
		c := dialRaw(t, ts.addr)
		c.send(t, frames...)
		if name == "split codepoint" { // valid: € split across frames
			if op, p, err := c.next(10 * time.Second); err != nil || op != opText || !strings.Contains(string(p), `"ok":true`) {
				t.Errorf("%s: %d %q %v, want the ping's reply", name, op, p, err)
			}
			continue
		}
		if code := c.closeCode(10 * time.Second); code != websocket.CloseInvalidFramePayloadData {
			t.Errorf("%s: close code %d, want 1007", name, code)
		}
	}
	if _, err := dialPinged(ts.addr); err != nil {
		t.Fatal(err)
	}
}

// info names the large-message limits a client meets.
func TestInfoNamesLargeLimits(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxLarge, c.LargeWait = 9, 1500*time.Millisecond })
	info, err := ts.dial(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var limits map[string]int64
	if err := json.Unmarshal(info["limits"], &limits); err != nil {
		t.Fatal(err)
	}
	if limits["max_large_messages"] != 9 || limits["large_messages_per_connection"] != 2 || limits["large_wait_ms"] != 1500 {
		t.Errorf("limits %v", limits)
	}
}
