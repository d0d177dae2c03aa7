package client

import (
	"context"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Sort returns x (a vector of i32, i64, u32, f32 or f64) sorted ascending,
// or descending: NaN last in either direction, -0 before +0 ascending and
// after it descending. x itself is not modified. An x holding NaN or ±Inf
// must travel in binary form (the default; not Options.Text).
func (c *Client) Sort(ctx context.Context, x *tensor.Tensor, descending bool, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	rep, err := c.Do(ctx, &wire.Request{Op: "sort", Args: wire.Args{"x": wire.TensorValue(x), "descending": wire.Bool(descending)}}, o)
	if err != nil {
		return nil, nil, err
	}
	t, err := resultTensor(rep, "x")
	return t, rep.Stats, err
}
