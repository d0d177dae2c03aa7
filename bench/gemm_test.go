package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/crunchsvc/crunch/bench/openblas"
	"github.com/crunchsvc/crunch/cgo"
)

var gemmSizes = []int{64, 100, 256, 1024}

func randF64(n int) []float64 {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	s := make([]float64, n)
	for i := range s {
		s[i] = r.Float64()
	}
	return s
}

// reportGFLOPS adds a GFLOP/s column: 2n³ flops per n×n product.
func reportGFLOPS(b *testing.B, n int) {
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemmF64 compares, single-threaded, crunch's C gemm on each SIMD
// path, gonum's pure-Go gemm and OpenBLAS (with -tags openblas).
func BenchmarkGemmF64(b *testing.B) {
	for _, n := range gemmSizes {
		a, bm, c := randF64(n*n), randF64(n*n), make([]float64, n*n)
		benchEachISA(b, fmt.Sprintf("/n=%d", n), func(x *cgo.Ctx) error {
			return cgo.GemmF64(x, false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
		}, func(b *testing.B) { reportGFLOPS(b, n) })
		b.Run(fmt.Sprintf("impl=gonum/n=%d", n), func(b *testing.B) {
			// gonum parallelises large products over GOMAXPROCS goroutines:
			// pin it to one for a single-threaded comparison.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			ga := blas64.General{Rows: n, Cols: n, Stride: n, Data: a}
			gb := blas64.General{Rows: n, Cols: n, Stride: n, Data: bm}
			gc := blas64.General{Rows: n, Cols: n, Stride: n, Data: c}
			for b.Loop() {
				blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc)
			}
			reportGFLOPS(b, n)
		})
		benchOpenBLAS(b, n, func() { openblas.GemmF64(n, a, bm, c) })
	}
}

// BenchmarkGemmF32 is BenchmarkGemmF64 for float32, C against OpenBLAS.
func BenchmarkGemmF32(b *testing.B) {
	for _, n := range gemmSizes {
		a64, b64 := randF64(n*n), randF64(n*n)
		a, bm, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range a {
			a[i], bm[i] = float32(a64[i]), float32(b64[i])
		}
		b.Run(fmt.Sprintf("impl=c-%s/n=%d", cgo.BestISA(), n), func(b *testing.B) {
			for b.Loop() {
				if err := cgo.GemmF32(nil, false, false, n, n, n, 1, a, n, bm, n, 0, c, n); err != nil {
					b.Fatal(err)
				}
			}
			reportGFLOPS(b, n)
		})
		benchOpenBLAS(b, n, func() { openblas.GemmF32(n, a, bm, c) })
	}
}

// benchOpenBLAS runs gemm, an n×n product, as impl=openblas when the
// build has OpenBLAS (-tags openblas).
func benchOpenBLAS(b *testing.B, n int, gemm func()) {
	if !openblas.Available {
		return
	}
	b.Run(fmt.Sprintf("impl=openblas/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			gemm()
		}
		reportGFLOPS(b, n)
	})
}

// BenchmarkModsum measures the reference loop: C on each path against Go.
func BenchmarkModsum(b *testing.B) {
	const iters = 10_000_000
	benchEachISA(b, "", func(x *cgo.Ctx) error {
		_, err := cgo.Modsum(x, 7, iters)
		return err
	}, func(b *testing.B) {
		b.ReportMetric(float64(iters)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Giter/s")
	})
}
