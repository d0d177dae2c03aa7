package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/wire"
)

// Causes of a session's or a request's end, as the protocol reports them.
var (
	errShuttingDown = wire.Errorf(wire.Canceled, "server shutting down")
	errConnClosed   = wire.Errorf(wire.Canceled, "connection closed")
)

// maxGarbage is how many undecodable messages in a row a connection may
// send before it is closed with 1008: one is a bug to report, a stream of
// them is not a crunch client.
const maxGarbage = 16

// session is one WebSocket connection. Its reader goroutine (the one
// serveSession runs in) reads and dispatches messages and never computes;
// its writer goroutine owns every write of a data message and every ping,
// and runs only while there is something to write (writer.go); each
// request runs in a goroutine of its own.
type session struct {
	srv    *Server
	id     uint64 // this connection's tenant number in the executors' queues
	conn   *websocket.Conn
	remote string
	// Over the Unix socket: the connection's descriptors, and the shared
	// memory regions registered from them. Both nil over TCP.
	fdc     *shm.FDConn
	regions *shm.Table

	ctx    context.Context // ends when the connection or the server does
	cancel context.CancelCauseFunc

	out outbox // the write side: what waits for the writer, and the pings (writer.go)

	mu       sync.Mutex
	inflight map[int64]context.CancelCauseFunc // by request id

	requests sync.WaitGroup // request goroutines; Add only on the reader
	pending  atomic.Int64   // requests whose final reply is not yet queued
	draining atomic.Bool
	garbage  int // undecodable messages in a row (reader only)
	// msgRelease gives back what the message just read holds (a
	// large-message token, an off-heap buffer): handle passes it on to its
	// request or calls it (reader only).
	msgRelease func()
	// largeShare holds a token per large message of this connection's
	// being read or answered: at most largeShare of the server's.
	largeShare chan struct{}

	served    atomic.Int64 // compute requests answered, for the close log line
	sentClose atomic.Int32 // the close code the server sent, if it sent one
}

// closeCode says how a connection ended, for its log line: the code the
// server sent, else the client's, else 1006 (no close frame: the
// connection broke or timed out).
func closeCode(sent, peer int) (code int, by string) {
	switch {
	case sent != 0:
		return sent, "server"
	case peer != 0:
		return peer, "client"
	default:
		return websocket.CloseAbnormalClosure, "neither"
	}
}

// outMsg is one message for the writer: a data message, or a close frame.
type outMsg struct {
	msg *wire.Message
	// release, if not nil, gives back the memory msg's tensors lie in,
	// once the message is written or dropped.
	release   func()
	closeCode int // non-zero: send a close frame with this code and stop
	closeText string
}

func newSession(srv *Server, conn *websocket.Conn, remote string, fdc *shm.FDConn) *session {
	s := &session{
		srv: srv, id: srv.nextID.Add(1), conn: conn, remote: remote, fdc: fdc,
		inflight:   make(map[int64]context.CancelCauseFunc),
		msgRelease: noRelease,
		largeShare: make(chan struct{}, largeShare(srv.cfg.MaxLarge)),
	}
	s.out.room.L = &s.out.mu
	s.ctx, s.cancel = context.WithCancelCause(srv.stop)
	if fdc != nil {
		s.regions = shm.NewTable(srv.cfg.ShmMaxRegions, srv.cfg.ShmMaxBytes, srv.shm.account)
	}
	return s
}

// run serves the connection until it closes, then cancels what is still
// running for it and returns once every goroutine using conn has ended.
func (s *session) run() {
	cfg := &s.srv.cfg
	log := cfg.Log.With("conn", s.id, "remote", s.remote)
	log.Info("connection open")
	opened := time.Now()
	peerClose := 0 // the code of the client's close frame, if one came
	defer func() {
		if p := recover(); p != nil { // never let one connection take the process down
			log.Error("session panicked", "panic", p)
		}
		s.cancel(errConnClosed)
		s.requests.Wait()
		if s.regions != nil {
			// Unmapped now, or as soon as a cancelled kernel still using
			// one has stopped.
			s.regions.Close()
		}
		s.finishWrites()
		s.conn.Close()
		code, by := closeCode(int(s.sentClose.Load()), peerClose)
		log.Info("connection closed", "code", code, "by", by,
			"requests", s.served.Load(), "duration", time.Since(opened).Round(time.Millisecond).String())
	}()

	s.conn.SetReadLimit(cfg.MaxMessage)
	s.extendRead()
	s.conn.SetPongHandler(func(payload string) error {
		s.extendRead()
		// Our pings carry their send time; a pong echoes it (RFC 6455).
		if len(payload) == 8 {
			sent := int64(binary.LittleEndian.Uint64([]byte(payload)))
			if rtt := time.Duration(time.Now().UnixNano() - sent); rtt >= 0 {
				s.srv.metrics.pong(rtt)
			}
		}
		return nil
	})
	s.startPings()

	for {
		mt, data, err := s.readMessage()
		if err != nil {
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				peerClose = ce.Code
			case errors.Is(err, websocket.ErrReadLimit):
				s.sentClose.Store(websocket.CloseMessageTooBig) // the library sent it
				// The rest of the oversize message is unread: drop it until
				// the peer closes (or a second passes), so that closing does
				// not reset the connection and lose the 1009 frame.
				raw := s.conn.UnderlyingConn()
				raw.SetReadDeadline(time.Now().Add(time.Second))
				io.Copy(io.Discard, raw)
			default:
				log.Debug("read ended", "err", err)
			}
			return
		}
		s.extendRead()
		if mt != websocket.TextMessage && mt != websocket.BinaryMessage {
			continue
		}
		ok := true
		switch {
		case s.fdc != nil && s.fdc.Overflowed():
			s.msgRelease()
			s.msgRelease = noRelease
			s.send(outMsg{closeCode: websocket.ClosePolicyViolation, closeText: "too many file descriptors sent"})
			ok = false
		case mt == websocket.TextMessage && !utf8.Valid(data):
			// RFC 6455 section 8.1: a text message that is not UTF-8
			// fails the connection.
			s.msgRelease()
			s.msgRelease = noRelease
			s.send(outMsg{closeCode: websocket.CloseInvalidFramePayloadData, closeText: "text message is not valid UTF-8"})
			ok = false
		}
		if !ok || !s.handle(mt == websocket.BinaryMessage, data) {
			// Our close frame is on its way. Read and drop what the peer
			// still sends until its close frame, or the deadline the writer
			// set: closing with unread data would reset the connection,
			// and a reset can destroy our close frame before the peer
			// reads it. Dropped as it streams in, not read into memory
			// first: a peer that floods after our close costs nothing.
			for {
				_, r, err := s.conn.NextReader()
				if err != nil {
					return
				}
				io.Copy(io.Discard, r) // an error here returns at the next NextReader
			}
		}
	}
}

// readMessage reads the next message whole, into memory of its own size
// (see wire.ReadAllPooled: a large one outside the Go heap), holding a
// large-message token for it if it is large (see large.go): handle passes
// both on to its request. A large message that found no token in time is
// refused here (see refuseLarge), and the next one read.
func (s *session) readMessage() (int, []byte, error) {
	for {
		mt, r, err := s.conn.NextReader()
		if err != nil {
			return mt, nil, err
		}
		g := &gatedReader{r: r, s: s, binary: mt == websocket.BinaryMessage}
		data, buf, err := wire.ReadAllPooledHead(g, s.srv.bufs, int(s.srv.cfg.MaxMessage), g.peek)
		if errors.Is(err, errLargeWait) {
			if err := s.refuseLarge(r, g); err != nil {
				return mt, nil, err
			}
			continue
		}
		if err != nil {
			s.releaser(g.held, nil)()
			return mt, nil, err
		}
		s.msgRelease = s.releaser(g.held, buf)
		return mt, data, nil
	}
}

// nextWriter opens a WebSocket message for wire.Message.Send: the tensors
// of a binary reply go to the socket from their own memory.
func (s *session) nextWriter(binary bool) (io.WriteCloser, error) {
	if binary {
		return s.conn.NextWriter(websocket.BinaryMessage)
	}
	return s.conn.NextWriter(websocket.TextMessage)
}

// extendRead moves the read deadline: a connection from which nothing,
// not even a pong, arrives for PingTimeout is dead.
func (s *session) extendRead() {
	s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.PingTimeout))
}

// closeNow sends a close frame and lets the session end.
func (s *session) closeNow(code int, text string) {
	s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
}

// drain refuses new requests, waits until the ones in flight have replied
// or grace ends, cancels the rest, and closes the connection with 1001
// once every reply is queued.
func (s *session) drain(grace context.Context) {
	// Under mu, so that start either sees draining or has counted its
	// request in pending by now.
	s.mu.Lock()
	s.draining.Store(true)
	s.mu.Unlock()
	waitIdle := func(ctx context.Context) {
		for s.pending.Load() > 0 && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitIdle(grace)
	s.cancel(errShuttingDown)
	// Cancelled requests answer at once; give them a moment to queue it.
	last, stop := context.WithTimeout(context.Background(), time.Second)
	defer stop()
	waitIdle(last)
	s.send(outMsg{closeCode: websocket.CloseGoingAway, closeText: "server shutting down"})
}
