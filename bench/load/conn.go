package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// conn is one client connection that is dialled again after it fails.
// Every goroutine using the failed client sees the failure; only the first
// report of each failure counts (as an abnormal close) and redials.
type conn struct {
	addr string
	log  *errorLog

	mu     sync.Mutex
	c      *client.Client
	gen    int   // incremented at each redial
	closes int64 // failures of the connection: abnormal closes
}

// dialTimeout bounds one dial.
const dialTimeout = 10 * time.Second

func dialConn(ctx context.Context, addr string, log *errorLog) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := client.Dial(dctx, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return &conn{addr: addr, log: log, c: c}, nil
}

// get returns the current client and its generation, for failed.
func (c *conn) get() (*client.Client, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c, c.gen
}

// failed reports that the client of generation gen failed with err. The
// first report of a generation is counted and logged, and the connection
// is dialled again until that works or ctx ends.
func (c *conn) failed(ctx context.Context, gen int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // counted already; a new client is in place
	}
	c.closes++
	c.log.add(err.Error())
	c.c.Close()
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		nc, err := client.Dial(dctx, c.addr)
		cancel()
		if err == nil {
			c.c = nc
			c.gen++
			return
		}
		c.log.add("redial: " + err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// abnormalCloses returns how many times the connection failed.
func (c *conn) abnormalCloses() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closes
}

func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.Close()
}

// isConnFailure tells whether err from client.Do means the connection
// failed: not a protocol error reply, not the caller's own context.
func isConnFailure(ctx context.Context, err error) bool {
	var we *wire.Error
	return err != nil && !errors.As(err, &we) && ctx.Err() == nil
}

// ErrorCount is one distinct error message and how often it was seen.
type ErrorCount struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// errorLog counts distinct error messages, keeping the first maxDistinct
// and counting the rest as "other".
type errorLog struct {
	mu   sync.Mutex
	list []ErrorCount
}

const maxDistinct = 10

func (l *errorLog) add(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.list {
		if l.list[i].Message == msg {
			l.list[i].Count++
			return
		}
	}
	if len(l.list) == maxDistinct {
		msg = "(other messages)"
		for i := range l.list {
			if l.list[i].Message == msg {
				l.list[i].Count++
				return
			}
		}
	}
	l.list = append(l.list, ErrorCount{Message: msg, Count: 1})
}

func (l *errorLog) snapshot() []ErrorCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ErrorCount(nil), l.list...)
}
