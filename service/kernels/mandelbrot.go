package kernels

import (
	"math"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// mandelbrotOp renders escape counts of the Mandelbrot set over a grid.
//
// Both implementations evaluate the same rounded float64 operations in the
// same order (include/crunch.h, crunch_mandelbrot), so their counts agree
// exactly on every input, whatever SIMD path C takes.
var mandelbrotOp = &Op{
	Name:    "mandelbrot",
	Summary: "escape counts of the Mandelbrot set over a grid",
	Doc: "escape counts of the Mandelbrot iteration z <- z^2 + c (z_0 = 0) over a height x width grid: " +
		"the pixel in row r, column j samples c = (x_min + (x_max-x_min)*j/width) + i(y_min + (y_max-y_min)*r/height); " +
		"its count is the smallest k >= 1 with |z_k|^2 > 4, or max_iter if there is none below it (float64)",
	Params: []Param{
		{Name: "width", Kind: "int", Required: true, Min: bound(0), Doc: "columns"},
		{Name: "height", Kind: "int", Required: true, Min: bound(0), Doc: "rows"},
		{Name: "x_min", Kind: "float", Default: -2.0, Finite: true, Doc: "real part of column 0"},
		{Name: "x_max", Kind: "float", Default: 1.0, Finite: true, Doc: "real part one column past the last"},
		{Name: "y_min", Kind: "float", Default: -1.5, Finite: true, Doc: "imaginary part of row 0"},
		{Name: "y_max", Kind: "float", Default: 1.5, Finite: true, Doc: "imaginary part one row past the last"},
		{Name: "max_iter", Kind: "int", Default: int64(256), Min: bound(1), Max: bound(cgo.MandelbrotMaxIter), Doc: "iteration cap"},
	},
	Results: []Param{{Name: "counts", Kind: "tensor", DTypes: []string{"u32"}, Shape: "[height,width]",
		Doc: "escape counts, 1 to max_iter"}},
	Impls: []string{ImplC, ImplGo},
	Bind:  prepareMandelbrot,
}

func init() { defaultRegistry.Register(mandelbrotOp) }

// mandelbrotArgs are a validated request's arguments.
type mandelbrotArgs struct {
	width, height          int
	xMin, xMax, yMin, yMax float64
	maxIter                int64
}

func prepareMandelbrot(args Args) (*Call, error) {
	const op = "mandelbrot"
	a := mandelbrotArgs{xMin: args.Float("x_min"), xMax: args.Float("x_max"),
		yMin: args.Float("y_min"), yMax: args.Float("y_max"), maxIter: args.Int("max_iter")}
	w, h := args.Int("width"), args.Int("height")
	if w > 0 && h > math.MaxInt/4/w { // the result's byte count must fit an int
		return nil, invalidf("%s: a %dx%d image (height x width) of 4-byte counts overflows", op, h, w)
	}
	a.width, a.height = int(w), int(h)
	pixels := float64(a.width) * float64(a.height)
	run := func(impl func(*cgo.Ctx, *mandelbrotArgs, []uint32) error) RunFunc {
		return func(c *cgo.Ctx, o Out) (wire.Result, error) {
			out, err := o.Tensor("counts", tensor.U32, Exposed, a.height, a.width) // only written
			if err != nil {
				return nil, wire.Errorf(wire.TooLarge, "%s: result of %dx%d counts: %v", op, a.height, a.width, err)
			}
			if err := impl(c, &a, out.Uint32()); err != nil {
				return nil, fromC(op, err)
			}
			return wire.Result{"counts": wire.TensorValue(out)}, nil
		}
	}
	// Work: an upper bound, every pixel running max_iter iterations.
	return &Call{Work: pixels * float64(a.maxIter), OutElems: pixels,
		run: map[string]RunFunc{
			ImplC: run(func(c *cgo.Ctx, a *mandelbrotArgs, counts []uint32) error {
				return cgo.Mandelbrot(c, a.width, a.height, a.xMin, a.xMax, a.yMin, a.yMax, a.maxIter, counts)
			}),
			ImplGo: run(func(c *cgo.Ctx, a *mandelbrotArgs, counts []uint32) error {
				return MandelbrotGo(c, a.width, a.height, a.xMin, a.xMax, a.yMin, a.yMax, a.maxIter, counts)
			}),
		}}, nil
}

// mandelbrotPoll is the number of iterations of one pixel between cancel
// polls, as CRUNCH__MB_POLL in C.
const mandelbrotPoll = 4096

// MandelbrotGo is the plain Go mandelbrot, pixel by pixel, with
// crunch_mandelbrot's contract and exactly its floating-point operations
// (see include/crunch.h): it gives the same counts as every C path. counts
// receives height rows of width counts. It polls x every 4096 iterations
// of a pixel and before each row, and reports progress in pixels, a row at
// a time.
func MandelbrotGo(x *cgo.Ctx, width, height int, xMin, xMax, yMin, yMax float64, maxIter int64, counts []uint32) error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if width < 0 || height < 0 || !finite(xMin) || !finite(xMax) || !finite(yMin) || !finite(yMax) ||
		maxIter < 1 || maxIter > cgo.MandelbrotMaxIter || (width > 0 && height > math.MaxInt/4/width) ||
		len(counts) < width*height {
		return cgo.ErrInvalid
	}
	x.Begin(int64(width * height))
	dx, dy := xMax-xMin, yMax-yMin
	w, h := float64(width), float64(height)
	for r := range height {
		if x.Canceled() {
			return canceled
		}
		ci := yMin + dy*float64(r)/h // a division between: nothing to fuse
		row := counts[r*width : (r+1)*width]
		for j := range row {
			k := mandelbrotPixel(x, xMin+dx*float64(j)/w, ci, maxIter)
			if k < 0 {
				return canceled
			}
			row[j] = uint32(k) // k <= maxIter <= 2^31
		}
		x.Add(int64(width))
	}
	return nil
}

// mandelbrotPixel returns the count of c = cr + i·ci, or -1 if x was
// cancelled. The explicit float64 conversions round each product on its
// own: the Go spec lets a compiler fuse x*y + z into an FMA (arm64 does),
// and a conversion forbids it, which keeps the orbit identical to C's.
func mandelbrotPixel(x *cgo.Ctx, cr, ci float64, maxIter int64) int64 {
	zr, zi := cr, ci // z_1 = c
	for k := int64(1); k < maxIter; {
		stop := min(maxIter, k+mandelbrotPoll)
		for ; k < stop; k++ {
			x2, y2, t := float64(zr*zr), float64(zi*zi), float64(zr*zi)
			if x2+y2 > 4 { // false for NaN: a NaN orbit never escapes
				return k
			}
			zr = (x2 - y2) + cr
			zi = float64(t+t) + ci
		}
		if x.Canceled() {
			return -1
		}
	}
	return maxIter // z_maxIter is not tested: either way the count is maxIter
}
