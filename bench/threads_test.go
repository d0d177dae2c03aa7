package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/fftw"
	"github.com/crunchsvc/crunch/bench/openblas"
	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// BenchmarkThreads is one request on 1 thread and on all of them (one per
// CPU, runtime.NumCPU): the C kernel runs on a pool with a worker per
// CPU, and with threads > 1 its pieces go to the calling worker and the
// idle ones (the pool's runner), as a request with "threads" does in the
// server. Same inputs, same results (bit for bit); only the wall time may
// differ. Beside crunch (impl=c), gemm runs in OpenBLAS (-tags openblas)
// and the complex fft in FFTW (-tags fftw, an FFTW_MEASURE plan made
// before the timing, FFTW_ESTIMATE with -fftw-estimate) on the same thread counts. Every row calls
// untimed first (timeRow).
//
// Each figure's unit is the op's own: GFLOP/s for gemm (2n³ per product),
// Mpixel/s for mandelbrot, GB/s of input for stats, GFLOP/s for the ffts
// (5 n log2 n per complex transform of n, that of the half-length complex
// transform for a real one), GMA/s (multiply-adds, edges counted whole)
// for conv2d, Melem/s for sort (each call first copies the unsorted
// input, about 3 ms of 10^7 f64, on the calling thread; the library sorts
// serially below 3 threads, so on 2 CPUs its two rows measure the same
// serial sort), GFLOP/s for solve (2n³/3).
//
// crunchbench's threads mode runs it and tabulates it per op, the
// libraries beside crunch.
func BenchmarkThreads(b *testing.B) {
	all := runtime.NumCPU()
	pool := executor.NewPool(executor.PoolConfig{Workers: all})
	b.Cleanup(func() { pool.Close() })
	counts := []int{1}
	if all > 1 {
		counts = append(counts, all)
	}
	for _, op := range threadsOps() {
		b.Run(op.name, func(b *testing.B) {
			c := op.setup() // only for the ops the -bench pattern selects
			for _, threads := range counts {
				kop := &kernels.Op{Name: "threads", Impls: []string{kernels.ImplC}}
				call := kernels.NewCall(kop, 1, 1, map[string]kernels.RunFunc{
					kernels.ImplC: func(x *cgo.Ctx, _ kernels.Out) (wire.Result, error) {
						return wire.Result{}, c.kernel(x)
					},
				})
				job := &executor.Job{Call: call, Impl: kernels.ImplC, Threads: threads}
				b.Run(fmt.Sprintf("impl=c/threads=%d", threads), func(b *testing.B) {
					timeRow(b, c.report, func() error { _, err := pool.Run(context.Background(), job); return err })
				})
			}
			if c.lib == "" {
				return
			}
			for _, threads := range counts {
				b.Run(fmt.Sprintf("impl=%s/threads=%d", c.lib, threads), func(b *testing.B) {
					call, done := c.libCall(threads)
					defer done()
					timeRow(b, c.report, func() error { call(); return nil })
				})
			}
		})
	}
}

// rowWarmup is how long a row calls untimed before its timing: at least
// one call (the first of an op pays for page faults and plans), and for
// short calls enough of them to time warm calls. A fresh process's first
// row warms up for firstWarmup: gemm 512 on one thread, the first row of
// crunchbench's quick run (which runs this benchmark once per process),
// took 5.3-8.6 ms a call after 100 ms of warm-up, against 2.8-3.3 ms in the
// same process's later runs.
const (
	rowWarmup   = 100 * time.Millisecond
	firstWarmup = time.Second
)

// warmedUp is set once a row of this process has warmed up.
var warmedUp bool

// timeRow times call after calling it untimed for rowWarmup (firstWarmup
// in the process's first row).
func timeRow(b *testing.B, report func(*testing.B), call func() error) {
	warmup := rowWarmup
	if !warmedUp {
		warmup, warmedUp = firstWarmup, true
	}
	for start := time.Now(); ; {
		if err := call(); err != nil {
			b.Fatal(err)
		}
		if time.Since(start) >= warmup {
			break
		}
	}
	for b.Loop() {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
	report(b)
}

// threadsOp is one op of BenchmarkThreads, named as its rows are.
type threadsOp struct {
	name  string
	setup func() threadsCase // makes the inputs
}

// threadsCase is an op with its inputs.
type threadsCase struct {
	kernel func(x *cgo.Ctx) error // crunch's call
	report func(b *testing.B)     // the op's unit
	// lib names the library compared (the impl of its rows), "" for none
	// or when this build does not link it; libCall readies its call on
	// threads threads, and done undoes that.
	lib     string
	libCall func(threads int) (call, done func())
}

// threadsOps lists the ops of BenchmarkThreads.
func threadsOps() []threadsOp {
	var ops []threadsOp
	for _, n := range []int{512, 2048} {
		ops = append(ops, threadsOp{fmt.Sprintf("op=gemm-f64/n=%d", n), func() threadsCase {
			a, bm, c := randF64(n*n), randF64(n*n), make([]float64, n*n)
			tc := threadsCase{
				kernel: func(x *cgo.Ctx) error { return cgo.GemmF64(x, false, false, n, n, n, 1, a, n, bm, n, 0, c, n) },
				report: func(b *testing.B) { reportGFLOPS(b, n) },
			}
			if openblas.Available {
				tc.lib = "openblas"
				tc.libCall = func(threads int) (func(), func()) {
					openblas.SetThreads(threads)
					return func() { openblas.GemmF64(n, a, bm, c) }, func() { openblas.SetThreads(1) }
				}
			}
			return tc
		}})
	}
	const side, iters = 2048, 256
	ops = append(ops, threadsOp{fmt.Sprintf("op=mandelbrot/size=%d/iter=%d", side, iters), func() threadsCase {
		counts := make([]uint32, side*side)
		return threadsCase{
			kernel: func(x *cgo.Ctx) error { return cgo.Mandelbrot(x, side, side, -2, 1, -1.5, 1.5, iters, counts) },
			report: func(b *testing.B) {
				b.ReportMetric(float64(side*side)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpixel/s")
			},
		}
	}})
	const statsN = 100_000_000
	ops = append(ops, threadsOp{"op=stats-f64/n=1e8", func() threadsCase {
		v := randF64(statsN)
		return threadsCase{
			kernel: func(x *cgo.Ctx) error { _, err := cgo.StatsF64(x, v, 0); return err },
			report: func(b *testing.B) { reportGBs(b, 8*statsN) },
		}
	}})
	const fftN = 1 << 20
	ops = append(ops, threadsOp{fmt.Sprintf("op=fft-c128/n=%d", fftN), func() threadsCase {
		fx, fy := randC128(fftN), make([]complex128, fftN)
		tc := threadsCase{
			kernel: func(x *cgo.Ctx) error { return cgo.FFTC128(x, false, cgo.FFTBackward, 1, fftN, fx, fy) },
			report: func(b *testing.B) { reportFFT(b, fftN) },
		}
		if fftw.Available {
			tc.lib = "fftw"
			tc.libCall = func(threads int) (func(), func()) {
				p := fftwPlanC128(fftN, threads)
				copy(p.In128(), fx) // after planning: FFTW_MEASURE overwrites the arrays
				return p.Execute, p.Destroy
			}
		}
		return tc
	}})
	ops = append(ops, threadsOp{fmt.Sprintf("op=fft-f64/n=%d", fftN), func() threadsCase {
		rx, fy := randF64(fftN), make([]complex128, fftN)
		return threadsCase{
			kernel: func(x *cgo.Ctx) error { return cgo.FFTF64(x, false, cgo.FFTBackward, 1, fftN, rx, fy) },
			report: func(b *testing.B) { reportFFT(b, fftN/2) },
		}
	}})
	const convSide, convK = 4096, 5
	ops = append(ops, threadsOp{fmt.Sprintf("op=conv2d-f64/size=%d/kernel=%d", convSide, convK), func() threadsCase {
		img, ker, conv := randF64(convSide*convSide), randF64(convK*convK), make([]float64, convSide*convSide)
		return threadsCase{
			kernel: func(x *cgo.Ctx) error {
				return cgo.Conv2DF64(x, cgo.ConvSame, convSide, convSide, img, convK, convK, ker, conv)
			},
			report: func(b *testing.B) { reportGMAs(b, convSide, convSide, convK, convK) },
		}
	}})
	const sortN = 10_000_000
	ops = append(ops, threadsOp{"op=sort-f64/n=1e7", func() threadsCase {
		in, w := randF64(sortN), make([]float64, sortN)
		return threadsCase{
			kernel: func(x *cgo.Ctx) error { copy(w, in); return cgo.SortF64(x, w, false) },
			report: func(b *testing.B) {
				b.ReportMetric(float64(sortN)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
			},
		}
	}})
	const solveN = 2048
	ops = append(ops, threadsOp{fmt.Sprintf("op=solve-f64/n=%d", solveN), func() threadsCase {
		a, rhs, x := randF64(solveN*solveN), randF64(solveN), make([]float64, solveN)
		return threadsCase{
			kernel: func(c *cgo.Ctx) error { return cgo.SolveF64(c, solveN, 1, a, solveN, rhs, 1, x, 1) },
			report: func(b *testing.B) { reportSolveGFLOPS(b, solveN) },
		}
	}})
	return ops
}
