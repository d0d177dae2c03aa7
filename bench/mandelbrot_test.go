package bench

import (
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

// The benchmark's view: 1024x1024 pixels over [-2, 1] x [-1.5, 1.5], at most
// 256 iterations each (47.5 iterations per pixel on average; 17% of the
// pixels are in the set and run all 256).
const (
	mbW, mbH                       = 1024, 1024
	mbXMin, mbXMax, mbYMin, mbYMax = -2.0, 1.0, -1.5, 1.5
	mbMaxIter                      = 256
)

// reportIters adds a Giter/s column: escape-loop iterations per second,
// counting a pixel's count as its iterations (what both implementations
// run, up to the last vector's stragglers in C).
func reportIters(b *testing.B, counts []uint32) {
	var n float64
	for _, c := range counts {
		n += float64(c)
	}
	b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds()/1e9, "Giter/s")
}

// BenchmarkMandelbrot renders the mb view, single-threaded, with C on its
// best path (impl=c) and plain Go (impl=go): impl=c is expected to run at
// least 4 times faster than impl=go. impl=c-ISA runs C on each SIMD
// path this CPU has.
func BenchmarkMandelbrot(b *testing.B) {
	counts := make([]uint32, mbW*mbH)
	runC := func(isa cgo.ISA) func(b *testing.B) {
		return func(b *testing.B) {
			x := cgo.NewCtx()
			for b.Loop() {
				x.Reset()
				x.SetISA(isa)
				if err := cgo.Mandelbrot(x, mbW, mbH, mbXMin, mbXMax, mbYMin, mbYMax, mbMaxIter, counts); err != nil {
					b.Fatal(err)
				}
			}
			reportIters(b, counts)
		}
	}
	b.Run("impl=c", runC(cgo.ISAAuto))
	b.Run("impl=go", func(b *testing.B) {
		for b.Loop() {
			if err := kernels.MandelbrotGo(nil, mbW, mbH, mbXMin, mbXMax, mbYMin, mbYMax, mbMaxIter, counts); err != nil {
				b.Fatal(err)
			}
		}
		reportIters(b, counts)
	})
	for _, isa := range cgo.ISAs() {
		b.Run("impl=c-"+isa.String(), runC(isa))
	}
}
