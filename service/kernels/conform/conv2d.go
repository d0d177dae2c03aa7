package conform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// conv2dCase is one request: image and kernel sizes, a mode ("" leaves it
// to its default, same), a dtype and a kind of values.
type conv2dCase struct {
	h, w, kh, kw int
	mode         string
	dt           tensor.DType
	kind         string
}

func (c conv2dCase) String() string {
	return fmt.Sprintf("%s %q image %dx%d kernel %dx%d %s", c.dt, c.mode, c.h, c.w, c.kh, c.kw, c.kind)
}

// Value kinds: random, small integers (every sum exact, so every
// implementation must agree bit for bit), magnitudes near the ends of the
// dtype's range, -0 pixels, and NaN or Inf in the image or the kernel.
var conv2dKinds = []string{"uniform", "ints", "tiny", "huge", "negzero", "img-nan", "img-inf", "ker-inf", "ker-nan"}

var conv2dModes = []string{"same", "valid", "full"}

// conv2dCases: empty images, 1 x n and n x 1, primes, powers of two and
// neighbours, non-square; kernels from 1x1 to 63x63 and larger than the
// image in one or both dimensions; every mode and dtype, the value kind
// rotating through the table. Then every kind on shapes that cross the C
// kernels' vector blocks and partial vectors; the benchmark's shape and
// kernel rows and columns long enough that the C driver splits output rows
// into several calls; and the default mode.
func conv2dCases() []Case {
	var table []conv2dCase
	images := [][2]int{{0, 0}, {0, 4}, {4, 0}, {1, 1}, {1, 9}, {9, 1}, {2, 3}, {7, 7}, {16, 17}, {31, 64}, {65, 33}, {100, 129}}
	kernels := [][2]int{{1, 1}, {1, 4}, {4, 1}, {2, 2}, {3, 3}, {5, 5}, {6, 3}, {11, 11}, {63, 63}, {40, 2}, {2, 140}}
	for _, im := range images {
		for _, k := range kernels {
			for _, mode := range conv2dModes {
				for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
					table = append(table, conv2dCase{im[0], im[1], k[0], k[1], mode, dt, conv2dKinds[len(table)%len(conv2dKinds)]})
				}
			}
		}
	}
	for _, kind := range conv2dKinds {
		for _, s := range [][4]int{{9, 131, 3, 3}, {40, 70, 5, 8}, {3, 3, 6, 9}} {
			for _, mode := range conv2dModes {
				for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
					table = append(table, conv2dCase{s[0], s[1], s[2], s[3], mode, dt, kind})
				}
			}
		}
	}
	table = append(table, conv2dCase{1024, 1024, 5, 5, "same", tensor.F64, "uniform"})
	for _, mode := range conv2dModes {
		table = append(table, conv2dCase{24, 300, 24, 200, mode, tensor.F64, "uniform"},
			conv2dCase{20, 700, 17, 160, mode, tensor.F32, "ints"})
	}
	table = append(table, conv2dCase{6, 7, 4, 3, "", tensor.F64, "uniform"})
	cases := make([]Case, len(table))
	for i, c := range table {
		cases[i] = Case{
			Name:  c.String(),
			Size:  c.h*c.w*c.kh*c.kw + (c.h+c.kh)*(c.w+c.kw), // the work and the output
			Build: func() (wire.Args, Check) { return c.build(seeded(21, i)) },
		}
	}
	return append(append(cases, conv2dByHand()...), refusals("conv2d", []refusal{
		{"empty kernel rows", wire.Args{"image": zeros(3, 3), "kernel": zeros(0, 2)}, "must not be empty"},
		{"empty kernel cols", wire.Args{"image": zeros(3, 3), "kernel": zeros(2, 0)}, "[2,0]"},
	})...)
}

// conv2dValues returns n values of kind for an image (or a kernel),
// rounded to the dtype so that the reference sees what the kernels see.
func conv2dValues(r *rand.Rand, kind string, kernel bool, dt tensor.DType, n int) []float64 {
	scale := 1.0
	switch {
	case kind == "tiny" && dt == tensor.F64:
		scale = 1e-150 // products near 1e-300
	case kind == "tiny":
		scale = 1e-15 // products near 1e-30, still normal in f32
	case kind == "huge" && dt == tensor.F64:
		scale = 1e150
	case kind == "huge":
		scale = 1e15
	}
	v := make([]float64, n)
	for i := range v {
		x := (r.Float64()*2 - 1) * scale
		if kind == "ints" {
			x = float64(r.IntN(17) - 8)
		}
		if kind == "negzero" && !kernel {
			x = math.Copysign(0, -1)
		}
		v[i] = x
	}
	if n == 0 {
		return v
	}
	switch {
	case kind == "img-nan" && !kernel:
		v[n/2] = math.NaN()
	case kind == "img-inf" && !kernel:
		v[n/3], v[n-1] = math.Inf(1), math.Inf(-1)
	case kind == "img-inf" && kernel:
		v[0] = 0 // Inf times a zero tap is NaN
	case kind == "ker-inf" && kernel:
		v[n/2] = math.Inf(-1)
	case kind == "ker-nan" && kernel:
		v[n-1] = math.NaN()
	}
	return roundTo(dt, v)
}

// conv2dRef is the naive reference: the full convolution by its
// definition (a direct quadruple loop, in float64, from +0), cropped to
// the mode. For each output it also returns the sum of |terms| and their
// number: the scale of the error bound.
func conv2dRef(mode string, h, w int, img []float64, kh, kw int, ker []float64) (want, abs []float64, terms []int, oh, ow int) {
	fh, fw := h+kh-1, w+kw-1
	r0, c0 := 0, 0
	switch mode {
	case "full":
		oh, ow = fh, fw
	case "same", "":
		oh, ow, r0, c0 = h, w, (kh-1)/2, (kw-1)/2
	case "valid":
		oh, ow, r0, c0 = max(h-kh+1, 0), max(w-kw+1, 0), kh-1, kw-1
	}
	want, abs, terms = make([]float64, oh*ow), make([]float64, oh*ow), make([]int, oh*ow)
	for r := range oh {
		for c := range ow {
			i, j := r+r0, c+c0
			s, a, n := 0.0, 0.0, 0
			for p := range kh {
				for q := range kw {
					if i-p < 0 || i-p >= h || j-q < 0 || j-q >= w {
						continue
					}
					t := img[(i-p)*w+j-q] * ker[p*kw+q]
					s += t
					a += math.Abs(t)
					n++
				}
			}
			want[r*ow+c], abs[r*ow+c], terms[r*ow+c] = s, a, n
		}
	}
	return want, abs, terms, oh, ow
}

// conv2dAgree: NaN for NaN, the same infinity, else within
// (terms + 2) * eps * sum|terms| (a dot product's error bound, for the
// implementation's rounding and the reference's). exact asks for the very
// value, sign of zero included.
func conv2dAgree(got, want, abs float64, terms int, dt tensor.DType, exact bool) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	if exact {
		return got == want && math.Signbit(got) == math.Signbit(want)
	}
	eps := 0x1p-52
	if dt == tensor.F32 {
		eps = 0x1p-23
	}
	return math.Abs(got-want) <= float64(terms+2)*eps*abs
}

func conv2dArgs(img, ker *tensor.Tensor, mode string) wire.Args {
	args := wire.Args{"image": wire.TensorValue(img), "kernel": wire.TensorValue(ker)}
	if mode != "" {
		args["mode"] = wire.String(mode)
	}
	return args
}

// build makes the request and checks the result against the reference.
func (c conv2dCase) build(r *rand.Rand) (wire.Args, Check) {
	img := conv2dValues(r, c.kind, false, c.dt, c.h*c.w)
	ker := conv2dValues(r, c.kind, true, c.dt, c.kh*c.kw)
	want, abs, terms, oh, ow := conv2dRef(c.mode, c.h, c.w, img, c.kh, c.kw, ker)
	args := conv2dArgs(realTensor(c.dt, []int{c.h, c.w}, img), realTensor(c.dt, []int{c.kh, c.kw}, ker), c.mode)
	exact := c.kind == "ints" || c.kind == "negzero"
	return args, ok(func(res wire.Result) error {
		out, err := resultTensor(res, "out", c.dt, oh, ow)
		if err != nil {
			return err
		}
		for i := range want {
			if g := at(out, i); !conv2dAgree(g, want[i], abs[i], terms[i], c.dt, exact) {
				return fmt.Errorf("out[%d][%d] = %v, want %v (sum|t| %.3g, %d terms)", i/ow, i%ow, g, want[i], abs[i], terms[i])
			}
		}
		return nil
	})
}

// conv2dByHand: a case small enough to check by eye in every mode, and an
// empty image, whose output is +0s of the mode's size.
func conv2dByHand() []Case {
	var cases []Case
	add := func(name string, img, ker *tensor.Tensor, mode string, want *tensor.Tensor) {
		cases = append(cases, Case{Name: name + " " + mode, Size: 20, Build: func() (wire.Args, Check) {
			return conv2dArgs(img, ker, mode), ok(func(res wire.Result) error {
				out, err := resultTensor(res, "out", want.DType, want.Shape...)
				if err != nil {
					return err
				}
				if !out.Equal(want) {
					return fmt.Errorf("out %v, want %v", out, want)
				}
				return nil
			})
		}})
	}
	img := tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})
	ker := tensor.FromFloat64([]int{2, 2}, []float64{1, 1, 1, -1})
	add("by hand", img, ker, "full", tensor.FromFloat64([]int{3, 3}, []float64{1, 3, 2, 4, 8, 2, 3, 1, -4}))
	add("by hand", img, ker, "same", tensor.FromFloat64([]int{2, 2}, []float64{1, 3, 4, 8})) // full's rows and columns from (2-1)//2 = 0
	add("by hand", img, ker, "valid", tensor.FromFloat64([]int{1, 1}, []float64{8}))
	empty := tensor.FromFloat32([]int{0, 3}, nil)
	k := tensor.FromFloat32([]int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	for i, shape := range [][]int{{0, 3}, {0, 2}, {2, 4}} {
		zeros, _ := tensor.New(tensor.F32, shape...)
		add("empty image", empty, k, conv2dModes[i], zeros)
	}
	return cases
}
