package client

// Over the Unix socket the server writes result tensors into shared
// memory that the request offers (Options.ResultBytes). An <Op>Args with a
// resultSize method says how many bytes its op's results take; without
// one, the request offers as many as its tensor arguments take. A wrong
// size costs only speed: results that do not fit come in the reply.

// resultSize is gemm's [m,n] result.
func (a GemmArgs) resultSize() int {
	if a.A == nil || a.B == nil || len(a.A.Shape) != 2 || len(a.B.Shape) != 2 {
		return 0
	}
	if (a.TransA != nil && *a.TransA) || (a.TransB != nil && *a.TransB) {
		// A generous guess.
		return max(a.A.Shape[0], a.A.Shape[1]) * max(a.B.Shape[0], a.B.Shape[1]) * a.A.DType.Size()
	}
	return a.A.Shape[0] * a.B.Shape[1] * a.A.DType.Size()
}

// resultSize is fft's complex result, at most c128.
func (a FFTArgs) resultSize() int {
	if a.X == nil {
		return 0
	}
	return 16 * a.X.Len()
}

// resultSize is conv2d's result in mode full, the largest.
func (a Conv2DArgs) resultSize() int {
	if a.Image == nil || a.Kernel == nil || len(a.Image.Shape) != 2 || len(a.Kernel.Shape) != 2 {
		return 0
	}
	return (a.Image.Shape[0] + a.Kernel.Shape[0]) * (a.Image.Shape[1] + a.Kernel.Shape[1]) * a.Image.DType.Size()
}

// resultSize is room for stats' results should they come as shape []
// tensors (a NaN or ±Inf does).
func (a StatsArgs) resultSize() int { return 8 * 8 }

// resultSize is mandelbrot's u32 counts.
func (a MandelbrotArgs) resultSize() int {
	if a.Width <= 0 || a.Height <= 0 || a.Width > 1<<31 || a.Height > 1<<31 {
		return 0
	}
	return int(4 * a.Width * a.Height)
}
