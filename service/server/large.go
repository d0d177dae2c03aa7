package server

import (
	"context"
	"io"
	"sync"

	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/wire"
)

// largeMessage is the size past which a message needs one of the server's
// Config.MaxLarge tokens, from the moment its reading passes this size
// until its request is answered. Small messages (pings, most calls) never
// wait; a large one waits before the server reads the rest of it, and its
// client's socket fills meanwhile (TCP's flow control), so that many
// clients sending large arrays at once cannot make the server hold them
// all: the memory in use stays near MaxLarge large messages.
//
// Two rules keep one client from holding the others up. A connection holds
// at most largeShare of the tokens (its further large messages wait for its
// own to be answered), and a message waits at most Config.LargeWait for
// its token: past that the server reads the rest of it into nothing,
// refuses it with overloaded, and goes on reading the connection, so that
// what the client sent after it (pings, cancels, small calls) is answered.
const largeMessage = 256 << 10

// largeShare is how many large-message tokens one connection may hold at
// once: a quarter of them, at least one. With the default MaxLarge of
// 4×GOMAXPROCS, taken before `crunch serve` doubles GOMAXPROCS (so 4× the
// CPUs), that is one per CPU, enough for one client to keep every core
// busy with large requests, while taking every token needs four
// connections, each limited in turn by --max-inflight and its deadlines.
func largeShare(maxLarge int) int { return max(1, maxLarge/4) }

// gatedReader reads one message and takes a large-message token when the
// message grows past largeMessage.
type gatedReader struct {
	r      io.Reader
	s      *session
	binary bool
	n      int
	held   bool // a token is held for this message
	// The request's id and reply form, read from the message's first
	// largeMessage bytes (see wire.PeekRequest): what a refusal needs.
	id    int64
	reply string
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if !g.held {
		if g.n >= largeMessage {
			// No pings meanwhile (see pingDue): the client could not
			// answer them, its socket full of what is not being read.
			g.s.out.readerWaits.Store(true)
			err := g.s.acquireLarge()
			g.s.out.readerWaits.Store(false)
			if err != nil {
				return 0, err
			}
			g.held = true
			// The wait may have outlasted the read deadline: this
			// connection was not slow, the server was busy.
			g.s.extendRead()
		} else {
			p = p[:min(len(p), largeMessage-g.n)]
		}
	}
	n, err := g.r.Read(p)
	g.n += n
	return n, err
}

// peek is the head function of wire.ReadAllPooledHead.
func (g *gatedReader) peek(head []byte) {
	g.id, g.reply = wire.PeekRequest(g.binary, head)
}

// errLargeWait ends a large message's wait for its token: it is refused.
var errLargeWait = wire.Errorf(wire.Overloaded, "large-message tokens busy")

// acquireLarge takes one of the connection's share of large-message tokens
// and one of the server's, waiting for them at most LargeWait
// (errLargeWait), or until the connection ends.
func (s *session) acquireLarge() error {
	ctx, cancel := context.WithTimeoutCause(s.ctx, s.srv.cfg.LargeWait, errLargeWait)
	defer cancel()
	waited := false
	select {
	case s.largeShare <- struct{}{}:
	default:
		waited = true
		s.srv.largeWaits.Add(1)
		select {
		case s.largeShare <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	select {
	case s.srv.large <- struct{}{}:
		return nil
	default:
	}
	if !waited {
		s.srv.largeWaits.Add(1)
	}
	select {
	case s.srv.large <- struct{}{}:
		return nil
	case <-ctx.Done():
		<-s.largeShare
		return context.Cause(ctx)
	}
}

// refuseLarge answers a large message that found no token in time: it
// reads the rest of it (r, after g) into nothing, so that the connection
// moves again, and replies overloaded to the request it held, named by
// the id found in its head (0 if there was none).
func (s *session) refuseLarge(r io.Reader, g *gatedReader) error {
	s.srv.largeRefused.Add(1)
	s.extendRead()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	form := g.binary
	switch g.reply {
	case "binary":
		form = true
	case "text":
		form = false
	}
	e := wire.Errorf(wire.Overloaded, "this message (over 256 KiB) waited %v for one of the server's large-message tokens (--max-large, at most %d per connection) and was refused unread",
		s.srv.cfg.LargeWait, largeShare(s.srv.cfg.MaxLarge))
	e.RetryAfterMS = s.srv.cfg.LargeWait.Milliseconds()
	s.replyError(form, "", g.id, e)
	return nil
}

// releaser returns a function that gives back what a message holds: a
// large-message token (held: the server's and the connection's) and the
// buffer it was read into (buf, nil for memory from the Go heap), once
// however often it is called; for a message holding neither (most), the
// shared no-op, so that small messages allocate nothing here.
func (s *session) releaser(held bool, buf *msgbuf.Buf) func() {
	if !held && buf == nil {
		return noRelease
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			buf.Release()
			if held {
				<-s.srv.large
				<-s.largeShare
			}
		})
	}
}

// noRelease is the releaser of a message that holds no token.
func noRelease() {}
