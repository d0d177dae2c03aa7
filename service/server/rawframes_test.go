package server_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Raw WebSocket on a TCP socket, for writing what no WebSocket library
// would: the hostile-client tests' frames.

// Frame opcodes (RFC 6455 section 5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// rawConn is a WebSocket connection handled byte by byte.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// handshake sends an opening handshake with the given version and key
// and returns the server's response (its body unread).
func handshake(t testing.TB, addr, version, key string) (*rawConn, *http.Response) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET /v1/ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	if version != "" {
		req += "Sec-WebSocket-Version: " + version + "\r\n"
	}
	if key != "" {
		req += "Sec-WebSocket-Key: " + key + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rc := &rawConn{Conn: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("reading the handshake's response: %v", err)
	}
	return rc, resp
}

// dialRaw opens a WebSocket connection whose frames the test writes.
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, resp := handshake(t, addr, "13", "dGhlIHNhbXBsZSBub25jZQ==")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return c
}

// frame encodes one frame: fin, the reserved bits rsv (0 to 7), opcode,
// and payload masked with a fixed key when mask is set.
func frame(fin bool, rsv, opcode byte, payload []byte, mask bool) []byte {
	b0 := rsv<<4 | opcode&0xF
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !mask {
		return append(out, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// send writes frames to the connection as they are.
func (c *rawConn) send(t testing.TB, frames ...[]byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for _, f := range frames {
		if _, err := c.Write(f); err != nil {
			t.Fatalf("writing a frame: %v", err)
		}
	}
}

// next reads the next frame from the server (unmasked, as servers send),
// within timeout.
func (c *rawConn) next(timeout time.Duration) (opcode byte, payload []byte, err error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if n > 64<<20 {
		return 0, nil, fmt.Errorf("a %d-byte frame from the server", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.br, payload)
	return h[0] & 0xF, payload, err
}

// closeCode reads frames until the server's close frame, within timeout,
// and returns its code; 0 if the connection ended without one.
func (c *rawConn) closeCode(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		op, p, err := c.next(time.Until(deadline))
		if err != nil {
			return 0
		}
		if op == opClose {
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
	return 0
}
