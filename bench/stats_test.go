package bench

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

// statsN is 10^7 doubles: 80 MB, far beyond any cache, so every figure is
// a trip through memory.
const statsN = 10_000_000

// statsSink keeps results alive so that no loop is optimised away.
var statsSink float64

// reportGBs adds a GB/s column: bytes read from x per second.
func reportGBs(b *testing.B, bytes int) {
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// streamRead is the memory-bandwidth baseline: it reads every byte of x
// once, as 64-bit integers XORed into eight independent chains, so that the
// loop is bound by memory, not by a dependency chain or the FPU. It is the
// fastest a single pass over x can be on this core.
func streamRead(x []float64) uint64 {
	u := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
	var a0, a1, a2, a3, a4, a5, a6, a7 uint64
	i := 0
	for ; i+8 <= len(u); i += 8 {
		v := u[i : i+8 : i+8] // one bounds check for eight loads
		a0 ^= v[0]
		a1 ^= v[1]
		a2 ^= v[2]
		a3 ^= v[3]
		a4 ^= v[4]
		a5 ^= v[5]
		a6 ^= v[6]
		a7 ^= v[7]
	}
	for ; i < len(u); i++ {
		a0 ^= u[i]
	}
	return a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7
}

// BenchmarkStatsF64 measures stats over 10^7 f64 in GB/s of input, beside
// a plain streaming read of the same array in the same run (impl=read):
// the ratio of the two is the fraction of one core's memory bandwidth that
// stats achieves (target: at least 50%). impl=gonum is gonum's stat
// package doing the same work (MeanVariance, which reads x twice, plus
// floats.Min and Max): for scale, not the same accuracy.
func BenchmarkStatsF64(b *testing.B) {
	x := randF64(statsN)
	bytes := statsN * 8
	b.Run("impl=read", func(b *testing.B) {
		var s uint64
		for b.Loop() {
			s ^= streamRead(x)
		}
		statsSink = float64(s)
		reportGBs(b, bytes)
	})
	benchEachISA(b, "", func(c *cgo.Ctx) error {
		s, err := cgo.StatsF64(c, x, 0)
		statsSink += s.Var
		return err
	}, func(b *testing.B) { reportGBs(b, bytes) })
	benchStatsGo(b, x)
	b.Run("impl=gonum", func(b *testing.B) {
		for b.Loop() {
			m, v := stat.MeanVariance(x, nil)
			statsSink += m + v + floats.Min(x) + floats.Max(x) + math.Sqrt(v)
		}
		reportGBs(b, bytes)
	})
}

// BenchmarkStatsF32 is BenchmarkStatsF64 for 10^7 float32 (40 MB), C on
// the best path and Go: f32 is converted block by block and accumulated in
// float64.
func BenchmarkStatsF32(b *testing.B) {
	x64 := randF64(statsN)
	x := make([]float32, statsN)
	for i, v := range x64 {
		x[i] = float32(v)
	}
	bytes := statsN * 4
	b.Run("impl=c-"+cgo.BestISA().String(), func(b *testing.B) {
		for b.Loop() {
			s, err := cgo.StatsF32(nil, x, 0)
			if err != nil {
				b.Fatal(err)
			}
			statsSink += s.Var
		}
		reportGBs(b, bytes)
	})
	benchStatsGo(b, x)
}

// benchStatsGo runs the service's Go stats of x as impl=go.
func benchStatsGo[T float32 | float64](b *testing.B, x []T) {
	b.Run("impl=go", func(b *testing.B) {
		for b.Loop() {
			s, err := kernels.StatsGo(nil, x, 0)
			if err != nil {
				b.Fatal(err)
			}
			statsSink += s.Var
		}
		reportGBs(b, len(x)*int(unsafe.Sizeof(x[0])))
	})
}

// BenchmarkHistogram: np.histogram(x, bins=100) of 10^7 normal float64s,
// the range (x's min and max) included, on every path (compare with NumPy
// in the same run: python3 -m timeit -s 'import numpy as np;
// x = np.random.default_rng(1).normal(size=10**7)' 'np.histogram(x, bins=100)').
func BenchmarkHistogram(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, statsN)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	counts := make([]int64, 100)
	benchEachISA(b, "", func(c *cgo.Ctx) error {
		return cgo.Histogram(c, x, floats.Min(x), floats.Max(x), counts, nil)
	}, func(b *testing.B) { reportGBs(b, 8*len(x)) })
}
