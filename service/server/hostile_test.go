package server_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/wire"
)

// The hostile-client suite: groups of what a hostile or broken client
// sends (malformed frames, malformed crunch messages, inputs built to
// amplify memory, abuse of the server's resources), thrown at a `crunch
// serve` process of its own. After each group the server must still
// answer a fresh connection's ping promptly, its goroutines must come back
// to their baseline, and its memory must stay bounded: its peak resident
// memory (VmHWM) during the group may exceed its resident memory before
// the group by at most the group's budget.

// hostile is the server under attack and its baseline.
type hostile struct {
	t          *testing.T
	addr       string
	pid        int
	goroutines float64
}

// vmHWM is process pid's peak resident memory in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "VmHWM" {
			kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM line")
	return 0
}

// group runs one group of attacks as a subtest and checks the server
// afterwards; the group's peak memory may exceed the baseline by budget.
func (h *hostile) group(name string, budget int64, attack func(t *testing.T)) {
	h.t.Run(name, func(t *testing.T) {
		// The peak starts again from the present (Linux's clear_refs):
		// each group is measured on its own.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", h.pid), []byte("5"), 0); err != nil {
			t.Fatalf("resetting the server's peak RSS: %v", err)
		}
		before := rss(t, h.pid)
		began := time.Now()
		attack(t)
		// A fresh connection's ping, at once. Generous for a loaded
		// machine; a server that starves its sockets takes seconds.
		if took := freshPing(t, h.addr); took > 2*time.Second {
			t.Errorf("after %s, a fresh connection's ping took %v", name, took)
		}
		// Goroutines back to the baseline: every connection of the group
		// has been closed by the client or the server, and nothing it
		// started lives on. A little slack for the runtime's own.
		var g float64
		if !testutil.Poll(20*time.Second, func() bool {
			g = metricsOf(t, h.addr)["go_goroutines"]
			return g <= h.goroutines+4
		}) {
			t.Errorf("after %s: %v goroutines, baseline %v", name, g, h.goroutines)
		}
		peak := vmHWM(t, h.pid)
		if peak-before > budget {
			t.Errorf("after %s: peak resident memory %d MiB over what it was before, budget %d MiB (%s)",
				name, (peak-before)>>20, budget>>20, rssParts(h.pid))
		}
		t.Logf("%s: %v; peak RSS %d MiB over the %d MiB before", name, time.Since(began).Round(time.Millisecond), (peak-before)>>20, before>>20)
	})
}

// TestHostileClients is the suite. Its groups share one server process,
// so that what one group leaves behind shows in the next one's checks.
func TestHostileClients(t *testing.T) {
	srv := startProcess(t, "--pool-workers", "2", "--workers", "1", "--max-large", "8", "--large-wait", "500ms",
		"--max-timeout", "10s", "--log-level", "error")
	h := &hostile{t: t, addr: srv.Addr, pid: srv.PID()}
	freshPing(t, h.addr) // the server warmed up: its first connection's goroutines and buffers
	testutil.Poll(5*time.Second, func() bool { return metricsOf(t, h.addr)["crunch_connections"] == 0 })
	h.goroutines = metricsOf(t, h.addr)["go_goroutines"]
	base := rss(t, h.pid)
	t.Logf("baseline: %v goroutines, RSS %d MiB", h.goroutines, base>>20)

	h.group("malformed frames", 16*mib, func(t *testing.T) { malformedFrames(t, h.addr) })
	h.group("malformed messages", 16*mib, func(t *testing.T) { malformedMessages(t, h.addr) })
	h.group("amplification", 128*mib, func(t *testing.T) { amplification(t, h.addr) })
	h.group("resource abuse", 128*mib, func(t *testing.T) { resourceAbuse(t, h.addr) })

	// And the memory comes back once the attacks are over.
	var now int64
	if !testutil.Poll(30*time.Second, func() bool { now = rss(t, h.pid); return now <= base+32*mib }) {
		t.Errorf("RSS %d MiB 30 s after the attacks, %d MiB before them (%s)", now>>20, base>>20, rssParts(h.pid))
	}
}

// malformedFrames breaks the WebSocket framing itself, each case on a
// connection of its own: the server fails that connection (a close frame
// with the RFC 6455 code, then the end of the connection) and nothing
// else.
func malformedFrames(t *testing.T, addr string) {
	ping := []byte(`{"id":1,"op":"ping"}`)
	cases := []struct {
		name   string
		frames [][]byte
		code   int // the close code the server sends
	}{
		{"reserved opcode 3", [][]byte{frame(true, 0, 0x3, ping, true)}, websocket.CloseProtocolError},
		{"reserved control opcode 0xB", [][]byte{frame(true, 0, 0xB, nil, true)}, websocket.CloseProtocolError},
		{"reserved bit 1", [][]byte{frame(true, 4, opText, ping, true)}, websocket.CloseProtocolError},
		{"reserved bits 2 and 3", [][]byte{frame(true, 3, opBinary, ping, true)}, websocket.CloseProtocolError},
		{"fragmented ping", [][]byte{frame(false, 0, opPing, []byte("a"), true), frame(true, 0, opCont, []byte("b"), true)}, websocket.CloseProtocolError},
		{"fragmented close", [][]byte{frame(false, 0, opClose, []byte{3, 232}, true)}, websocket.CloseProtocolError},
		{"ping of 126 bytes", [][]byte{frame(true, 0, opPing, make([]byte, 126), true)}, websocket.CloseProtocolError},
		{"close of 200 bytes", [][]byte{frame(true, 0, opClose, append([]byte{3, 232}, make([]byte, 198)...), true)}, websocket.CloseProtocolError},
		{"unmasked text", [][]byte{frame(true, 0, opText, ping, false)}, websocket.CloseProtocolError},
		{"unmasked ping", [][]byte{frame(true, 0, opPing, nil, false)}, websocket.CloseProtocolError},
		{"continuation first", [][]byte{frame(true, 0, opCont, ping, true)}, websocket.CloseProtocolError},
		{"text inside a fragmented message", [][]byte{frame(false, 0, opText, ping[:5], true), frame(true, 0, opText, ping, true)}, websocket.CloseProtocolError},
		{"close code 999", [][]byte{frame(true, 0, opClose, []byte{3, 231}, true)}, websocket.CloseProtocolError},
		{"close code 1005 sent", [][]byte{frame(true, 0, opClose, []byte{3, 237}, true)}, websocket.CloseProtocolError},
		// A close body of one byte is read as none (fasthttp/websocket): the
		// server answers with an empty close frame, a clean close.
		{"close of 1 byte", [][]byte{frame(true, 0, opClose, []byte{3}, true)}, 1005},
		{"close reason not UTF-8", [][]byte{frame(true, 0, opClose, []byte{3, 232, 0xff, 0xfe}, true)}, websocket.CloseProtocolError},
		{"text not UTF-8", [][]byte{frame(true, 0, opText, []byte("{\"id\":1,\"op\":\"\xff\"}"), true)}, websocket.CloseInvalidFramePayloadData},
		{"fragments not UTF-8", [][]byte{frame(false, 0, opText, []byte("{\"id\":1,"), true), frame(true, 0, opCont, []byte("\"op\":\"\xc3\x28\"}"), true)}, websocket.CloseInvalidFramePayloadData},
		// fasthttp/websocket drops the connection without a close frame
		// here (RFC 6455 lets a failing endpoint do so).
		{"64-bit length with the top bit", [][]byte{{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}}, 0},
	}
	for _, tc := range cases {
		c := dialRaw(t, addr)
		c.send(t, tc.frames...)
		if code := c.closeCode(10 * time.Second); code != tc.code {
			t.Errorf("%s: close code %d, want %d", tc.name, code, tc.code)
		}
	}
	// Cut short: a header without its length, a length without its mask
	// key, a payload without its end; the client then goes. Nothing to
	// answer, nothing left behind (the group's goroutine check).
	for _, b := range [][]byte{{0x81}, {0x81, 0xFE, 0x01}, {0x82, 0x85, 1, 2}, frame(true, 0, opBinary, make([]byte, 1000), true)[:500]} {
		c := dialRaw(t, addr)
		c.send(t, b)
		c.Close()
	}
	// And a client that stops mid-frame but stays: the server's read
	// deadline (--ping-timeout) ends it; meanwhile it costs one goroutine,
	// and other connections are served (the group's ping check). Closed
	// here so that the goroutine check sees the baseline.
	c := dialRaw(t, addr)
	c.send(t, []byte{0x82, 0xFE})
	c.Close()
}

// binaryMessage builds a binary crunch message from a header (its length
// given separately, so that it may lie; 0: its own) and a payload.
func binaryMessage(header string, declared uint32, payload []byte) []byte {
	if declared == 0 {
		declared = uint32(len(header))
	}
	b := []byte("CRN1")
	b = binary.LittleEndian.AppendUint32(b, declared)
	b = append(b, header...)
	for len(b)%64 != 0 {
		b = append(b, 0)
	}
	return append(b, payload...)
}

// malformedMessages sends well-framed messages that are not crunch
// requests on one connection: each gets its error reply, by id where it
// has one, and the connection goes on. Then a stream of garbage closes a
// connection with 1008.
func malformedMessages(t *testing.T, addr string) {
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cases := []struct {
		name string
		typ  int
		msg  []byte
		id   int64
	}{
		{"empty text", websocket.TextMessage, nil, 0},
		{"empty binary", websocket.BinaryMessage, nil, 0},
		{"binary 7 bytes", websocket.BinaryMessage, []byte("CRN1\x00\x00\x00"), 0},
		{"binary header length beyond the end", websocket.BinaryMessage, binaryMessage(`{"id":1}`, 0xFFFFFFF0, nil), 0},
		{"binary header not JSON", websocket.BinaryMessage, binaryMessage("\x00\x01\x02\x03", 4, nil), 0},
		{"binary header an array", websocket.BinaryMessage, binaryMessage(`[1,2]`, 0, nil), 0},
		{"binary random bytes", websocket.BinaryMessage, []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0},
		{"binary buffer past the end", websocket.BinaryMessage, binaryMessage(`{"id":2,"op":"gemm","args":{"a":{"dtype":"f64","shape":[1,1],"buffer":0},"b":[[1]]},"buffers":[[64,4611686018427387904]]}`, 0, nil), 2},
		{"binary buffer misaligned", websocket.BinaryMessage, binaryMessage(`{"id":3,"op":"gemm","args":{"a":{"dtype":"f64","shape":[1,1],"buffer":0},"b":[[1]]},"buffers":[[65,8]]}`, 0, make([]byte, 16)), 3},
		{"binary negative buffer", websocket.BinaryMessage, binaryMessage(`{"id":4,"op":"gemm","args":{"a":{"dtype":"f64","shape":[1,1],"buffer":0},"b":[[1]]},"buffers":[[-64,8]]}`, 0, make([]byte, 16)), 4},
		{"text not an object", websocket.TextMessage, []byte(`"ping"`), 0},
		{"text id a string", websocket.TextMessage, []byte(`{"id":"5","op":"ping"}`), 0},
		{"text id too large", websocket.TextMessage, []byte(`{"id":9007199254740992,"op":"ping"}`), 0},
		{"text id negative", websocket.TextMessage, []byte(`{"id":-1,"op":"ping"}`), 0},
		{"text trailing garbage", websocket.TextMessage, []byte(`{"id":6,"op":"ping"} x`), 0},
		{"text op an object", websocket.TextMessage, []byte(`{"id":7,"op":{"x":1}}`), 7},
		{"text args an array", websocket.TextMessage, []byte(`{"id":8,"op":"modsum","args":[1]}`), 8},
		{"text NaN as a string", websocket.TextMessage, []byte(`{"id":9,"op":"stats","args":{"x":{"dtype":"f64","shape":[1],"data":["NaN"]}}}`), 9},
		{"text nested tensor", websocket.TextMessage, []byte(`{"id":10,"op":"stats","args":{"x":{"dtype":{"dtype":"f64"},"shape":[1],"data":[1]}}}`), 10},
		{"text null n", websocket.TextMessage, []byte(`{"id":11,"op":"modsum","args":{"n":null}}`), 11},
	}
	for _, tc := range cases {
		rep := exchange(t, conn, tc.typ, tc.msg)
		if rep.OK || rep.ID != tc.id || rep.Error == nil || rep.Error.Message == "" {
			t.Errorf("%s: %+v, want a failure for id %d", tc.name, rep, tc.id)
		}
	}
	if rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":12,"op":"ping"}`)); !rep.OK {
		t.Errorf("ping after the malformed messages: %+v", rep)
	}
	// A stream of garbage is not a client: 1008.
	g, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for range 40 {
		if g.WriteMessage(websocket.BinaryMessage, []byte("garbage")) != nil {
			break
		}
	}
	g.SetReadDeadline(time.Now().Add(10 * time.Second))
	for err == nil {
		_, _, err = g.ReadMessage()
	}
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Errorf("garbage stream: %v, want close 1008", err)
	}
}

// amplification sends messages built to cost the server far more memory
// or time than their size: each is refused, and the group's peak memory
// stays within its budget (the largest message is 28 MiB; decoding it once
// cost 30 times that).
func amplification(t *testing.T, addr string) {
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var members strings.Builder
	members.WriteString(`{"id":1,"op":"modsum","args":{`)
	for i := range 2_000_000 {
		if i > 0 {
			members.WriteByte(',')
		}
		fmt.Fprintf(&members, `"a%d":%d`, i, i)
	}
	members.WriteString(`}}`)
	deep := `{"id":2,"op":"stats","args":{"x":` + strings.Repeat("[", 1_000_000) + "1" + strings.Repeat("]", 1_000_000) + `}}`
	deepObj := `{"id":3,"op":"stats","args":{"x":` + strings.Repeat(`{"a":`, 200_000) + "1" + strings.Repeat("}", 200_000) + `}}`
	cases := []struct {
		name string
		typ  int
		msg  []byte
		id   int64
	}{
		{"2,000,000 args members", websocket.TextMessage, []byte(members.String()), 1},
		{"1,000,000 nested lists", websocket.TextMessage, []byte(deep), 0},
		{"200,000 nested objects", websocket.TextMessage, []byte(deepObj), 0},
		{"a number of 1,000,000 digits", websocket.TextMessage, []byte(`{"id":4,"op":"modsum","args":{"n":1` + strings.Repeat("0", 1_000_000) + `}}`), 4},
		{"an exponent of 10^9", websocket.TextMessage, []byte(`{"id":5,"op":"modsum","args":{"n":1,"iters":1e1000000000}}`), 5},
		{"a timeout of 10^400", websocket.TextMessage, []byte(`{"id":6,"op":"ping","timeout_ms":1e400}`), 6},
		{"a shape of 2^124 elements, none held", websocket.TextMessage, []byte(`{"id":7,"op":"stats","args":{"x":{"dtype":"f64","shape":[4611686018427387904,4611686018427387904,0],"data":[]}}}`), 7},
		{"a shape of 10^10 elements with one", websocket.TextMessage, []byte(`{"id":8,"op":"stats","args":{"x":{"dtype":"f64","shape":[100000,100000],"data":[1]}}}`), 8},
		{"65 dimensions", websocket.TextMessage, []byte(`{"id":9,"op":"stats","args":{"x":{"dtype":"f64","shape":[` + strings.Repeat("1,", 64) + `1],"data":[1]}}}`), 9},
		{"a binary shape of 10^18 bytes", websocket.BinaryMessage, binaryMessage(`{"id":10,"op":"stats","args":{"x":{"dtype":"f64","shape":[1000000000,1000000000],"buffer":0}},"buffers":[[128,8]]}`, 0, make([]byte, 8)), 10},
		{"a result of 10^12 elements", websocket.TextMessage, []byte(`{"id":11,"op":"gemm","args":{"a":{"dtype":"f64","shape":[1000000,0],"data":[]},"b":{"dtype":"f64","shape":[0,1000000],"data":[]}}}`), 11},
		{"a mandelbrot of 10^12 pixels", websocket.TextMessage, []byte(`{"id":12,"op":"mandelbrot","args":{"width":1000000,"height":1000000}}`), 12},
		{"a histogram of 10^15 bins", websocket.TextMessage, []byte(`{"id":13,"op":"histogram","args":{"x":[1,2],"bins":1000000000000000}}`), 13},
		{"65 members in a tensor", websocket.TextMessage, []byte(`{"id":14,"op":"stats","args":{"x":{"dtype":"f64","shape":[1],"data":[1]` + strings.Repeat(`,"m":1`, 65) + `}}}`), 14},
	}
	for _, tc := range cases {
		rep := exchange(t, conn, tc.typ, tc.msg)
		if rep.OK || rep.ID != tc.id || (rep.Error.Code != wire.InvalidArgument && rep.Error.Code != wire.TooLarge) {
			t.Errorf("%s: %+v, want invalid_argument or too_large for id %d", tc.name, rep.Error, tc.id)
		}
	}
}

// resourceAbuse holds the server's resources the ways one client can: a
// flood of pings never read until the end, ids reused while in flight,
// more requests than --max-inflight, large messages holding every token,
// and a connection that never reads its large replies.
func resourceAbuse(t *testing.T, addr string) {
	// Every connection is closed when the group's attack ends, before its
	// checks.
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() *websocket.Conn {
		conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		return conn
	}
	// A flood of 5,000 pings, sent before any reply is read: every one is
	// answered.
	flood := dial()
	var msgs []byte
	for id := 1; id <= 5000; id++ {
		msgs = fmt.Appendf(msgs[:0], `{"id":%d,"op":"ping"}`, id)
		if err := flood.WriteMessage(websocket.TextMessage, msgs); err != nil {
			t.Fatal(err)
		}
	}
	for range 5000 {
		if _, rep := nextReply(t, flood); !rep.OK {
			t.Fatalf("flooded ping: %+v", rep)
		}
	}

	// One id sent 100 times while in flight: one runs, 99 are refused.
	reuse := dial()
	for range 100 {
		if err := reuse.WriteMessage(websocket.TextMessage, []byte(`{"id":7,"op":"modsum","args":{"n":1,"iters":1000000000000000},"exec":"pool","timeout_ms":10000}`)); err != nil {
			t.Fatal(err)
		}
	}
	for range 99 {
		if _, rep := nextReply(t, reuse); rep.ID != 7 || rep.OK || rep.Error.Code != wire.InvalidArgument {
			t.Fatalf("reused id: %+v", rep)
		}
	}
	if rep := exchange(t, reuse, websocket.TextMessage, []byte(`{"id":7,"op":"ping"}`)); rep.OK {
		t.Errorf("a ping reusing id 7 in flight: %+v", rep)
	}

	// 300 long requests on one connection: --max-inflight (256) of them
	// are taken, the rest refused with overloaded; closing the connection
	// cancels them all.
	many := dial()
	for id := 1; id <= 300; id++ {
		msg := fmt.Sprintf(`{"id":%d,"op":"modsum","args":{"n":1,"iters":1000000000000000},"exec":"pool","timeout_ms":10000}`, id)
		if err := many.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for range 300 - 256 {
		if _, rep := nextReply(t, many); rep.OK || rep.Error.Code != wire.Overloaded {
			t.Fatalf("request past --max-inflight: %+v", rep)
		}
	}

	// Large messages from 5 connections, 4 each: 8 tokens, 2 per
	// connection; the rest wait half a second and are refused. A fresh
	// connection's ping is answered meanwhile.
	var wg sync.WaitGroup
	for range 5 {
		conn := dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := 1; id <= 4; id++ {
				if conn.WriteMessage(websocket.TextMessage, largeRequest(id)) != nil {
					return
				}
			}
		}()
	}
	if took := freshPing(t, addr); took > 2*time.Second {
		t.Errorf("a fresh connection's ping while large messages hold every token: %v", took)
	}
	wg.Wait()

	// A connection that asks for 64 replies of 512 KiB and never reads.
	deaf := dial()
	for id := 1; id <= 64; id++ {
		msg := fmt.Sprintf(`{"id":%d,"op":"mandelbrot","args":{"width":512,"height":256,"max_iter":1},"exec":"direct","reply":"binary"}`, id)
		if err := deaf.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if took := freshPing(t, addr); took > 2*time.Second {
		t.Errorf("a fresh connection's ping beside one that never reads: %v", took)
	}
	// The abusers leave (deferred above); the group's checks see what
	// they left behind.
}
