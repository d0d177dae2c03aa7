package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crunchsvc/crunch/service/tensor"
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

// Modsum returns Σ over 0 <= i < iters of (i·n) mod 97, computed by the
// server.
func (c *Client) Modsum(ctx context.Context, n, iters int64, o *Options) (int64, *wire.Stats, error) {
	rep, err := c.Do(ctx, &wire.Request{Op: "modsum", Args: wire.Args{"n": wire.Int(n), "iters": wire.Int(iters)}}, o)
	if err != nil {
		return 0, nil, err
	}
	var total int64
	if err := resultScalar(rep, "total", &total); err != nil {
		return 0, nil, err
	}
	return total, rep.Stats, nil
}

// GemmArgs are gemm's arguments in full: C = Alpha·op(A)·op(B) + Beta·C.
// C may be nil when Beta is 0.
type GemmArgs struct {
	A, B, C        *tensor.Tensor
	Alpha, Beta    float64
	TransA, TransB bool
}

// Gemm returns the matrix product a·b (f32 or f64 matrices).
func (c *Client) Gemm(ctx context.Context, a, b *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.GemmEx(ctx, GemmArgs{A: a, B: b, Alpha: 1}, o)
}

// GemmEx computes a gemm with every argument explicit.
func (c *Client) GemmEx(ctx context.Context, g GemmArgs, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	args := wire.Args{
		"a": wire.TensorValue(g.A), "b": wire.TensorValue(g.B),
		"alpha": wire.Float(g.Alpha), "beta": wire.Float(g.Beta),
		"trans_a": wire.Bool(g.TransA), "trans_b": wire.Bool(g.TransB),
	}
	if g.C != nil {
		args["c"] = wire.TensorValue(g.C)
	}
	out := 0
	if len(g.A.Shape) == 2 && len(g.B.Shape) == 2 {
		out = g.A.Shape[0] * g.B.Shape[1] * g.A.DType.Size() // a generous guess when transposed
		if g.TransA || g.TransB {
			out = max(g.A.Shape[0], g.A.Shape[1]) * max(g.B.Shape[0], g.B.Shape[1]) * g.A.DType.Size()
		}
	}
	rep, err := c.Do(ctx, &wire.Request{Op: "gemm", Args: args}, resultBytes(o, out))
	if err != nil {
		return nil, nil, err
	}
	t, err := resultTensor(rep, "c")
	return t, rep.Stats, err
}

// resultScalar decodes the JSON scalar result name into v.
func resultScalar(rep *wire.Reply, name string, v any) error {
	val, ok := rep.Result[name]
	if !ok || val.JSON == nil {
		return fmt.Errorf("client: reply %d has no scalar result %q", rep.ID, name)
	}
	if err := json.Unmarshal(val.JSON, v); err != nil {
		return fmt.Errorf("client: result %q: %w", name, err)
	}
	return nil
}

// resultTensor returns the tensor result name.
func resultTensor(rep *wire.Reply, name string) (*tensor.Tensor, error) {
	val, ok := rep.Result[name]
	if !ok || val.Tensor == nil {
		return nil, fmt.Errorf("client: reply %d has no tensor result %q", rep.ID, name)
	}
	return val.Tensor, nil
}
