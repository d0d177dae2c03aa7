package bench

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crunchsvc/crunch/bench/fftw"
	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

// fftSizes: a small power of two, the benchmark's main size 2^16, the prime
// 2^16+1, which crunch's C library computes with Bluestein's algorithm, and
// 2^20 (16 MiB), beyond the caches, which it computes in four steps.
var fftSizes = []int{1 << 10, 1 << 16, 1<<16 + 1, 1 << 20}

// fftwEstimate is for a quick run: FFTW_MEASURE takes seconds a plan at
// 2^20.
var fftwEstimate = flag.Bool("fftw-estimate", false, "plan FFTW's transforms with FFTW_ESTIMATE (at once, but they may run slower) rather than FFTW_MEASURE")

// fftwWisdom names a file of FFTW's wisdom, shared by runs of this
// program one after another: crunchbench's threads mode runs it once per
// round, and an FFTW_MEASURE plan of 2^20 on two threads takes seconds.
var fftwWisdom = flag.String("fftw-wisdom", "", "read FFTW's wisdom (double precision) from this file before each plan, and write it back after")

// fftwPlanC128 makes a forward complex-double FFTW plan of n on threads
// threads, through the wisdom file of -fftw-wisdom when it is given.
func fftwPlanC128(n, threads int) *fftw.Plan {
	if *fftwWisdom != "" {
		fftw.ImportWisdom(*fftwWisdom) // none yet the first time
	}
	p := fftw.NewPlanC128(n, false, threads, fftwRigor())
	if *fftwWisdom != "" && !fftw.ExportWisdom(*fftwWisdom) {
		panic("fftw: cannot write the wisdom file " + *fftwWisdom)
	}
	return p
}

// fftwRigor is the FFTW planner's rigor after -fftw-estimate.
func fftwRigor() fftw.Rigor {
	if *fftwEstimate {
		return fftw.Estimate
	}
	return fftw.Measure
}

func randC128(n int) []complex128 {
	r := rand.New(rand.NewPCG(2, uint64(n)))
	s := make([]complex128, n)
	for i := range s {
		s[i] = complex(r.Float64()*2-1, r.Float64()*2-1)
	}
	return s
}

// reportFFT adds the conventional FFT rate, 5 n log2(n) flops per
// transform of length n (whatever algorithm actually runs).
func reportFFT(b *testing.B, n int) {
	flops := 5 * float64(n) * math.Log2(float64(n))
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkFFTC128 compares, single-threaded, forward out-of-place complex
// double transforms: crunch's C FFT on each SIMD path, gonum (crunch's
// gonum implementation: dsp/fourier's CmplxFFT, or Bluestein over it for
// lengths with a large prime factor) and FFTW with an FFTW_MEASURE plan
// (-tags fftw; FFTW_ESTIMATE with -fftw-estimate). Plans are made before the timing: crunch caches its own on
// the first call.
func BenchmarkFFTC128(b *testing.B) {
	for _, n := range fftSizes {
		x, y := randC128(n), make([]complex128, n)
		for _, isa := range cgo.ISAs() {
			b.Run(fmt.Sprintf("impl=c-%s/n=%d", isa, n), func(b *testing.B) {
				ctx := cgo.NewCtx()
				ctx.SetISA(isa)
				if err := cgo.FFTC128(ctx, false, cgo.FFTBackward, 1, n, x, y); err != nil {
					b.Fatal(err) // also builds and caches the plan
				}
				for b.Loop() {
					cgo.FFTC128(ctx, false, cgo.FFTBackward, 1, n, x, y)
				}
				reportFFT(b, n)
			})
		}
		b.Run(fmt.Sprintf("impl=gonum/n=%d", n), func(b *testing.B) {
			t := kernels.NewFFTGo(n)
			for b.Loop() {
				copy(y, x)
				t.Transform(y, false)
			}
			reportFFT(b, n)
		})
		if fftw.Available {
			b.Run(fmt.Sprintf("impl=fftw/n=%d", n), func(b *testing.B) {
				p := fftwPlanC128(n, 1)
				defer p.Destroy()
				copy(p.In128(), x) // after planning: FFTW_MEASURE overwrites the arrays
				for b.Loop() {
					p.Execute()
				}
				reportFFT(b, n)
			})
		}
	}
}

// BenchmarkFFTC64 is BenchmarkFFTC128 in single precision at 2^16: C on
// its best path against FFTW's fftwf.
func BenchmarkFFTC64(b *testing.B) {
	const n = 1 << 16
	x64 := randC128(n)
	x, y := make([]complex64, n), make([]complex64, n)
	for i, v := range x64 {
		x[i] = complex64(v)
	}
	b.Run(fmt.Sprintf("impl=c-%s/n=%d", cgo.BestISA(), n), func(b *testing.B) {
		if err := cgo.FFTC64(nil, false, cgo.FFTBackward, 1, n, x, y); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			cgo.FFTC64(nil, false, cgo.FFTBackward, 1, n, x, y)
		}
		reportFFT(b, n)
	})
	if fftw.Available {
		b.Run(fmt.Sprintf("impl=fftw/n=%d", n), func(b *testing.B) {
			p := fftw.NewPlanC64(n, false, fftwRigor())
			defer p.Destroy()
			copy(p.In64(), x)
			for b.Loop() {
				p.Execute()
			}
			reportFFT(b, n)
		})
	}
}

// BenchmarkFFTReal compares two ways of transforming a real float64 row
// into its full complex spectrum (numpy.fft.fft of a real array), on
// crunch's best path: promoting it to complex and transforming that in
// place, and the C library's real transform (a complex one of half the
// length and one combining pass).
func BenchmarkFFTReal(b *testing.B) {
	for _, n := range []int{1 << 16, 1 << 20} {
		x, y := make([]float64, n), make([]complex128, n)
		for i, z := range randC128(n) {
			x[i] = real(z)
		}
		b.Run(fmt.Sprintf("way=promote/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				for i, v := range x {
					y[i] = complex(v, 0)
				}
				if err := cgo.FFTC128(nil, false, cgo.FFTBackward, 1, n, y, y); err != nil {
					b.Fatal(err)
				}
			}
			reportFFT(b, n)
		})
		b.Run(fmt.Sprintf("way=real/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if err := cgo.FFTF64(nil, false, cgo.FFTBackward, 1, n, x, y); err != nil {
					b.Fatal(err)
				}
			}
			reportFFT(b, n)
		})
	}
}
