package client

import (
	"context"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Solve returns x solving a·x = b: a is an f64 [n,n] matrix, b an f64 [n]
// vector or [n,k] matrix, and x has b's shape. A singular or nearly
// singular a (estimated condition number above 2^52), or NaN or Inf in a
// or b, is a *wire.Error with code numerical.
func (c *Client) Solve(ctx context.Context, a, b *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	rep, err := c.Do(ctx, &wire.Request{Op: "solve", Args: wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b)}}, o)
	if err != nil {
		return nil, nil, err
	}
	t, err := resultTensor(rep, "x")
	return t, rep.Stats, err
}
