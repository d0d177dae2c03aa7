package cgo_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

func TestModsumEveryISA(t *testing.T) {
	ns := []int64{0, 1, 7, -7, 96, 97, -98, math.MaxInt64, math.MinInt64}
	iters := []int64{0, 1, 15, 16, 17, 63, 64, 65, 97, 1000, 1<<22 + 3}
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		for _, n := range ns {
			for _, it := range iters {
				x.Reset()
				if err := x.SetISA(isa); err != nil {
					t.Fatal(err)
				}
				got, err := cgo.Modsum(x, n, it)
				if err != nil {
					t.Fatalf("%s: Modsum(%d, %d): %v", isa, n, it, err)
				}
				if want := modsumRef(t, n, it); got != want {
					t.Errorf("%s: Modsum(%d, %d) = %d, want %d", isa, n, it, got, want)
				}
				if done, total, _ := x.Progress(); done != it || total != it {
					t.Errorf("%s: progress %d/%d after %d iterations", isa, done, total, it)
				}
			}
		}
	}
}

func TestModsumErrors(t *testing.T) {
	_, err := cgo.Modsum(nil, 1, -1)
	var ce *cgo.Error
	if !errors.As(err, &ce) || ce.Status != cgo.EINVAL || !errors.Is(err, cgo.ErrInvalid) {
		t.Fatalf("negative iters: got %v, want EINVAL", err)
	}
	if ce.Error() != "crunch_modsum: invalid argument" {
		t.Errorf("message %q", ce.Error())
	}
}

func TestCancelFromContext(t *testing.T) {
	for _, isa := range cgo.ISAs() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		x := cgo.NewCtx()
		x.SetISA(isa)
		stop := x.Watch(ctx)
		start := time.Now()
		_, err := cgo.Modsum(x, 3, 1e15)
		stop()
		cancel()
		if !errors.Is(err, cgo.ErrCanceled) {
			t.Fatalf("%s: got %v, want canceled", isa, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: cancel took %v", isa, took)
		}
		if _, _, f := x.Progress(); f <= 0 || f >= 1 {
			t.Errorf("%s: progress of a cancelled call %v", isa, f)
		}
	}
}

func TestNoop(t *testing.T) {
	if err := cgo.Noop(nil); err != nil {
		t.Fatal(err)
	}
	x := cgo.NewCtx()
	x.Cancel()
	if err := cgo.Noop(x); !errors.Is(err, cgo.ErrCanceled) {
		t.Fatalf("cancelled noop: %v", err)
	}
	if !x.Canceled() {
		t.Fatal("Canceled() false after Cancel")
	}
}

func TestISA(t *testing.T) {
	best := cgo.BestISA()
	if best < cgo.ISAGeneric || best > cgo.ISAAVX512 {
		t.Fatalf("best ISA %d", best)
	}
	if isas := cgo.ISAs(); isas[0] != cgo.ISAGeneric || isas[len(isas)-1] != best {
		t.Fatalf("ISAs() = %v", isas)
	}
	if err := cgo.NewCtx().SetISA(cgo.ISA(9)); !errors.Is(err, cgo.ErrInvalid) {
		t.Fatalf("SetISA(9): %v", err)
	}
	if cgo.Version() == "" || cgo.ISAAVX2.String() != "avx2" {
		t.Fatal("version or ISA name empty")
	}
}

// gemmRef is the naive triple loop on row-major matrices, with op().
func gemmRef(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func randSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.Float64()*2 - 1
	}
	return s
}

// TestGemmF64EveryISA checks the C gemm against the naive loop on awkward
// sizes, every transpose, padded leading dimensions, alpha and beta.
func TestGemmF64EveryISA(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{0, 3, 4}, {3, 0, 4}, {3, 4, 0}, {1, 1, 1}, {2, 3, 5}, {7, 31, 13}, {64, 65, 33}, {127, 9, 257}, {33, 257, 70}}
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, ab := range [][2]float64{{1, 0}, {-0.5, 2.5}, {0, 1}} {
					ra, ca := m, k
					if tr[0] {
						ra, ca = k, m
					}
					rb, cb := k, n
					if tr[1] {
						rb, cb = n, k
					}
					lda, ldb, ldc := ca+3, cb+1, n+2
					a, b := randSlice(r, max(ra*lda, 1)), randSlice(r, max(rb*ldb, 1))
					c := randSlice(r, max(m*ldc, 1))
					want := append([]float64(nil), c...)
					gemmRef(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					x.Reset()
					x.SetISA(isa)
					if err := cgo.GemmF64(x, tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc); err != nil {
						t.Fatalf("%s %v trans=%v: %v", isa, sz, tr, err)
					}
					for i := range c {
						if math.Abs(c[i]-want[i]) > 1e-12*float64(k+1) {
							t.Fatalf("%s %v trans=%v alpha,beta=%v: c[%d] = %g, want %g", isa, sz, tr, ab, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestGemmF32MatchesF64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m, n, k := 65, 33, 129
	a64, b64 := randSlice(r, m*k), randSlice(r, k*n)
	a32, b32 := make([]float32, m*k), make([]float32, k*n)
	for i, v := range a64 {
		a32[i] = float32(v)
		a64[i] = float64(a32[i]) // the same values in both precisions
	}
	for i, v := range b64 {
		b32[i] = float32(v)
		b64[i] = float64(b32[i])
	}
	want := make([]float64, m*n)
	gemmRef(false, false, m, n, k, 1, a64, k, b64, n, 0, want, n)
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		x.SetISA(isa)
		c := make([]float32, m*n)
		if err := cgo.GemmF32(x, false, false, m, n, k, 1, a32, k, b32, n, 0, c, n); err != nil {
			t.Fatal(err)
		}
		for i := range c {
			if math.Abs(float64(c[i])-want[i]) > 1e-4*float64(k) {
				t.Fatalf("%s: c[%d] = %g, want %g", isa, i, c[i], want[i])
			}
		}
	}
}

func TestGemmBetaZeroIgnoresNaN(t *testing.T) {
	a, b := []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}
	c := []float64{math.NaN(), math.Inf(1), math.NaN(), math.NaN()}
	if err := cgo.GemmF64(nil, false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2); err != nil {
		t.Fatal(err)
	}
	if want := []float64{19, 22, 43, 50}; !equal(c, want) {
		t.Fatalf("c = %v, want %v", c, want)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGemmRefusesShortSlices(t *testing.T) {
	a, b, c := make([]float64, 6), make([]float64, 6), make([]float64, 4)
	cases := []struct {
		name string
		err  error
	}{
		{"short a", cgo.GemmF64(nil, false, false, 2, 2, 4, 1, a, 4, b, 2, 0, c, 2)},
		{"short c", cgo.GemmF64(nil, false, false, 3, 2, 2, 1, a, 2, b, 2, 0, c, 2)},
		{"short b", cgo.GemmF64(nil, false, true, 2, 4, 2, 1, a, 2, b, 2, 0, c, 4)},
		{"negative", cgo.GemmF64(nil, false, false, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2)},
		{"small lda", cgo.GemmF64(nil, false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2)},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, cgo.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid argument", tc.name, tc.err)
		}
	}
}

func TestHistogramRefuses(t *testing.T) {
	v := []float64{1, 2, 3}
	cases := []struct {
		name string
		err  error
	}{
		{"no bins", cgo.Histogram(nil, v, 0, 4, nil, nil)},
		{"short edges", cgo.Histogram(nil, v, 0, 4, make([]int64, 3), make([]float64, 3))},
		{"NaN lo", cgo.Histogram(nil, v, math.NaN(), 4, make([]int64, 3), nil)},
		{"lo above hi", cgo.Histogram(nil, []float32{1}, 4, 0, make([]int64, 3), nil)},
		{"width overflows", cgo.Histogram(nil, v, -1e308, 1e308, make([]int64, 3), nil)},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, cgo.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid argument", tc.name, tc.err)
		}
	}
}

func TestGemmCancel(t *testing.T) {
	n := 1500
	a, b, c := make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
	x := cgo.NewCtx()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	defer x.Watch(ctx)()
	err := cgo.GemmF64(x, false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	if !errors.Is(err, cgo.ErrCanceled) {
		t.Fatalf("got %v, want canceled", err)
	}
}

// modsumRef is the Go implementation, which the kernels package checks
// against exact big-integer arithmetic: an independent reference for C.
func modsumRef(t testing.TB, n, iters int64) int64 {
	t.Helper()
	want, err := kernels.ModsumGo(nil, n, iters)
	if err != nil {
		t.Fatal(err)
	}
	return want
}
