package server

import (
	"context"
	"io"
	"sync"

	"github.com/crunchsvc/crunch/service/msgbuf"
)

// largeMessage is the size past which a message needs one of the server's
// Config.MaxLarge tokens, from the moment its reading passes this size
// until its request is answered. Small messages (pings, most calls) never
// wait; a large one waits before the server reads the rest of it, and its
// client's socket fills meanwhile (TCP's flow control), so that many
// clients sending large arrays at once cannot make the server hold them
// all: the memory in use stays near MaxLarge large messages.
const largeMessage = 256 << 10

// gatedReader reads one message and takes a large-message token when the
// message grows past largeMessage.
type gatedReader struct {
	r    io.Reader
	s    *session
	n    int
	held bool // a token is held for this message
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if !g.held {
		if g.n >= largeMessage {
			// No pings meanwhile (see pingDue): the client could not
			// answer them, its socket full of what is not being read.
			g.s.out.readerWaits.Store(true)
			err := g.s.srv.acquireLarge(g.s.ctx)
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

// acquireLarge takes a large-message token, waiting for one if need be
// until ctx ends.
func (s *Server) acquireLarge(ctx context.Context) error {
	select {
	case s.large <- struct{}{}:
		return nil
	default:
	}
	s.largeWaits.Add(1)
	select {
	case s.large <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// releaser returns a function that gives back what a message holds: a
// large-message token (held) and the buffer it was read into (buf, nil
// for memory from the Go heap), once however often it is called; for a
// message holding neither (most), the shared no-op, so that small
// messages allocate nothing here.
func (s *Server) releaser(held bool, buf *msgbuf.Buf) func() {
	if !held && buf == nil {
		return noRelease
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			buf.Release()
			if held {
				<-s.large
			}
		})
	}
}

// noRelease is the releaser of a message that holds no token.
func noRelease() {}
