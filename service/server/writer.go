package server

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// maxQueued is how many messages may wait for a session's writer: beyond
// it send waits for room and trySend drops its message.
const maxQueued = 256

// outbox is a session's write side. A writer goroutine owns the
// connection's writes, data and pings alike, but exists only while there
// is something to write: an idle connection has no goroutine, no buffer
// and no ticker here, only a timer that asks for a ping every
// PingInterval (see pingDue). Every field is guarded by mu.
type outbox struct {
	mu   sync.Mutex
	room sync.Cond // on mu: a sender waiting for room in queue
	// queue holds what waits for the writer, in order; nil when empty, so
	// that an idle connection holds no backing array.
	queue    []outMsg
	pingDue  bool           // a ping is to be sent
	writing  bool           // a writer goroutine is running
	dead     bool           // a write failed or the close frame went: nothing more is written
	finished bool           // the session is ending: nothing more is queued, no writer starts
	writers  sync.WaitGroup // the writer goroutine while it runs; Add only while !finished
	pinger   *time.Timer
	// readerWaits: the reader waits for a large-message token, with the
	// rest of a message unread (large.go). Set without mu.
	readerWaits atomic.Bool
}

// startPings arms the ping timer: the connection is pinged every
// PingInterval until finishWrites.
func (s *session) startPings() {
	s.out.mu.Lock()
	s.out.pinger = time.AfterFunc(s.srv.cfg.PingInterval, s.pingDue)
	s.out.mu.Unlock()
}

// pingDue runs on the ping timer: it has the writer send a ping and arms
// the timer again. While the reader waits for a large-message token it
// skips the ping: the peer's pong would queue behind the rest of its
// message, which nobody reads meanwhile, and a client that gives up on a
// pong it cannot send (gorilla's does after a second) would drop the
// connection. The read deadline is extended once the wait ends.
func (s *session) pingDue() {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.finished || o.dead {
		return
	}
	if !o.readerWaits.Load() {
		o.pingDue = true
		s.startWriterLocked()
	}
	o.pinger.Reset(s.srv.cfg.PingInterval)
}

// send queues a message for the writer, waiting while the queue is full;
// false if nothing more can be written.
func (s *session) send(m outMsg) bool {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.queue) >= maxQueued && !o.dead && !o.finished {
		o.room.Wait()
	}
	if o.dead || o.finished {
		s.let(m)
		return false
	}
	o.queue = append(o.queue, m)
	s.startWriterLocked()
	return true
}

// trySend queues m only if there is room: for progress messages, which
// may be dropped rather than delay anything.
func (s *session) trySend(m outMsg) {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) < maxQueued && !o.dead && !o.finished {
		o.queue = append(o.queue, m)
		s.startWriterLocked()
	}
}

// startWriterLocked starts the writer goroutine unless it runs already.
// The caller holds out.mu and has checked that the session is not finished.
func (s *session) startWriterLocked() {
	if !s.out.writing {
		s.out.writing = true
		s.out.writers.Add(1)
		go s.writer()
	}
}

// finishWrites lets the writer flush what is queued, and returns once it
// has stopped: afterwards nothing writes to the connection.
func (s *session) finishWrites() {
	o := &s.out
	o.mu.Lock()
	o.finished = true
	if o.pinger != nil {
		o.pinger.Stop() // a pingDue already waiting for mu sees finished
	}
	o.room.Broadcast() // senders waiting for room give up
	o.mu.Unlock()
	o.writers.Wait()
	s.srv.letGo(closedConnBytes)
}

// let lets go of a message written or dropped: its memory goes back, and
// the reclaimer counts it.
func (s *session) let(m outMsg) {
	s.srv.letGo(m.size())
	if m.release != nil {
		m.release()
	}
}

// size is the message's length, for the reclaimer.
func (m outMsg) size() int {
	if m.msg == nil {
		return 0
	}
	return m.msg.Len()
}

// writer writes a ping when one is due, else the next queued message,
// until there is nothing left to write; then it ends, and the next send
// or ping starts another.
func (s *session) writer() {
	o := &s.out
	defer o.writers.Done()
	for {
		o.mu.Lock()
		if o.dead { // nothing more goes out, and nobody will read these
			for _, m := range o.queue {
				s.let(m)
			}
			o.queue = nil
			o.pingDue = false
		}
		ping := o.pingDue
		o.pingDue = false
		var m outMsg
		switch {
		case ping:
		case len(o.queue) > 0:
			m = o.queue[0]
			o.queue[0] = outMsg{} // the message is the writer's now, not the array's
			if o.queue = o.queue[1:]; len(o.queue) == 0 {
				o.queue = nil
			}
			o.room.Signal()
		default:
			o.writing = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
		if ping {
			s.writePing()
		} else {
			s.write(m)
			s.let(m)
		}
	}
}

// writePing sends a ping carrying its send time, which the pong echoes
// (see the pong handler in run).
func (s *session) writePing() {
	now := time.Now()
	var payload [8]byte
	binary.LittleEndian.PutUint64(payload[:], uint64(now.UnixNano()))
	s.conn.WriteControl(websocket.PingMessage, payload[:], now.Add(s.srv.cfg.WriteTimeout))
}

// write sends one message, or the close frame, within WriteTimeout. After
// a failed write or the close frame, nothing more is written.
func (s *session) write(m outMsg) {
	deadline := time.Now().Add(s.srv.cfg.WriteTimeout)
	var err error
	if m.closeCode != 0 {
		s.sentClose.Store(int32(m.closeCode))
		err = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(m.closeCode, m.closeText), deadline)
		// Wake the reader: the peer's close reply, or the deadline, ends
		// the session.
		s.conn.UnderlyingConn().SetReadDeadline(time.Now().Add(time.Second))
	} else {
		s.conn.SetWriteDeadline(deadline)
		err = m.msg.Send(s.nextWriter)
	}
	if err != nil || m.closeCode != 0 {
		s.out.mu.Lock()
		s.out.dead = true
		s.out.room.Broadcast() // senders waiting for room give up
		s.out.mu.Unlock()
	}
	if err != nil {
		// A blocked reader wakes on a deadline, not on Close. (After a
		// close frame sent, it keeps the second set above to drain the
		// peer.)
		s.conn.UnderlyingConn().SetReadDeadline(time.Now())
	}
}
