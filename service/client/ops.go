package client

import (
	"context"
	"encoding/json"
	"time"

	"github.com/crunchsvc/crunch/service/wire"
)

// Ping sends the protocol's ping op and returns the round-trip time.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.Do(ctx, &wire.Request{Op: "ping"}, &Options{Text: true})
	return time.Since(start), err
}

// Info returns the server's self-description: version, CPU, executors,
// limits and every op with its arguments, each as raw JSON.
func (c *Client) Info(ctx context.Context) (map[string]json.RawMessage, error) {
	rep, err := c.Do(ctx, &wire.Request{Op: "info"}, &Options{Text: true})
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(rep.Result))
	for k, v := range rep.Result {
		out[k] = v.JSON
	}
	return out, nil
}
