package kernels_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// mandelbrotRef is the definition, literally: z_0 = 0, z_{k+1} = z_k^2 + c,
// the count is the first k >= 1 with |z_k|^2 > 4, else maxIter. Each
// product is rounded on its own (float64 conversions forbid FMA fusion),
// as crunch.h specifies; the implementations must match it exactly.
func mandelbrotRef(cr, ci float64, maxIter int64) uint32 {
	var x, y float64
	for k := int64(1); k <= maxIter; k++ {
		xx, yy, xy := float64(x*x), float64(y*y), float64(x*y)
		x, y = (xx-yy)+cr, float64(xy+xy)+ci
		if float64(x*x)+float64(y*y) > 4 {
			return uint32(k)
		}
	}
	return uint32(maxIter)
}

// mbView is one request of the table.
type mbView struct {
	w, h                   int
	xMin, xMax, yMin, yMax float64
	maxIter                int64
}

func (v mbView) String() string {
	return fmt.Sprintf("%dx%d [%g,%g]x[%g,%g] max_iter %d", v.w, v.h, v.xMin, v.xMax, v.yMin, v.yMax, v.maxIter)
}

func (v mbView) args() wire.Args {
	return wire.Args{"width": wire.Int(int64(v.w)), "height": wire.Int(int64(v.h)),
		"x_min": wire.Float(v.xMin), "x_max": wire.Float(v.xMax),
		"y_min": wire.Float(v.yMin), "y_max": wire.Float(v.yMax), "max_iter": wire.Int(v.maxIter)}
}

// ref returns the reference counts, row-major [h, w].
func (v mbView) ref() []uint32 {
	out := make([]uint32, v.w*v.h)
	for r := range v.h {
		ci := v.yMin + (v.yMax-v.yMin)*float64(r)/float64(v.h)
		for j := range v.w {
			out[r*v.w+j] = mandelbrotRef(v.xMin+(v.xMax-v.xMin)*float64(j)/float64(v.w), ci, v.maxIter)
		}
	}
	return out
}

// mbSizes: empty, single pixels, rows and columns, primes, and widths
// around the AVX2 and AVX-512 vectors (4, 8) and chunks (16, 32); the
// same table as native/test/test_mandelbrot.c.
var mbSizes = [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {1, 17}, {37, 1}, {2, 3}, {3, 2}, {4, 4}, {5, 3},
	{7, 7}, {8, 2}, {9, 4}, {13, 7}, {15, 3}, {16, 5}, {17, 6}, {31, 29}, {32, 3}, {33, 4},
	{47, 5}, {63, 2}, {64, 3}, {65, 2}, {97, 3}, {127, 2}}

// mbWindows: x_min, x_max, y_min, y_max.
var mbWindows = [][4]float64{
	{-2, 1, -1.5, 1.5},                 // the whole set
	{-0.75, -0.74, 0.1, 0.11},          // seahorse valley: straddles the boundary
	{-1.8, -1.7, -0.05, 0.05},          // the needle, through c = -1.75
	{0.2, 0.3, -0.1, 0.1},              // the cusp, through c = 0.25
	{-2.5, 2.5, -2.5, 2.5},             // mostly outside
	{-0.1, 0.1, -0.1, 0.1},             // all inside
	{-1e-300, 1e-300, -1e-300, 1e-300}, // products underflow
	{-1e300, 1e300, -1e300, 1e300},     // products overflow at once
	{-1.7e308, 1.7e308, -1, 1},         // x_max - x_min overflows: NaN and Inf c
	{0.3, 0.3, -0.5, -0.5},             // degenerate: one c everywhere
	{1, -2, 1.5, -1.5},                 // reversed bounds
}

// checkCounts reads the counts tensor of res and compares it with want.
func checkCounts(t *testing.T, what string, res wire.Result, h, w int, want []uint32) {
	t.Helper()
	got, err := res.Tensor("counts")
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.DType != tensor.U32 || len(got.Shape) != 2 || got.Shape[0] != h || got.Shape[1] != w {
		t.Fatalf("%s: counts is %s %s, want u32 [%d,%d]", what, got.DType, tensor.FormatShape(got.Shape), h, w)
	}
	for i, c := range got.Uint32() {
		if c != want[i] {
			t.Errorf("%s: pixel %d (row %d, column %d) is %d, want %d", what, i, i/max(w, 1), i%max(w, 1), c, want[i])
			return
		}
	}
}

// TestMandelbrotTable: every size, window and max_iter (1, 2, 3, 50 and
// 4097, past one cancel-poll interval) through the registry, C on every
// SIMD path and Go, count for count against the definition.
func TestMandelbrotTable(t *testing.T) {
	for _, s := range mbSizes {
		for _, win := range mbWindows {
			for _, mi := range []int64{1, 2, 3, 50, 4097} {
				v := mbView{s[0], s[1], win[0], win[1], win[2], win[3], mi}
				want := v.ref()
				runAll(t, "mandelbrot", v.args(), func(t *testing.T, impl string, res wire.Result) {
					checkCounts(t, impl+" "+v.String(), res, v.h, v.w, want)
				})
			}
		}
	}
}

// TestMandelbrotPoints: single pixels (a 1x1 image samples exactly
// (x_min, y_min)) and whole vector chunks of one c (a 64x1 image with
// x_min == x_max), with counts known by hand: points in the set, on the
// escape boundary |z|^2 = 4, and at the cusp.
func TestMandelbrotPoints(t *testing.T) {
	pts := []struct {
		re, im  float64
		maxIter int64
		want    uint32
	}{
		{0, 0, 1000, 1000},    // z stays 0
		{-1, 0, 1000, 1000},   // period 2: 0, -1, 0, -1
		{-2, 0, 1000, 1000},   // |z|^2 = 4 forever, never above
		{2, 0, 1000, 2},       // |z_1|^2 = 4 is not > 4; z_2 = 6
		{2, 0, 1, 1},          // capped by max_iter
		{0, 2, 1000, 2},       // z_1 = 2i, z_2 = -4 + 2i
		{0.25, 0, 5000, 5000}, // the cusp: z -> 1/2 from below
		{1, 0, 1000, 3},       // 1, 2 (|z|^2 = 4), 5
		{3, 0, 1000, 1},       // escapes at once
		{0, 1, 1000, 1000},    // i, -1 + i, -i, -1 + i, ...
		{-1.75, 0, 1000, 1000},
		{1e300, 0, 10, 1}, // |z_1|^2 overflows to +Inf > 4
		{3, 0, 1 << 31, 1},
	}
	for _, p := range pts {
		if got := mandelbrotRef(p.re, p.im, p.maxIter); got != p.want {
			t.Errorf("reference at %g%+gi: %d, want %d", p.re, p.im, got, p.want)
		}
		for _, v := range []mbView{
			{1, 1, p.re, p.re + 1, p.im, p.im + 1, p.maxIter},
			{64, 1, p.re, p.re, p.im, p.im + 1, p.maxIter},
		} {
			want := make([]uint32, v.w)
			for i := range want {
				want[i] = p.want
			}
			runAll(t, "mandelbrot", v.args(), func(t *testing.T, impl string, res wire.Result) {
				checkCounts(t, impl+" "+v.String(), res, v.h, v.w, want)
			})
		}
	}
}

// TestMandelbrotLargeIter: a window straddling the boundary with
// max_iter 100000 (escapes up to about 9000 iterations, beside lanes that
// never escape), and the whole set at 1024 iterations on a larger image:
// C on every path and Go agree with the definition.
func TestMandelbrotLargeIter(t *testing.T) {
	for _, v := range []mbView{
		{21, 11, -0.75, -0.74, 0.1, 0.11, 100000},
		{203, 101, -2, 1, -1.5, 1.5, 1024},
	} {
		want := v.ref()
		inside := 0
		for _, c := range want {
			if c == uint32(v.maxIter) {
				inside++
			}
		}
		if inside == 0 || inside == len(want) {
			t.Fatalf("%s: %d of %d pixels inside: the window does not straddle", v, inside, len(want))
		}
		runAll(t, "mandelbrot", v.args(), func(t *testing.T, impl string, res wire.Result) {
			checkCounts(t, impl+" "+v.String(), res, v.h, v.w, want)
		})
	}
}

// TestMandelbrotValidation: what mandelbrot's Params cannot say (the
// generic refusals are TestDefinitionsRefuse's), and its defaults.
func TestMandelbrotValidation(t *testing.T) {
	checkRefusals(t, "mandelbrot", []refusal{
		{"overflow", wire.Args{"width": wire.Int(4), "height": wire.Int(math.MaxInt64 / 2)}, "overflows"},
	})
	op, _ := kernels.Default().Lookup("mandelbrot")
	if _, err := op.Prepare(wire.Args{"width": wire.Int(4), "height": wire.Int(3)}); err != nil {
		t.Errorf("width and height alone: %v", err)
	}
}

// TestMandelbrotCancelAndProgress: a finished call reports every pixel
// done; a cancelled Ctx stops both implementations before they start; and
// a call whose pixels would each iterate 2^31 times (seconds) stops soon
// after a cancel, in vector chunks and in the scalar tail alike.
func TestMandelbrotCancelAndProgress(t *testing.T) {
	op, _ := kernels.Default().Lookup("mandelbrot")
	small, err := op.Prepare(mbView{13, 7, -2, 1, -1, 1, 100}.args())
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := small.Run(c, impl); err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		if done, total, _ := c.Progress(); done != 13*7 || total != 13*7 {
			t.Errorf("%s: progress %d/%d", impl, done, total)
		}
		c.Cancel()
		if _, err := small.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", impl, err)
		}
	}
	for _, w := range []int{1, 3, 67} { // 67: two AVX-512 chunks, a vector, a tail
		huge, err := op.Prepare(mbView{w, 2, -0.1, 0.1, -0.1, 0.1, 1 << 31}.args())
		if err != nil {
			t.Fatal(err)
		}
		for _, impl := range op.Impls {
			isas := []cgo.ISA{cgo.ISAAuto}
			if impl == kernels.ImplC {
				isas = cgo.ISAs()
			}
			for _, isa := range isas {
				c := cgo.NewCtx()
				c.SetISA(isa)
				timer := time.AfterFunc(20*time.Millisecond, c.Cancel)
				start := time.Now()
				_, err := huge.Run(c, impl)
				took := time.Since(start)
				timer.Stop()
				if !errors.Is(err, cgo.ErrCanceled) || took > time.Second {
					t.Errorf("%s/%s width %d: %v after %v", impl, isa, w, err, took)
				}
				if done, total, _ := c.Progress(); done != 0 || total != int64(2*w) {
					t.Errorf("%s/%s width %d: progress %d/%d", impl, isa, w, done, total)
				}
			}
		}
	}
}

// TestMandelbrotGoMatchesC: the same counts from Go and from C's best path
// over a grid crossing the whole set's boundary at a fine scale.
func TestMandelbrotGoMatchesC(t *testing.T) {
	const w, h, mi = 320, 240, 2000
	goCounts := make([]uint32, w*h)
	cCounts := make([]uint32, w*h)
	if err := kernels.MandelbrotGo(nil, w, h, -0.7463, -0.7413, 0.1102, 0.1152, mi, goCounts); err != nil {
		t.Fatal(err)
	}
	if err := cgo.Mandelbrot(nil, w, h, -0.7463, -0.7413, 0.1102, 0.1152, mi, cCounts); err != nil {
		t.Fatal(err)
	}
	for i := range goCounts {
		if goCounts[i] != cCounts[i] {
			t.Fatalf("pixel %d: Go %d, C %d", i, goCounts[i], cCounts[i])
		}
	}
}
