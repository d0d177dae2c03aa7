package client

import (
	"context"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Conv2D returns the 2-D convolution of image by kernel (the kernel
// flipped), as scipy.signal.convolve2d: both [h,w] and [kh,kw] tensors of
// the same dtype, f32 or f64, the kernel non-empty. mode is "full", "same"
// or "valid"; "" sends none, which the server takes as "same". The result
// has image's dtype and the mode's shape: [h+kh-1,w+kw-1] for full,
// [h,w] for same, [max(h-kh+1,0),max(w-kw+1,0)] for valid.
func (c *Client) Conv2D(ctx context.Context, image, kernel *tensor.Tensor, mode string, o *Options) (*tensor.Tensor, *wire.Stats, error) {
	args := wire.Args{"image": wire.TensorValue(image), "kernel": wire.TensorValue(kernel)}
	if mode != "" {
		args["mode"] = wire.String(mode)
	}
	out := 0
	if len(image.Shape) == 2 && len(kernel.Shape) == 2 { // full, the largest mode
		out = (image.Shape[0] + kernel.Shape[0]) * (image.Shape[1] + kernel.Shape[1]) * image.DType.Size()
	}
	rep, err := c.Do(ctx, &wire.Request{Op: "conv2d", Args: args}, resultBytes(o, out))
	if err != nil {
		return nil, nil, err
	}
	t, err := resultTensor(rep, "out")
	return t, rep.Stats, err
}
