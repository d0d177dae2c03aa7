package kernels_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// conv2dCase is one row of the shared table: image and kernel sizes, a
// mode, a dtype and a kind of values.
type conv2dCase struct {
	h, w, kh, kw int
	mode         string
	dt           tensor.DType
	kind         string
}

func (c conv2dCase) String() string {
	return fmt.Sprintf("%s %s image %dx%d kernel %dx%d %s", c.dt, c.mode, c.h, c.w, c.kh, c.kw, c.kind)
}

// Value kinds: random, small integers (every sum exact, so every
// implementation must agree bit for bit), magnitudes near the ends of the
// dtype's range, -0 pixels, and NaN or Inf in the image or the kernel.
var conv2dKinds = []string{"uniform", "ints", "tiny", "huge", "negzero", "img-nan", "img-inf", "ker-inf", "ker-nan"}

// conv2dTable: empty images, 1 x n and n x 1, primes, powers of two and
// neighbours, non-square; kernels from 1x1 to 63x63 and larger than the
// image in one or both dimensions; every mode and dtype, the value kind
// rotating through the table.
func conv2dTable() []conv2dCase {
	images := [][2]int{{0, 0}, {0, 4}, {4, 0}, {1, 1}, {1, 9}, {9, 1}, {2, 3}, {7, 7}, {16, 17}, {31, 64}, {65, 33}, {100, 129}}
	kernels := [][2]int{{1, 1}, {1, 4}, {4, 1}, {2, 2}, {3, 3}, {5, 5}, {6, 3}, {11, 11}, {63, 63}, {40, 2}, {2, 140}}
	var cases []conv2dCase
	i := 0
	for _, im := range images {
		for _, k := range kernels {
			for _, mode := range []string{"same", "valid", "full"} {
				for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
					cases = append(cases, conv2dCase{im[0], im[1], k[0], k[1], mode, dt, conv2dKinds[i%len(conv2dKinds)]})
					i++
				}
			}
		}
	}
	return cases
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
		if dt == tensor.F32 {
			x = float64(float32(x))
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
	return v
}

// conv2dTensor makes a [rows,cols] tensor of dt holding v.
func conv2dTensor(dt tensor.DType, rows, cols int, v []float64) *tensor.Tensor {
	if dt == tensor.F64 {
		return tensor.FromFloat64([]int{rows, cols}, v)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.FromFloat32([]int{rows, cols}, f)
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
	case "same":
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

// conv2dRunAll runs a conv2d request with every implementation, C on
// every SIMD path, and checks each result against the reference.
func conv2dRunAll(t *testing.T, c conv2dCase, r *rand.Rand) {
	t.Helper()
	img := conv2dValues(r, c.kind, false, c.dt, c.h*c.w)
	ker := conv2dValues(r, c.kind, true, c.dt, c.kh*c.kw)
	want, abs, terms, oh, ow := conv2dRef(c.mode, c.h, c.w, img, c.kh, c.kw, ker)
	args := wire.Args{
		"image":  wire.TensorValue(conv2dTensor(c.dt, c.h, c.w, img)),
		"kernel": wire.TensorValue(conv2dTensor(c.dt, c.kh, c.kw, ker)),
		"mode":   wire.String(c.mode),
	}
	exact := c.kind == "ints" || c.kind == "negzero"
	runAll(t, "conv2d", args, func(t *testing.T, impl string, res wire.Result) {
		out, err := res.Tensor("out")
		if err != nil {
			t.Fatalf("%s %v: %v", impl, c, err)
		}
		if out.DType != c.dt || tensor.FormatShape(out.Shape) != tensor.FormatShape([]int{oh, ow}) {
			t.Fatalf("%s %v: got %s %s, want %s [%d,%d]", impl, c, out.DType, tensor.FormatShape(out.Shape), c.dt, oh, ow)
		}
		bad := 0
		for i := range want {
			if g := get(out, i); !conv2dAgree(g, want[i], abs[i], terms[i], c.dt, exact) {
				t.Errorf("%s %v: out[%d][%d] = %v, want %v (sum|t| %.3g, %d terms)", impl, c, i/ow, i%ow, g, want[i], abs[i], terms[i])
				if bad++; bad == 3 {
					return
				}
			}
		}
	})
}

// TestConv2DTable runs the shared table through the registry.
func TestConv2DTable(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range conv2dTable() {
		conv2dRunAll(t, c, r)
	}
}

// TestConv2DKinds: every kind of values on shapes that cross the C
// kernels' vector blocks and partial vectors, in every mode and dtype.
func TestConv2DKinds(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	shapes := [][4]int{{9, 131, 3, 3}, {40, 70, 5, 8}, {3, 3, 6, 9}}
	for _, kind := range conv2dKinds {
		for _, s := range shapes {
			for _, mode := range []string{"same", "valid", "full"} {
				for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
					conv2dRunAll(t, conv2dCase{s[0], s[1], s[2], s[3], mode, dt, kind}, r)
				}
			}
		}
	}
}

// TestConv2DLarge: the benchmark's shape, and kernel rows and columns long
// enough that the C driver splits output rows into several calls.
func TestConv2DLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	conv2dRunAll(t, conv2dCase{1024, 1024, 5, 5, "same", tensor.F64, "uniform"}, r)
	for _, mode := range []string{"same", "valid", "full"} {
		conv2dRunAll(t, conv2dCase{24, 300, 24, 200, mode, tensor.F64, "uniform"}, r)
		conv2dRunAll(t, conv2dCase{20, 700, 17, 160, mode, tensor.F32, "ints"}, r)
	}
}

// TestConv2DByHand: a case small enough to check by eye, and an empty
// image, whose output is zeros of the mode's size.
func TestConv2DByHand(t *testing.T) {
	img := tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})
	ker := tensor.FromFloat64([]int{2, 2}, []float64{1, 1, 1, -1})
	wants := map[string][]float64{
		"full":  {1, 3, 2, 4, 8, 2, 3, 1, -4},
		"same":  {1, 3, 4, 8}, // full's rows and columns from (2-1)//2 = 0
		"valid": {8},
	}
	for mode, want := range wants {
		runAll(t, "conv2d", wire.Args{"image": wire.TensorValue(img), "kernel": wire.TensorValue(ker), "mode": wire.String(mode)},
			func(t *testing.T, impl string, res wire.Result) {
				out, _ := res.Tensor("out")
				if fmt.Sprint(out.Float64()) != fmt.Sprint(want) {
					t.Errorf("%s %s: %v, want %v", impl, mode, out.Float64(), want)
				}
			})
	}
	empty := tensor.FromFloat32([]int{0, 3}, nil)
	k := tensor.FromFloat32([]int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	for mode, shape := range map[string]string{"full": "[2,4]", "same": "[0,3]", "valid": "[0,2]"} {
		runAll(t, "conv2d", wire.Args{"image": wire.TensorValue(empty), "kernel": wire.TensorValue(k), "mode": wire.String(mode)},
			func(t *testing.T, impl string, res wire.Result) {
				out, _ := res.Tensor("out")
				if tensor.FormatShape(out.Shape) != shape {
					t.Errorf("%s %s: shape %s, want %s", impl, mode, tensor.FormatShape(out.Shape), shape)
				}
				for _, v := range out.Float32() {
					if v != 0 || math.Signbit(float64(v)) {
						t.Errorf("%s %s: %v, want +0s", impl, mode, out.Float32())
						break
					}
				}
			})
	}
}

// TestConv2DDefaultMode: no mode is same.
func TestConv2DDefaultMode(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	img, ker := conv2dValues(r, "uniform", false, tensor.F64, 6*7), conv2dValues(r, "uniform", true, tensor.F64, 4*3)
	want, _, _, _, _ := conv2dRef("same", 6, 7, img, 4, 3, ker)
	runAll(t, "conv2d", wire.Args{"image": wire.TensorValue(conv2dTensor(tensor.F64, 6, 7, img)),
		"kernel": wire.TensorValue(conv2dTensor(tensor.F64, 4, 3, ker))},
		func(t *testing.T, impl string, res wire.Result) {
			out, _ := res.Tensor("out")
			if tensor.FormatShape(out.Shape) != "[6,7]" || math.Abs(out.Float64()[9]-want[9]) > 1e-14 {
				t.Errorf("%s: %s %v, want same mode's %v", impl, tensor.FormatShape(out.Shape), out.Float64(), want)
			}
		})
}

func TestConv2DValidation(t *testing.T) {
	f64 := func(shape ...int) wire.Value { x, _ := tensor.New(tensor.F64, shape...); return wire.TensorValue(x) }
	checkRefusals(t, "conv2d", []refusal{
		{"empty kernel rows", wire.Args{"image": f64(3, 3), "kernel": f64(0, 2)}, "must not be empty"},
		{"empty kernel cols", wire.Args{"image": f64(3, 3), "kernel": f64(2, 0)}, "[2,0]"},
	})
}

// TestConv2DBindingChecks: the Go implementation and the C binding refuse
// the same bad calls, and agree with the C library on output shapes.
func TestConv2DBindingChecks(t *testing.T) {
	img, ker, out := make([]float64, 12), make([]float64, 4), make([]float64, 20)
	for _, bad := range []struct {
		name                           string
		m                              cgo.ConvMode
		h, w, kh, kw, nImg, nKer, nOut int
	}{
		{"empty kernel", cgo.ConvSame, 3, 4, 0, 2, 12, 4, 20},
		{"negative h", cgo.ConvSame, -3, 4, 2, 2, 12, 4, 20},
		{"unknown mode", cgo.ConvMode(9), 3, 4, 2, 2, 12, 4, 20},
		{"short image", cgo.ConvSame, 3, 4, 2, 2, 11, 4, 20},
		{"short kernel", cgo.ConvSame, 3, 4, 2, 2, 12, 3, 20},
		{"short out", cgo.ConvFull, 3, 4, 2, 2, 12, 4, 19},
	} {
		if err := kernels.Conv2DGo(nil, bad.m, bad.h, bad.w, img[:bad.nImg], bad.kh, bad.kw, ker[:bad.nKer], out[:bad.nOut]); !errors.Is(err, cgo.ErrInvalid) {
			t.Errorf("go %s: %v", bad.name, err)
		}
		if err := cgo.Conv2DF64(nil, bad.m, bad.h, bad.w, img[:bad.nImg], bad.kh, bad.kw, ker[:bad.nKer], out[:bad.nOut]); !errors.Is(err, cgo.ErrInvalid) {
			t.Errorf("c %s: %v", bad.name, err)
		}
	}
	if err := cgo.Conv2DF64(nil, cgo.ConvSame, 3, 4, img, 2, 2, ker, img); !errors.Is(err, cgo.ErrInvalid) {
		t.Errorf("out overlapping image: %v", err)
	}
	for _, s := range []struct{ m, h, w, kh, kw, oh, ow int }{
		{int(cgo.ConvFull), 4, 5, 3, 2, 6, 6}, {int(cgo.ConvSame), 4, 5, 30, 2, 4, 5},
		{int(cgo.ConvValid), 4, 5, 3, 6, 2, 0}, {int(cgo.ConvValid), 0, 5, 1, 1, 0, 5},
	} {
		oh, ow, _, _, err := cgo.Conv2DShape(cgo.ConvMode(s.m), s.h, s.w, s.kh, s.kw)
		if err != nil || oh != s.oh || ow != s.ow {
			t.Errorf("%+v: %dx%d, %v", s, oh, ow, err)
		}
	}
}

// TestConv2DCancelAndProgress: a cancelled Ctx stops both implementations;
// a finished call reports every output element done.
func TestConv2DCancelAndProgress(t *testing.T) {
	op, _ := kernels.Default().Lookup("conv2d")
	img, _ := tensor.New(tensor.F64, 300, 200)
	ker, _ := tensor.New(tensor.F64, 7, 7)
	call, err := op.Prepare(wire.Args{"image": wire.TensorValue(img), "kernel": wire.TensorValue(ker), "mode": wire.String("full")})
	if err != nil {
		t.Fatal(err)
	}
	const want = 306 * 206
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := call.Run(c, impl); err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		if done, total, _ := c.Progress(); done != want || total != want {
			t.Errorf("%s: progress %d/%d, want %d", impl, done, total, want)
		}
		c.Cancel()
		if _, err := call.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", impl, err)
		}
	}
}

// TestConv2DCancelDuring: a call cancelled once it has reported progress
// stops early, in both implementations.
func TestConv2DCancelDuring(t *testing.T) {
	if testing.Short() {
		t.Skip("convolves a 2000 x 2000 image")
	}
	op, _ := kernels.Default().Lookup("conv2d")
	img, _ := tensor.New(tensor.F64, 2000, 2000)
	ker, _ := tensor.New(tensor.F64, 15, 15)
	call, err := op.Prepare(wire.Args{"image": wire.TensorValue(img), "kernel": wire.TensorValue(ker)})
	if err != nil {
		t.Fatal(err)
	}
	cancelMidway(t, op, call)
}
