package bench

import (
	"fmt"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

// conv2dSink keeps results alive so that no call is optimised away.
var conv2dSink float64

// reportGMAs adds a GMA/s column: the convolution's multiply-adds (kh*kw
// per output, image edges counted as whole) per second.
func reportGMAs(b *testing.B, oh, ow, kh, kw int) {
	b.ReportMetric(float64(oh)*float64(ow)*float64(kh*kw)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMA/s")
}

// benchConv2D runs one shape: C on every SIMD path (impl=c-<isa>) and the
// service's plain-Go implementation (impl=go), single-threaded, mode same.
func benchConv2D[T float32 | float64](b *testing.B, h, w, kh, kw int, conv func(*cgo.Ctx, []T, []T, []T) error) {
	img, ker := make([]T, h*w), make([]T, kh*kw)
	for i, v := range randF64(h * w) {
		img[i] = T(v)
	}
	for i, v := range randF64(kh * kw) {
		ker[i] = T(v)
	}
	out := make([]T, h*w)
	benchEachISA(b, "", func(c *cgo.Ctx) error { return conv(c, img, ker, out) }, func(b *testing.B) {
		conv2dSink += float64(out[len(out)/2])
		reportGMAs(b, h, w, kh, kw)
	})
	b.Run("impl=go", func(b *testing.B) {
		for b.Loop() {
			if err := kernels.Conv2DGo(nil, cgo.ConvSame, h, w, img, kh, kw, ker, out); err != nil {
				b.Fatal(err)
			}
		}
		conv2dSink += float64(out[len(out)/2])
		reportGMAs(b, h, w, kh, kw)
	})
}

// BenchmarkConv2DF64 has a target: a 1024 x 1024 f64 image
// with a 5 x 5 kernel, mode same, single-threaded; impl=c (best path) at
// least 5x impl=go, the plain Go loop nest (an axpy per tap and row).
func BenchmarkConv2DF64(b *testing.B) {
	const n, k = 1024, 5
	benchConv2D(b, n, n, k, k, func(c *cgo.Ctx, img, ker, out []float64) error {
		return cgo.Conv2DF64(c, cgo.ConvSame, n, n, img, k, k, ker, out)
	})
}

// BenchmarkConv2DF32 is BenchmarkConv2DF64 in float32.
func BenchmarkConv2DF32(b *testing.B) {
	const n, k = 1024, 5
	benchConv2D(b, n, n, k, k, func(c *cgo.Ctx, img, ker, out []float32) error {
		return cgo.Conv2DF32(c, cgo.ConvSame, n, n, img, k, k, ker, out)
	})
}

// BenchmarkConv2DKernels: a 63 x 63 kernel over a 256 x 256 f64 image,
// mode same, and a 3 x 3 one, the other end.
func BenchmarkConv2DKernels(b *testing.B) {
	const n = 256
	for _, k := range []int{3, 63} {
		b.Run(fmt.Sprintf("k=%dx%d", k, k), func(b *testing.B) {
			benchConv2D(b, n, n, k, k, func(c *cgo.Ctx, img, ker, out []float64) error {
				return cgo.Conv2DF64(c, cgo.ConvSame, n, n, img, k, k, ker, out)
			})
		})
	}
}
