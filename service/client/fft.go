package client

import (
	"context"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// FFTArgs are fft's arguments in full.
type FFTArgs struct {
	// X is the signal: [n] or [batch,n], any n >= 1. Complex (c64, c128)
	// or real; real input is promoted (f32 to c64, others to c128).
	X *tensor.Tensor
	// Inverse asks for numpy.fft.ifft instead of numpy.fft.fft.
	Inverse bool
	// Norm is NumPy's norm: "backward" (the default when empty), "ortho"
	// or "forward".
	Norm string
}

// FFT returns the discrete Fourier transform of each row of x, as
// numpy.fft.fft(x) along the last axis: complex, with x's shape (c64 for
// c64 and f32 input, c128 otherwise). x is not modified. An x holding NaN
// or ±Inf must travel in binary form (the default; not Options.Text).
func (c *Client) FFT(ctx context.Context, x *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.FFTEx(ctx, FFTArgs{X: x}, o)
}

// IFFT returns the inverse transform of each row of x, as
// numpy.fft.ifft(x) along the last axis (see FFT).
func (c *Client) IFFT(ctx context.Context, x *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.FFTEx(ctx, FFTArgs{X: x, Inverse: true}, o)
}

// FFTEx computes an fft with every argument explicit.
func (c *Client) FFTEx(ctx context.Context, a FFTArgs, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	args := wire.Args{"x": wire.TensorValue(a.X), "inverse": wire.Bool(a.Inverse)}
	if a.Norm != "" {
		args["norm"] = wire.String(a.Norm)
	}
	rep, err := c.Do(ctx, &wire.Request{Op: "fft", Args: args}, resultBytes(o, 16*a.X.Len())) // c128 at most
	if err != nil {
		return nil, nil, err
	}
	t, err := resultTensor(rep, "y")
	return t, rep.Stats, err
}
