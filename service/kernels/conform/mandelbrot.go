package conform

import (
	"fmt"
	"math"

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

// mbView is one request.
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

// mbPoints are single values of c with counts known by hand: points in the
// set, on the escape boundary |z|^2 = 4, and at the cusp.
var mbPoints = []struct {
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

// mandelbrotCases: every size, window and max_iter (1, 2, 3, 50 and 4097,
// past one cancel-poll interval) against the definition, count for count;
// single pixels (a 1x1 image samples exactly (x_min, y_min)) and whole
// vector chunks of one c (64x1 with x_min == x_max) against counts known
// by hand; and windows straddling the boundary at many iterations.
func mandelbrotCases() []Case {
	var cases []Case
	add := func(name string, v mbView, want func() []uint32) {
		cases = append(cases, Case{
			Name: name + v.String(),
			Size: v.w * v.h * int(min(v.maxIter, 4097)),
			Build: func() (wire.Args, Check) {
				w := want()
				return v.args(), ok(func(res wire.Result) error {
					got, err := resultTensor(res, "counts", tensor.U32, v.h, v.w)
					if err != nil {
						return err
					}
					for i, c := range got.Uint32() {
						if c != w[i] {
							return fmt.Errorf("pixel %d (row %d, column %d) is %d, want %d", i, i/max(v.w, 1), i%max(v.w, 1), c, w[i])
						}
					}
					return nil
				})
			},
		})
	}
	for _, s := range mbSizes {
		for _, win := range mbWindows {
			for _, mi := range []int64{1, 2, 3, 50, 4097} {
				v := mbView{s[0], s[1], win[0], win[1], win[2], win[3], mi}
				add("", v, v.ref)
			}
		}
	}
	for _, p := range mbPoints {
		if got := mandelbrotRef(p.re, p.im, p.maxIter); got != p.want {
			panic(fmt.Sprintf("conform: the mandelbrot reference at %g%+gi gives %d, not %d", p.re, p.im, got, p.want))
		}
		for _, v := range []mbView{
			{1, 1, p.re, p.re + 1, p.im, p.im + 1, p.maxIter},
			{64, 1, p.re, p.re, p.im, p.im + 1, p.maxIter},
		} {
			add("by hand: ", v, func() []uint32 {
				want := make([]uint32, v.w)
				for i := range want {
					want[i] = p.want
				}
				return want
			})
		}
	}
	// Escapes up to about 9000 iterations beside lanes that never escape.
	for _, v := range []mbView{
		{21, 11, -0.75, -0.74, 0.1, 0.11, 100000},
		{203, 101, -2, 1, -1.5, 1.5, 1024},
		{37, 23, -2, 1, -1.5, 1.5, 300},
	} {
		add("straddling: ", v, v.ref)
	}
	return append(cases, refusals("mandelbrot", []refusal{
		{"overflow", wire.Args{"width": wire.Int(4), "height": wire.Int(math.MaxInt64 / 2)}, "overflows"},
	})...)
}
