package cgo_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// The C tests run the full histogram table against a transcription of
// NumPy's code and NumPy's own output; this checks the binding itself:
// known counts and edges on every path, the range, progress, cancellation,
// and the argument checks.

func TestHistogramBinding(t *testing.T) {
	// np.histogram([0, 0.5, 1, 1.5, 2, 2, nan, 3, -1], 4, range=(0, 2))
	v := []float64{0, 0.5, 1, 1.5, 2, 2, math.NaN(), 3, -1}
	want := []int64{1, 1, 1, 3}
	wantEdges := []float64{0, 0.5, 1, 1.5, 2}
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		x.SetISA(isa)
		counts, edges := make([]int64, 4), make([]float64, 5)
		if err := cgo.HistogramF64(x, v, 0, 2, counts, edges); err != nil {
			t.Fatalf("%s: %v", isa, err)
		}
		if !slices.Equal(counts, want) || !slices.Equal(edges, wantEdges) {
			t.Errorf("%s: counts %v edges %v, want %v %v", isa, counts, edges, want, wantEdges)
		}
		if done, total, _ := x.Progress(); done != int64(len(v)) || total != int64(len(v)) {
			t.Errorf("%s: progress %d/%d", isa, done, total)
		}
		v32 := make([]float32, len(v))
		for i := range v {
			v32[i] = float32(v[i])
		}
		if err := cgo.HistogramF32(x, v32, 0, 2, counts, nil); err != nil || !slices.Equal(counts, want) {
			t.Errorf("%s: f32 counts %v, %v", isa, counts, err)
		}
		lo, hi, err := cgo.HistogramRangeF32(x, []float32{3, -1.5, 2})
		if err != nil || lo != -1.5 || hi != 3 {
			t.Errorf("%s: range [%v, %v], %v", isa, lo, hi, err)
		}
		if _, _, err := cgo.HistogramRangeF64(x, v); !errors.Is(err, cgo.ErrNumerical) {
			t.Errorf("%s: range of data with NaN: %v", isa, err)
		}
		x.Reset()
		x.Cancel()
		if err := cgo.HistogramF64(x, v, 0, 2, counts, nil); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", isa, err)
		}
	}
	if lo, hi, err := cgo.HistogramRangeF64(nil, nil); err != nil || lo != 0 || hi != 1 {
		t.Errorf("empty range [%v, %v], %v", lo, hi, err)
	}
	if lo, hi, err := cgo.HistogramRangeF64(nil, []float64{4, 4}); err != nil || lo != 3.5 || hi != 4.5 {
		t.Errorf("constant range [%v, %v], %v", lo, hi, err)
	}
}

func TestHistogramBindingChecks(t *testing.T) {
	v := []float64{1, 2, 3}
	cases := []struct {
		name    string
		lo, hi  float64
		counts  []int64
		edges   []float64
		mention string // "" when C refuses it
	}{
		{"no bins", 0, 4, nil, nil, "at least one bin"},
		{"short edges", 0, 4, make([]int64, 3), make([]float64, 3), "needs 4"},
		{"NaN lo", math.NaN(), 4, make([]int64, 3), nil, "not finite"},
		{"Inf hi", 0, math.Inf(1), make([]int64, 3), nil, "not finite"},
		{"lo above hi", 4, 0, make([]int64, 3), nil, "above"},
		{"width overflows", -1e308, 1e308, make([]int64, 3), nil, ""},
	}
	for _, c := range cases {
		err := cgo.HistogramF64(nil, v, c.lo, c.hi, c.counts, c.edges)
		var ce *cgo.Error
		if !errors.As(err, &ce) || !errors.Is(err, cgo.ErrInvalid) || !strings.Contains(ce.Error(), c.mention) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// BenchmarkHistogram: np.histogram(x, bins=100) of 10^7 normal float64s,
// the range included, on every path (compare with NumPy in the same run:
// python3 -m timeit -s 'import numpy as np; x = np.random.default_rng(1).normal(size=10**7)'
// 'np.histogram(x, bins=100)').
func BenchmarkHistogram(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float64, 10_000_000)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	counts := make([]int64, 100)
	for _, isa := range cgo.ISAs() {
		b.Run(isa.String(), func(b *testing.B) {
			x := cgo.NewCtx()
			x.SetISA(isa)
			b.SetBytes(int64(8 * len(v)))
			for b.Loop() {
				lo, hi, err := cgo.HistogramRangeF64(x, v)
				if err == nil {
					err = cgo.HistogramF64(x, v, lo, hi, counts, nil)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
