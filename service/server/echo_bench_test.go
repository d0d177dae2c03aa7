package server_test

import (
	"net"
	"testing"

	fastws "github.com/fasthttp/websocket"
	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"
)

// BenchmarkRawEcho is the ceiling BenchmarkTransfer compares against: a
// bare fasthttp/websocket server echoing 8 MiB binary messages to a
// gorilla client on loopback, each message read into a reused buffer and
// written back at once. transfer-GB/s counts the payload one way.
func BenchmarkRawEcho(b *testing.B) {
	up := fastws.FastHTTPUpgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		up.Upgrade(ctx, func(c *fastws.Conn) {
			c.SetReadLimit(-1)
			buf := make([]byte, 8<<20)
			for {
				mt, r, err := c.NextReader()
				if err != nil {
					return
				}
				n := 0
				for n < len(buf) {
					k, err := r.Read(buf[n:])
					n += k
					if err != nil {
						break
					}
				}
				if err := c.WriteMessage(mt, buf[:n]); err != nil {
					return
				}
			}
		})
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown()
	d := websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	c, _, err := d.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, back := make([]byte, 8<<20), make([]byte, 8<<20)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
		_, r, err := c.NextReader()
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < len(back); {
			k, err := r.Read(back[n:])
			n += k
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(2*float64(len(msg))*float64(b.N)/b.Elapsed().Seconds()/1e9/2, "transfer-GB/s")
}
