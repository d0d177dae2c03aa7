package bench

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

// sortN is the size of every sort benchmark: 10^6 elements.
const sortN = 1_000_000

// sortBench runs one dtype's three contenders on the same random input:
// C's radix sort, the Go implementation (slices.SortFunc with the NaN-last,
// -0-first comparator) and plain slices.Sort, the standard library's
// baseline (target: C at least 3x faster). Every iteration first copies
// the input into the work slice (about 0.2 ms of each figure, the same for
// all three).
func sortBench[T int32 | int64 | uint32 | float32 | float64](b *testing.B, in []T,
	sortC func(*cgo.Ctx, []T, bool) error) {
	w := make([]T, len(in))
	report := func(b *testing.B) {
		b.ReportMetric(float64(len(in))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
	}
	b.Run("impl=c", func(b *testing.B) {
		for b.Loop() {
			copy(w, in)
			if err := sortC(nil, w, false); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("impl=go", func(b *testing.B) {
		for b.Loop() {
			copy(w, in)
			if err := kernels.SortGo(nil, w, false); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("impl=slices", func(b *testing.B) {
		for b.Loop() {
			copy(w, in)
			slices.Sort(w)
		}
		report(b)
	})
}

// BenchmarkSort sorts 10^6 random elements of each dtype, ascending.
// Floats are uniform in [-1, 1), integers uniform over their whole range.
func BenchmarkSort(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	f64 := make([]float64, sortN)
	f32 := make([]float32, sortN)
	i64 := make([]int64, sortN)
	i32 := make([]int32, sortN)
	u32 := make([]uint32, sortN)
	for i := range sortN {
		f64[i] = 2*r.Float64() - 1
		f32[i] = float32(2*r.Float64() - 1)
		i64[i] = int64(r.Uint64())
		i32[i] = int32(r.Uint32())
		u32[i] = r.Uint32()
	}
	b.Run("dtype=f64", func(b *testing.B) { sortBench(b, f64, cgo.SortF64) })
	b.Run("dtype=f32", func(b *testing.B) { sortBench(b, f32, cgo.SortF32) })
	b.Run("dtype=i64", func(b *testing.B) { sortBench(b, i64, cgo.SortI64) })
	b.Run("dtype=i32", func(b *testing.B) { sortBench(b, i32, cgo.SortI32) })
	b.Run("dtype=u32", func(b *testing.B) { sortBench(b, u32, cgo.SortU32) })
}
