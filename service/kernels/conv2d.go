package kernels

import (
	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// conv2dOp is the true 2-D convolution, as scipy.signal.convolve2d.
var conv2dOp = &Op{
	Name:    "conv2d",
	Summary: "2-D convolution, as scipy.signal.convolve2d",
	Doc: "2-D convolution of image by kernel (the kernel flipped), as scipy.signal.convolve2d with " +
		"zero fill: mode full, same (centred, image-sized) or valid (where the kernel fits); " +
		"NaN and Inf propagate only through the terms that meet the image",
	Params: []Param{
		{Name: "image", Kind: "tensor", DTypes: []string{"f32", "f64"}, Ranks: []int{2}, Shape: "[h,w]", Required: true,
			Doc: "the image; h or w may be 0 (the output is then zeros)"},
		{Name: "kernel", Kind: "tensor", DTypes: []string{"f32", "f64"}, SameDType: "image", Ranks: []int{2}, Shape: "[kh,kw]", Required: true,
			Doc: "the kernel, image's dtype, kh and kw >= 1; it may be larger than the image"},
		{Name: "mode", Kind: "string", Default: "same", Values: []string{"same", "valid", "full"},
			Doc: "full: [h+kh-1,w+kw-1]; same: [h,w], full's rows from (kh-1)//2 and columns from (kw-1)//2; " +
				"valid: [max(h-kh+1,0),max(w-kw+1,0)]"},
	},
	Results: []Param{{Name: "out", Kind: "tensor", DTypes: []string{"f32", "f64"}, Shape: "per mode",
		Doc: "the convolution, image's dtype (f32 computed in f32)"}},
	Impls: []string{ImplC, ImplGo},
	Bind:  prepareConv2D,
}

func init() { defaultRegistry.Register(conv2dOp) }

func prepareConv2D(args Args) (*Call, error) {
	img, ker := args.Tensor("image"), args.Tensor("kernel")
	mode, err := cgo.ParseConvMode(args.String("mode"))
	if err != nil { // Params lists the modes cgo knows
		return nil, wire.Errorf(wire.Internal, "conv2d: %v", err)
	}
	h, w, kh, kw := img.Shape[0], img.Shape[1], ker.Shape[0], ker.Shape[1]
	if kh == 0 || kw == 0 {
		return nil, invalidf("conv2d: kernel is %s; it must not be empty", tensor.FormatShape(ker.Shape))
	}
	oh, ow, _, _, err := cgo.Conv2DShape(mode, h, w, kh, kw)
	if err != nil {
		return nil, wire.Errorf(wire.TooLarge, "conv2d: image %s, kernel %s: %v",
			tensor.FormatShape(img.Shape), tensor.FormatShape(ker.Shape), err)
	}
	run := func(impl func(*cgo.Ctx, *tensor.Tensor) error) RunFunc {
		return func(c *cgo.Ctx, o Out) (wire.Result, error) {
			// Every output is zeroed, then summed into: read back for
			// arithmetic only.
			out, err := o.Tensor("out", img.DType, Exposed, oh, ow)
			if err != nil {
				return nil, wire.Errorf(wire.TooLarge, "conv2d: result [%d,%d]: %v", oh, ow, err)
			}
			if err := impl(c, out); err != nil {
				return nil, fromC("conv2d", err)
			}
			return wire.Result{"out": wire.TensorValue(out)}, nil
		}
	}
	impls := map[string]RunFunc{}
	if img.DType == tensor.F64 {
		impls[ImplC] = run(func(c *cgo.Ctx, o *tensor.Tensor) error {
			return cgo.Conv2DF64(c, mode, h, w, img.Float64(), kh, kw, ker.Float64(), o.Float64())
		})
		impls[ImplGo] = run(func(c *cgo.Ctx, o *tensor.Tensor) error {
			return Conv2DGo(c, mode, h, w, img.Float64(), kh, kw, ker.Float64(), o.Float64())
		})
	} else {
		impls[ImplC] = run(func(c *cgo.Ctx, o *tensor.Tensor) error {
			return cgo.Conv2DF32(c, mode, h, w, img.Float32(), kh, kw, ker.Float32(), o.Float32())
		})
		impls[ImplGo] = run(func(c *cgo.Ctx, o *tensor.Tensor) error {
			return Conv2DGo(c, mode, h, w, img.Float32(), kh, kw, ker.Float32(), o.Float32())
		})
	}
	// Work: the C kernel's multiply-adds, kw per kernel row that meets the
	// image (at most min(kh, h)) per output.
	work := float64(oh) * float64(ow) * float64(min(kh, h)) * float64(kw)
	return &Call{Work: work, OutElems: float64(oh) * float64(ow), run: impls}, nil
}

// Conv2DGo is the Go implementation of conv2d, with crunch_conv2d_f64's
// contract: out (the shape cgo.Conv2DShape gives, row-major) receives the
// convolution of the h x w image by the kh x kw kernel in mode m. Each
// output row is zeroed, then every tap (p, q) of every kernel row that
// meets the image adds kernel[p][q] times a run of image row i-p to the
// columns it reaches (an axpy, clipped to the image): the definition's
// terms only, in the C kernels' order (p, then q). It polls x for
// cancellation before each kernel row of each output row and reports
// progress in output elements.
func Conv2DGo[T float32 | float64](x *cgo.Ctx, m cgo.ConvMode, h, w int, image []T, kh, kw int, kernel, out []T) error {
	oh, ow, r0, c0, err := cgo.Conv2DShape(m, h, w, kh, kw)
	if err != nil {
		return err
	}
	if len(image) < h*w || len(kernel) < kh*kw || len(out) < oh*ow {
		return cgo.ErrInvalid
	}
	x.Begin(int64(oh) * int64(ow))
	if oh*ow == 0 {
		return nil
	}
	for r := range oh {
		o := out[r*ow : (r+1)*ow]
		clear(o)
		i := r + r0 // the row of the full convolution
		// kernel rows p with 0 <= i-p < h
		for p := max(0, i-h+1); p <= min(kh-1, i); p++ {
			if x.Canceled() {
				return canceled
			}
			src := image[(i-p)*w : (i-p+1)*w]
			for q, kv := range kernel[p*kw : (p+1)*kw] {
				// column c reads image column c+c0-q, which must be in [0, w)
				lo, hi := max(0, q-c0), min(ow, w+q-c0)
				if lo >= hi {
					continue
				}
				dst, s := o[lo:hi], src[lo+c0-q:hi+c0-q]
				s = s[:len(dst)] // one length for both: no bounds checks in the loop
				for c, v := range s {
					dst[c] += kv * v
				}
			}
		}
		x.Add(int64(ow))
	}
	return nil
}
