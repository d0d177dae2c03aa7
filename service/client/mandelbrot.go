package client

import (
	"context"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// MandelbrotView is the grid a mandelbrot call renders: Height rows of
// Width pixels, the pixel in row r, column j sampling
// c = (XMin + (XMax-XMin)*j/Width) + i(YMin + (YMax-YMin)*r/Height), each
// iterated at most MaxIter times (1 <= MaxIter <= 2^31).
type MandelbrotView struct {
	Width, Height          int
	XMin, XMax, YMin, YMax float64
	MaxIter                int64
}

// Mandelbrot returns the escape counts of v's pixels, a u32 tensor of
// shape [Height, Width]: for each pixel the smallest k >= 1 with
// |z_k|^2 > 4 (z_0 = 0, z_{k+1} = z_k^2 + c), or MaxIter if there is none
// below it. Implementations c and go give identical counts.
func (c *Client) Mandelbrot(ctx context.Context, v MandelbrotView, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	rep, err := c.Do(ctx, &wire.Request{Op: "mandelbrot", Args: wire.Args{
		"width": wire.Int(int64(v.Width)), "height": wire.Int(int64(v.Height)),
		"x_min": wire.Float(v.XMin), "x_max": wire.Float(v.XMax),
		"y_min": wire.Float(v.YMin), "y_max": wire.Float(v.YMax),
		"max_iter": wire.Int(v.MaxIter),
	}}, resultBytes(o, 4*v.Width*v.Height))
	if err != nil {
		return nil, nil, err
	}
	t, err := resultTensor(rep, "counts")
	return t, rep.Stats, err
}
