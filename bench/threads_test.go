package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// BenchmarkThreads is one request on 1 and on 2 threads: the C kernel runs
// on a pool with two workers, and with threads=2 its pieces go to the
// calling worker and the idle one (the pool's runner), as a request with
// "threads": 2 does in the server. Same inputs, same results (bit for bit);
// only the wall time may differ. Each figure's unit is the op's own:
// GFLOP/s for gemm (2n³ per product), Mpixel/s for mandelbrot, GB/s of
// input for stats, GFLOP/s for the ffts (5 n log2 n per complex transform
// of n, that of the half-length complex transform for a real one), GMA/s
// (multiply-adds, edges counted whole) for conv2d, Melem/s for sort (each
// call first copies the unsorted input, about 3 ms of 10^7 f64, on the
// calling thread; the library sorts serially below 3 threads, so its two
// rows measure the same serial sort), GFLOP/s for solve (2n³/3).
func BenchmarkThreads(b *testing.B) {
	pool := executor.NewPool(executor.PoolConfig{Workers: 2})
	b.Cleanup(func() { pool.Close() })
	type bench struct {
		name   string
		kernel func(x *cgo.Ctx) error
		report func(b *testing.B)
	}
	var benches []bench
	for _, n := range []int{512, 2048} {
		a, bm, c := randF64(n*n), randF64(n*n), make([]float64, n*n)
		benches = append(benches, bench{
			fmt.Sprintf("op=gemm-f64/n=%d", n),
			func(x *cgo.Ctx) error { return cgo.GemmF64(x, false, false, n, n, n, 1, a, n, bm, n, 0, c, n) },
			func(b *testing.B) { reportGFLOPS(b, n) },
		})
	}
	const side, iters = 2048, 256
	counts := make([]uint32, side*side)
	benches = append(benches, bench{
		fmt.Sprintf("op=mandelbrot/size=%d/iter=%d", side, iters),
		func(x *cgo.Ctx) error { return cgo.Mandelbrot(x, side, side, -2, 1, -1.5, 1.5, iters, counts) },
		func(b *testing.B) {
			b.ReportMetric(float64(side*side)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpixel/s")
		},
	})
	const statsN = 100_000_000
	v := randF64(statsN)
	benches = append(benches, bench{
		"op=stats-f64/n=1e8",
		func(x *cgo.Ctx) error { _, err := cgo.StatsF64(x, v, 0); return err },
		func(b *testing.B) { reportGBs(b, 8*statsN) },
	})
	const fftN = 1 << 20
	fx, fy := randC128(fftN), make([]complex128, fftN)
	benches = append(benches, bench{
		fmt.Sprintf("op=fft-c128/n=%d", fftN),
		func(x *cgo.Ctx) error { return cgo.FFTC128(x, false, cgo.FFTBackward, 1, fftN, fx, fy) },
		func(b *testing.B) { reportFFT(b, fftN) },
	})
	rx := randF64(fftN)
	benches = append(benches, bench{
		fmt.Sprintf("op=fft-f64/n=%d", fftN),
		func(x *cgo.Ctx) error { return cgo.FFTF64(x, false, cgo.FFTBackward, 1, fftN, rx, fy) },
		func(b *testing.B) { reportFFT(b, fftN/2) },
	})
	const convSide, convK = 4096, 5
	img, ker, conv := randF64(convSide*convSide), randF64(convK*convK), make([]float64, convSide*convSide)
	benches = append(benches, bench{
		fmt.Sprintf("op=conv2d-f64/size=%d/kernel=%d", convSide, convK),
		func(x *cgo.Ctx) error {
			return cgo.Conv2DF64(x, cgo.ConvSame, convSide, convSide, img, convK, convK, ker, conv)
		},
		func(b *testing.B) { reportGMAs(b, convSide, convSide, convK, convK) },
	})
	const sortN = 10_000_000
	sortIn, sortW := randF64(sortN), make([]float64, sortN)
	benches = append(benches, bench{
		"op=sort-f64/n=1e7",
		func(x *cgo.Ctx) error { copy(sortW, sortIn); return cgo.SortF64(x, sortW, false) },
		func(b *testing.B) {
			b.ReportMetric(float64(sortN)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		},
	})
	const solveN = 2048
	sa, sb, sx := randF64(solveN*solveN), randF64(solveN), make([]float64, solveN)
	benches = append(benches, bench{
		fmt.Sprintf("op=solve-f64/n=%d", solveN),
		func(x *cgo.Ctx) error { return cgo.SolveF64(x, solveN, 1, sa, solveN, sb, 1, sx, 1) },
		func(b *testing.B) { reportSolveGFLOPS(b, solveN) },
	})
	for _, bn := range benches {
		for _, threads := range []int{1, 2} {
			op := &kernels.Op{Name: "threads", Impls: []string{kernels.ImplC}}
			call := kernels.NewCall(op, 1, 1, map[string]kernels.RunFunc{
				kernels.ImplC: func(x *cgo.Ctx, _ kernels.Out) (wire.Result, error) {
					return wire.Result{}, bn.kernel(x)
				},
			})
			job := &executor.Job{Call: call, Impl: kernels.ImplC, Threads: threads}
			b.Run(fmt.Sprintf("%s/threads=%d", bn.name, threads), func(b *testing.B) {
				for b.Loop() {
					if _, err := pool.Run(context.Background(), job); err != nil {
						b.Fatal(err)
					}
				}
				bn.report(b)
			})
		}
	}
}
