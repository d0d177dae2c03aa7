package client

import (
	"context"
	"fmt"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// StatsResult is what the stats op computes over every element of a
// tensor. A NaN or ±Inf result travels as a shape [] f64 tensor (so the
// reply is binary); it arrives here as the float it is.
type StatsResult struct {
	Count int64
	Sum   float64
	Mean  float64
	Var   float64 // sum of squared deviations / (Count - ddof)
	Std   float64
	Min   float64
	Max   float64
}

// Stats returns the count, sum, mean, variance (dividing by count - ddof),
// standard deviation, minimum and maximum of x, an f32 or f64 tensor of any
// shape. ddof must be 0 <= ddof < count (any ddof >= 0 for an empty x).
func (c *Client) Stats(ctx context.Context, x *tensor.Tensor, ddof int64, o *Options) (*StatsResult, *wire.Stats, error) {
	rep, err := c.Do(ctx, &wire.Request{Op: "stats", Args: wire.Args{"x": wire.TensorValue(x), "ddof": wire.Int(ddof)}}, resultBytes(o, 8*8))
	if err != nil {
		return nil, nil, err
	}
	var r StatsResult
	if err := resultScalar(rep, "count", &r.Count); err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"sum", &r.Sum}, {"mean", &r.Mean}, {"var", &r.Var}, {"std", &r.Std}, {"min", &r.Min}, {"max", &r.Max}} {
		if _, ok := rep.Result[f.name]; !ok {
			return nil, nil, fmt.Errorf("client: stats reply %d has no result %q", rep.ID, f.name)
		}
		v, err := rep.Result.Float(f.name, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("client: stats reply %d: %w", rep.ID, err)
		}
		*f.dst = v
	}
	return &r, rep.Stats, nil
}
