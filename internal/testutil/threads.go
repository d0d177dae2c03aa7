package testutil

import (
	"math"

	"github.com/crunchsvc/crunch/service/tensor"
)

// ThreadsInputs returns arguments on which gemm, conv2d and fft split
// their work into several pieces on a runner, for the tests that compare
// their results on one thread and on more: a and b are 600×600 f64 (600³
// multiply-adds, above gemm's parallel threshold), k a 7×7 kernel for
// conv2d over a, x 64 rows of 4096 for fft.
func ThreadsInputs() (a, b, k, x *tensor.Tensor) {
	const n = 600
	a, _ = tensor.New(tensor.F64, n, n)
	b, _ = tensor.New(tensor.F64, n, n)
	for i := range a.Float64() {
		a.Float64()[i] = math.Sin(float64(i))
		b.Float64()[i] = math.Cos(float64(3 * i))
	}
	k, _ = tensor.New(tensor.F64, 7, 7)
	copy(k.Float64(), b.Float64())
	x, _ = tensor.New(tensor.F64, 64, 4096)
	for i := range x.Float64() {
		x.Float64()[i] = math.Sin(float64(i) * 0.001)
	}
	return a, b, k, x
}
