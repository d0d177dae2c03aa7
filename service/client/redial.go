package client

import (
	"context"
	"sync"
	"time"

	"github.com/crunchsvc/crunch/service/wire"
)

// Err reports why the connection ended (nil while it is open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Redialer keeps one connection to a server and dials again when it is
// lost. Its Do sends a call again on the new connection when the old one
// was lost before the reply, if the call says it may be (Options.
// Idempotent: every crunch op is a pure function of its arguments, but a
// caller may not want the work done twice). Safe for concurrent use.
type Redialer struct {
	addr string
	// Attempts bounds the sends of one call (default 3).
	Attempts int
	// Backoff is the wait before dialing again after a loss, doubled after
	// each failed dial up to 2 s (default 50 ms).
	Backoff time.Duration
	// Dial holds the token and TLS settings of every dial (nil: none).
	Dial *DialOptions

	mu sync.Mutex
	c  *Client
}

// NewRedialer returns a Redialer for addr (as for Dial); it dials on first
// use.
func NewRedialer(addr string) *Redialer { return &Redialer{addr: addr} }

// Client returns the open connection, dialing a new one if there is none
// or it was lost. Typed methods on it do not retry; Do does.
func (r *Redialer) Client(ctx context.Context) (*Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil && r.c.Err() == nil {
		return r.c, nil
	}
	if r.c != nil {
		r.c.Close() // already failed: this only releases it
	}
	c, err := DialWith(ctx, r.addr, r.Dial)
	if err != nil {
		r.c = nil
		return nil, err
	}
	r.c = c
	return c, nil
}

// Do is Client.Do on the current connection, dialing again after a loss:
// a call whose connection failed before its reply is sent again, up to
// Attempts times in all, when o.Idempotent is set; otherwise its error is
// returned. Failure replies are returned as they come, never retried.
func (r *Redialer) Do(ctx context.Context, req *wire.Request, o *Options) (*wire.Reply, error) {
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := r.Backoff
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		var c *Client
		if c, err = r.Client(ctx); err != nil {
			continue // the server may be restarting: dial again
		}
		send := *req
		send.ID = 0 // a fresh id on this connection
		var rep *wire.Reply
		rep, err = c.Do(ctx, &send, o)
		// A reply (ok or not), the caller giving up, or an error of the
		// call itself (encoding, say) ends it; a lost connection may not.
		if err == nil || rep != nil || ctx.Err() != nil || c.Err() == nil {
			return rep, err
		}
		if o == nil || !o.Idempotent {
			return nil, err
		}
	}
	return nil, err
}
