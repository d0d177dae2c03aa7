package bench

import (
	"fmt"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

var solveSizes = []int{256, 1024}

// reportSolveGFLOPS adds a GFLOP/s column counting the factorisation's
// 2n³/3 flops (the substitution's 2n² are noise at these sizes).
func reportSolveGFLOPS(b *testing.B, n int) {
	f := float64(n)
	b.ReportMetric(2*f*f*f/3*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSolve solves A x = b (one right-hand side, uniform random A,
// which needs pivoting) single-threaded: crunch's C kernel on the best
// SIMD path (impl=c), the service's gonum implementation (impl=gonum: gonum's
// LU, condition estimate and substitution, polled between panels), and
// gonum's mat.VecDense.SolveVec, which runs the same routines unpolled
// (impl=gonum-mat). Its target: impl=c at least 2x impl=gonum
// at n=1024. gonum parallelises its gemm over GOMAXPROCS goroutines: it
// is pinned to one here.
func BenchmarkSolve(b *testing.B) {
	for _, n := range solveSizes {
		a, rhs, x := randF64(n*n), randF64(n), make([]float64, n)
		for i := range a {
			a[i] = 2*a[i] - 1
		}
		b.Run(fmt.Sprintf("impl=c/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if err := cgo.SolveF64(nil, n, 1, a, n, rhs, 1, x, 1); err != nil {
					b.Fatal(err)
				}
			}
			reportSolveGFLOPS(b, n)
		})
		b.Run(fmt.Sprintf("impl=gonum/n=%d", n), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			for b.Loop() {
				if err := kernels.SolveGonum(nil, n, 1, a, rhs, x); err != nil {
					b.Fatal(err)
				}
			}
			reportSolveGFLOPS(b, n)
		})
		b.Run(fmt.Sprintf("impl=gonum-mat/n=%d", n), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			am, bv := mat.NewDense(n, n, a), mat.NewVecDense(n, rhs)
			var xv mat.VecDense
			for b.Loop() {
				if err := xv.SolveVec(am, bv); err != nil {
					b.Fatal(err)
				}
			}
			reportSolveGFLOPS(b, n)
		})
	}
}
