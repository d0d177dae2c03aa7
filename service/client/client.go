package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("client: connection closed")

// Options are per-call settings. The zero value means: exec and impl
// chosen by the server, its default deadline, binary messages, no progress.
// An Exec or Impl the server or the op lacks fails the call with a
// *wire.Error of code not_found.
type Options struct {
	Exec     string        // "auto", "direct", "pool" or "subprocess"
	Impl     string        // "auto", "c", "go" or "gonum"
	Timeout  time.Duration // sent as timeout_ms
	Text     bool          // send a text (JSON) message instead of a binary one
	Progress func(fraction float64)
	// Threads is the most threads the call's kernel may use, sent as
	// threads (0: the server's default, its --max-threads).
	Threads int
	// Idempotent lets Redialer.Do send the call again on a new connection
	// when its connection is lost before the reply.
	Idempotent bool
	// ResultBytes, over the Unix socket, is about how many bytes the
	// call's result tensors take, for the shared memory they are written
	// to (0: as many as its tensor arguments). Results that do not fit
	// come in the reply, so a wrong guess costs only speed.
	ResultBytes int
	// Out, when not nil, is where the call's result tensor goes if it has
	// Out's dtype and shape: the call then returns Out itself, and a call
	// made again and again with the same Out reuses its memory instead of
	// allocating its result anew. Over the Unix socket, an Out from
	// AllocShared is written by the server's kernel itself, without a
	// copy. Out must not overlap the call's arguments, and must not be
	// read or written while the call is in flight.
	Out *tensor.Tensor
}

// Client is one connection to a crunch server. Safe for concurrent use.
type Client struct {
	conn   *websocket.Conn
	wmu    sync.Mutex // one writer at a time (gorilla's rule)
	nextID atomic.Int64

	mu      sync.Mutex
	pending map[int64]*call
	err     error // set once the connection has failed
	done    chan struct{}

	// shm is the shared memory of a connection over the server's Unix
	// socket; nil over TCP.
	shm *shmPool
}

// arrived is a final reply and the pooled buffer its message was read
// into (nil for a message on the Go heap): whoever takes it releases buf.
type arrived struct {
	rep *wire.Reply
	buf *msgbuf.Buf
}

type call struct {
	reply    chan arrived // buffered 1: the final reply
	progress func(float64)
	// held are the shared-memory blocks the request uses: free again only
	// once its final reply has come. orphan: its caller has gone (its
	// context ended), so the reader frees them.
	held   []*block
	orphan bool
}

// Dial connects to a crunch server. addr is a ws:// or wss:// URL, a
// host:port, to which /v1/ws is added, or "unix:PATH", the server's Unix
// socket (crunch serve --unix PATH), over which tensors of ShmThreshold
// bytes or more travel through shared memory. DialWith takes a token and
// TLS settings too.
func Dial(ctx context.Context, addr string) (*Client, error) {
	return DialWith(ctx, addr, nil)
}

// DialWith is Dial with o's token and TLS settings (nil: none).
func DialWith(ctx context.Context, addr string, o *DialOptions) (*Client, error) {
	if o == nil {
		o = &DialOptions{}
	}
	url := addr
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10, TLSClientConfig: o.TLS}
	path, overUnix := strings.CutPrefix(addr, "unix:")
	switch {
	case overUnix:
		url = "ws://localhost/v1/ws"
		d.NetDialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", path)
		}
	case !strings.HasPrefix(url, "ws://") && !strings.HasPrefix(url, "wss://"):
		scheme := "ws://"
		if o.TLS != nil {
			scheme = "wss://"
		}
		url = scheme + addr + "/v1/ws"
	}
	conn, resp, err := d.DialContext(ctx, url, o.header())
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, handshakeError(err, resp))
	}
	conn.SetReadLimit(-1) // the server bounds what it sends
	c := &Client{conn: conn, pending: make(map[int64]*call), done: make(chan struct{})}
	if uc, ok := conn.UnderlyingConn().(*net.UnixConn); ok {
		c.shm = newShmPool(c, uc)
	}
	go c.read()
	return c, nil
}

// Close closes the connection; calls in flight fail with ErrClosed.
func (c *Client) Close() error {
	c.wmu.Lock()
	c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	err := c.conn.Close()
	<-c.done
	if c.shm != nil {
		c.shm.close()
	}
	return err
}

// replyBufs holds large replies, read outside the Go heap into reused
// memory until their results are copied out (see settle). The clients of
// a process share it: up to 64 MiB of it stays mapped for the next
// replies, each buffer for a few idle seconds.
var replyBufs = msgbuf.New(64<<20, 5*time.Second)

// read routes every reply to its call until the connection ends.
func (c *Client) read() {
	defer close(c.done)
	for {
		mt, r, err := c.conn.NextReader()
		var data []byte
		var buf *msgbuf.Buf
		if err == nil {
			// Sized once (replies may be large), in reused memory when
			// large: settle copies the results out.
			data, buf, err = wire.ReadAllPooled(r, replyBufs, math.MaxInt)
		}
		if err != nil {
			c.fail(err)
			return
		}
		var shmSlicer wire.ShmSlicer
		if c.shm != nil {
			shmSlicer = c.shm
		}
		rep, err := wire.DecodeReplyShm(mt == websocket.BinaryMessage, data, shmSlicer)
		if err != nil {
			buf.Release()
			continue // not addressable to any call; the server never sends one
		}
		// A final reply goes to its call under mu, so that a caller that
		// gives up finds it either pending or in its channel.
		c.mu.Lock()
		cl := c.pending[rep.ID]
		orphan, delivered := false, false
		if cl != nil && rep.Progress == nil {
			delete(c.pending, rep.ID)
			if orphan = cl.orphan; !orphan {
				cl.reply <- arrived{rep, buf}
				delivered = true
			}
		}
		c.mu.Unlock()
		if !delivered {
			buf.Release()
		}
		switch {
		case orphan:
			c.shm.put(cl.held...) // the server is done with them
		case cl != nil && rep.Progress != nil && cl.progress != nil:
			cl.progress(*rep.Progress)
		}
	}
}

// fail ends every pending call with err's cause.
func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) || errors.Is(err, websocket.ErrCloseSent) || strings.Contains(err.Error(), "use of closed") {
			c.err = fmt.Errorf("%w: %v", ErrClosed, err)
		} else {
			c.err = fmt.Errorf("client: reading: %w", err)
		}
	}
	var orphans []*block
	for id, cl := range c.pending {
		delete(c.pending, id)
		if cl.orphan {
			orphans = append(orphans, cl.held...)
		}
		close(cl.reply)
	}
	c.shm.put(orphans...) // the session is over: nothing reads them now
}

// Do sends req and waits for its final reply. It sets req.ID when zero.
// A failure reply is returned as a *wire.Error. When ctx ends first, Do
// asks the server to cancel the request and returns ctx's error. Over the
// Unix socket, tensor arguments of ShmThreshold bytes or more travel
// through shared memory (req is not changed), and so do result tensors.
// The reply's result tensors are the caller's: in o.Out (see Options) or
// in memory of their own, never in memory the client reuses.
func (c *Client) Do(ctx context.Context, req *wire.Request, o *Options) (*wire.Reply, error) {
	if o == nil {
		o = &Options{}
	}
	if req.ID == 0 {
		req.ID = c.nextID.Add(1)
	}
	req.Exec, req.Impl, req.Progress = o.Exec, o.Impl, o.Progress != nil
	if o.Timeout > 0 {
		req.TimeoutMS = max(1, o.Timeout.Milliseconds())
	}
	req.Threads = int64(max(o.Threads, 0))
	send, held, err := c.share(ctx, req, o)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", req.Op, err)
	}
	msg, err := wire.EncodeRequestMessage(send, !o.Text)
	if err != nil {
		c.shm.put(held...)
		return nil, fmt.Errorf("client: %s: %w", req.Op, err)
	}
	cl := &call{reply: make(chan arrived, 1), progress: o.Progress, held: held}
	rep, buf, err := c.roundTrip(ctx, cl, req.ID, req.Op, func() error { return c.write(msg) })
	if rep != nil {
		settle(rep, buf, o.Out)
		c.shm.put(held...)
	}
	return rep, err
}

// roundTrip registers cl as call id, sends it, and waits for its final
// reply, which comes with the pooled buffer it lies in, if any: the
// caller releases it (see settle).
func (c *Client) roundTrip(ctx context.Context, cl *call, id int64, op string, send func() error) (*wire.Reply, *msgbuf.Buf, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		c.shm.put(cl.held...)
		return nil, nil, c.err
	}
	c.pending[id] = cl
	c.mu.Unlock()

	if err := send(); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		c.shm.put(cl.held...) // a message not sent whole is no request
		return nil, nil, fmt.Errorf("client: sending %s: %w", op, err)
	}
	select {
	case a, ok := <-cl.reply:
		if !ok {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.shm.put(cl.held...)
			return nil, nil, c.err
		}
		if !a.rep.OK {
			a.buf.Release() // an error holds no tensors
			return a.rep, nil, a.rep.Error
		}
		return a.rep, a.buf, nil
	case <-ctx.Done():
		c.mu.Lock()
		_, waiting := c.pending[id]
		switch {
		case waiting && len(cl.held) > 0:
			cl.orphan = true // the server may still read them: freed on its reply
		case waiting:
			delete(c.pending, id)
		}
		c.mu.Unlock()
		if !waiting {
			// The reply came meanwhile (or the connection ended): it is
			// in the channel, which read fills under mu.
			select {
			case a, ok := <-cl.reply:
				if ok {
					a.buf.Release()
				}
			default:
			}
			c.shm.put(cl.held...)
		}
		c.sendCancel(id)
		return nil, nil, ctx.Err()
	}
}

// sendCancel asks the server to stop request id; its reply is ignored.
func (c *Client) sendCancel(id int64) {
	req := &wire.Request{ID: c.nextID.Add(1), Op: "cancel", Args: wire.Args{"target": wire.Int(id)}}
	if msg, err := wire.EncodeRequestMessage(req, false); err == nil {
		c.write(msg)
	}
}

// write sends msg from its parts: a binary request's tensors are read
// from their own memory, never assembled into one message first.
func (c *Client) write(msg *wire.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return msg.Send(func(binary bool) (io.WriteCloser, error) {
		if binary {
			return c.conn.NextWriter(websocket.BinaryMessage)
		}
		return c.conn.NextWriter(websocket.TextMessage)
	})
}
