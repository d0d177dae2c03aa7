package client

import (
	"context"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// The short forms of the generated methods (ops_generated.go) for the
// common calls: each fills an <Op>Args and calls <Op>Ex, so argument
// names, defaults and results stay those of the definitions.

// Modsum returns Σ over 0 <= i < iters of (i·n) mod 97, computed by the
// server (ModsumEx).
func (c *Client) Modsum(ctx context.Context, n, iters int64, o *Options) (int64, *wire.Stats, error) {
	return c.ModsumEx(ctx, ModsumArgs{N: n, Iters: &iters}, o)
}

// Gemm returns the matrix product a·b of f32 or f64 matrices (GemmEx with
// the other arguments' defaults).
func (c *Client) Gemm(ctx context.Context, a, b *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.GemmEx(ctx, GemmArgs{A: a, B: b}, o)
}

// FFT returns the discrete Fourier transform of each row of x, as
// numpy.fft.fft(x) along the last axis (FFTEx). x is not modified. An x
// holding NaN or ±Inf must travel in binary form (not Options.Text).
func (c *Client) FFT(ctx context.Context, x *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.FFTEx(ctx, FFTArgs{X: x}, o)
}

// IFFT returns the inverse transform of each row of x, as
// numpy.fft.ifft(x) along the last axis (see FFT).
func (c *Client) IFFT(ctx context.Context, x *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.FFTEx(ctx, FFTArgs{X: x, Inverse: new(true)}, o)
}

// Stats returns the count, sum, mean, variance (dividing by count - ddof),
// standard deviation, minimum and maximum of x (StatsEx).
func (c *Client) Stats(ctx context.Context, x *tensor.Tensor, ddof int64, o *Options) (*StatsResult, *wire.Stats, error) {
	return c.StatsEx(ctx, StatsArgs{X: x, Ddof: &ddof}, o)
}

// Sort returns x sorted ascending, or descending, NaN last (SortEx). An x
// holding NaN or ±Inf must travel in binary form (not Options.Text).
func (c *Client) Sort(ctx context.Context, x *tensor.Tensor, descending bool, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.SortEx(ctx, SortArgs{X: x, Descending: &descending}, o)
}

// Solve returns x solving a·x = b (SolveEx); a singular a is a *wire.Error
// with code numerical.
func (c *Client) Solve(ctx context.Context, a, b *tensor.Tensor, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.SolveEx(ctx, SolveArgs{A: a, B: b}, o)
}

// Conv2D returns the 2-D convolution of image by kernel, as
// scipy.signal.convolve2d, in mode "full", "same" or "valid"; "" sends
// none, and the server takes its default (Conv2DEx).
func (c *Client) Conv2D(ctx context.Context, image, kernel *tensor.Tensor, mode string, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	a := Conv2DArgs{Image: image, Kernel: kernel}
	if mode != "" {
		a.Mode = &mode
	}
	return c.Conv2DEx(ctx, a, o)
}

// MandelbrotView is the grid a mandelbrot call renders, every argument
// given: Height rows of Width pixels, the pixel in row r, column j sampling
// c = (XMin + (XMax-XMin)*j/Width) + i(YMin + (YMax-YMin)*r/Height), each
// iterated at most MaxIter times. MandelbrotArgs leaves any of them to
// its default.
type MandelbrotView struct {
	Width, Height          int
	XMin, XMax, YMin, YMax float64
	MaxIter                int64
}

// Mandelbrot returns the escape counts of v's pixels, a u32 tensor of
// shape [Height, Width] (MandelbrotEx).
func (c *Client) Mandelbrot(ctx context.Context, v MandelbrotView, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	return c.MandelbrotEx(ctx, MandelbrotArgs{
		Width: int64(v.Width), Height: int64(v.Height),
		XMin: &v.XMin, XMax: &v.XMax, YMin: &v.YMin, YMax: &v.YMax, MaxIter: &v.MaxIter,
	}, o)
}
