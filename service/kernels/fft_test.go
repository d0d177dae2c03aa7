package kernels_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// fftFullMax is the largest batch*n compared bin by bin with the O(n^2)
// reference; larger ones are compared with the pure-Go FFT (gonum) and,
// on fftSpotBins bins per row, with the reference.
const (
	fftFullMax  = 1100
	fftSpotBins = 8
)

// fftTolC bounds the error per bin in units of eps*(log2 n + 1)*scale*||x||_2
// (an FFT's rms error is about eps*log2(n)*scale*||x||_2); the C tests print
// the largest ratio they see, about 2.
const fftTolC = 8

// fftCase is one row of the shared table: a length, a batch, the kind of
// values, and whether the input is real (promoted by the op).
type fftCase struct {
	n, batch int
	values   string // random, tiny, huge, or special: row 1 holds a NaN, row 2 an Inf
	real     bool
}

// fftTable is the table every implementation meets: lengths 1, 2, small
// primes, powers of two and their neighbours, products of small primes,
// lengths with a large prime factor (Bluestein in C), and large ones.
func fftTable() []fftCase {
	var cases []fftCase
	for i, n := range []int{1, 2, 3, 4, 5, 7, 8, 12, 16, 31, 60, 61, 67, 97, 127, 128, 360, 1000, 1009, 1023, 1024, 1025} {
		cases = append(cases, fftCase{n, 1, "random", false})
		cases = append(cases, fftCase{n, 3, []string{"random", "tiny", "huge"}[i%3], i%2 == 0})
		cases = append(cases, fftCase{n, 3, "special", i%2 == 1})
	}
	for _, n := range []int{4096, 4099, 65536, 65537, 1 << 20} {
		cases = append(cases, fftCase{n, 1, "random", false})
	}
	for _, n := range []int{4098, 65536, 1 << 20} { // real rows: a half length for Bluestein (2049), powers of two
		cases = append(cases, fftCase{n, 1, "random", true})
	}
	cases = append(cases, fftCase{0 + 8, 0, "random", false}) // an empty batch
	return cases
}

// fftInput makes the case's input tensor of dtype dt (real cases use the
// matching real dtype: f32 for c64, f64 for c128) and returns it with its
// values widened to complex128, the reference's input.
func fftInput(r *rand.Rand, dt tensor.DType, c fftCase) (*tensor.Tensor, []complex128) {
	mag := 1.0
	switch c.values {
	case "tiny":
		mag = map[tensor.DType]float64{tensor.C128: 1e-300, tensor.C64: 1e-30}[dt]
	case "huge":
		mag = map[tensor.DType]float64{tensor.C128: 1e300, tensor.C64: 1e30}[dt]
	}
	total := c.batch * c.n
	want := make([]complex128, total)
	for i := range want {
		re, im := (r.Float64()*2-1)*mag, (r.Float64()*2-1)*mag
		if c.real {
			im = 0
		}
		if dt == tensor.C64 { // the values a c64 or f32 tensor holds
			re, im = float64(float32(re)), float64(float32(im))
		}
		want[i] = complex(re, im)
	}
	if c.values == "special" && c.batch >= 3 {
		want[c.n+c.n/3] = complex(math.NaN(), 0)
		want[2*c.n+c.n/3] = complex(0, math.Inf(-1))
		if c.real {
			want[2*c.n+c.n/3] = complex(math.Inf(-1), 0)
		}
	}
	shape := []int{c.batch, c.n}
	if c.batch == 1 {
		shape = []int{c.n}
	}
	switch {
	case dt == tensor.C128 && c.real:
		v := make([]float64, total)
		for i, z := range want {
			v[i] = real(z)
		}
		return tensor.FromFloat64(shape, v), want
	case dt == tensor.C128:
		return tensor.FromComplex128(shape, append([]complex128(nil), want...)), want
	case c.real:
		v := make([]float32, total)
		for i, z := range want {
			v[i] = float32(real(z))
		}
		return tensor.FromFloat32(shape, v), want
	default:
		v := make([]complex64, total)
		for i, z := range want {
			v[i] = complex64(z)
		}
		return tensor.FromComplex64(shape, v), want
	}
}

// fftDD is a double-double accumulator: hi + lo holds a sum to about 2^-106.
type fftDD struct{ hi, lo float64 }

// add adds a (Knuth's two-sum).
func (s *fftDD) add(a float64) {
	t := s.hi + a
	bp := t - s.hi
	s.lo += (s.hi - (t - bp)) + (a - bp)
	s.hi = t
}

// addProd adds a*b exactly (the product's rounding error through FMA).
func (s *fftDD) addProd(a, b float64) {
	p := a * b
	s.add(p)
	s.lo += math.FMA(a, b, -p)
}

// dftRoots returns exp(-2 pi i t/n) for t < n, each within an ulp.
func dftRoots(n int) []complex128 {
	w := make([]complex128, n)
	for t := range w {
		s, c := math.Sincos(2 * math.Pi * float64(t) / float64(n))
		w[t] = complex(c, -s)
	}
	return w
}

// dftBin is bin k of the unnormalised DFT of x by its definition, with
// products and sums in double-double: the reference.
func dftBin(w, x []complex128, k int, inverse bool) complex128 {
	n := len(x)
	var re, im fftDD
	t := 0 // j*k mod n
	for j := range n {
		c, s := real(w[t]), imag(w[t])
		if inverse {
			s = -s
		}
		xr, xi := real(x[j]), imag(x[j])
		re.addProd(xr, c)
		re.addProd(-xi, s)
		im.addProd(xr, s)
		im.addProd(xi, c)
		if t += k % n; t >= n {
			t -= n
		}
	}
	return complex(re.hi+re.lo, im.hi+im.lo)
}

// fftRun prepares args and runs them with every implementation on every
// SIMD path, checking progress, and hands each result to check.
func fftRun(t *testing.T, args wire.Args, check func(impl string, y *tensor.Tensor)) {
	t.Helper()
	eachRun(t, "fft", args, func(where string, x *cgo.Ctx, res wire.Result, err error) {
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if done, total, _ := x.Progress(); done != total {
			t.Errorf("%s: progress %d of %d after success", where, done, total)
		}
		y, err := res.Tensor("y")
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		check(where, y)
	})
}

// complexAt returns element i of a c64 or c128 tensor as complex128.
func complexAt(y *tensor.Tensor, i int) complex128 {
	if y.DType == tensor.C64 {
		return complex128(y.Complex64()[i])
	}
	return y.Complex128()[i]
}

func finite(z complex128) bool {
	return !math.IsNaN(real(z)) && !math.IsNaN(imag(z)) && !math.IsInf(real(z), 0) && !math.IsInf(imag(z), 0)
}

func TestFFTTable(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	norms := []string{"backward", "ortho", "forward"}
	for ci, c := range fftTable() {
		if testing.Short() && c.n > 65537 {
			continue
		}
		w := dftRoots(c.n)
		for _, dt := range []tensor.DType{tensor.C128, tensor.C64} {
			eps := map[tensor.DType]float64{tensor.C128: 0x1p-53, tensor.C64: 0x1p-24}[dt]
			in, xs := fftInput(r, dt, c)
			for _, inverse := range []bool{false, true} {
				if c.n > 65537 && inverse != (dt == tensor.C64) {
					continue // 2^20: forward in c128, inverse in c64 (it is slow under -race)
				}
				norm := norms[(ci+len(norms)*btoi(inverse))%3]
				scale := fftScaleRef(norm, inverse, c.n)
				// the reference: every bin (small n), or spot bins and the
				// pure-Go FFT (large n)
				full := c.n*max(c.batch, 1) <= fftFullMax // else spot bins and the Go FFT
				bins := make([]int, 0, c.n)
				if full {
					for k := range c.n {
						bins = append(bins, k)
					}
				} else {
					bins = append(bins, 0, c.n-1, c.n/2)
					for len(bins) < fftSpotBins {
						bins = append(bins, r.IntN(c.n))
					}
				}
				ref := make([][]complex128, c.batch) // per row, per bin
				var goRows [][]complex128            // large n: the whole Go transform
				norm2 := make([]float64, c.batch)
				for b := range c.batch {
					row := xs[b*c.n : (b+1)*c.n]
					norm2[b] = norm2Of(row)
					for _, k := range bins {
						ref[b] = append(ref[b], dftBin(w, row, k, inverse)*complex(scale, 0))
					}
					if !full {
						g := append([]complex128(nil), row...)
						kernels.NewFFTGo(c.n).Transform(g, inverse)
						goRows = append(goRows, g)
					}
				}
				args := wire.Args{"x": wire.TensorValue(in), "inverse": wire.Bool(inverse), "norm": wire.String(norm)}
				desc := fmt.Sprintf("%s n=%d batch=%d %s real=%v inverse=%v norm=%s", dt, c.n, c.batch, c.values, c.real, inverse, norm)
				fftRun(t, args, func(impl string, y *tensor.Tensor) {
					if y.DType != dt || fmt.Sprint(y.Shape) != fmt.Sprint(in.Shape) {
						t.Fatalf("%s %s: result %s, want %s%v", impl, desc, y, dt, in.Shape)
					}
					for b := range c.batch {
						special := c.values == "special" && (b == 1 || b == 2)
						unit := eps * (math.Log2(float64(c.n)) + 1) * scale * norm2[b]
						for i, k := range bins {
							got := complexAt(y, b*c.n+k)
							if special {
								if finite(got) {
									t.Fatalf("%s %s: row %d holds a NaN or Inf but bin %d = %v", impl, desc, b, k, got)
								}
								continue
							}
							if e := cmplxAbs(got - ref[b][i]); !(e <= fftTolC*unit) {
								t.Fatalf("%s %s: row %d bin %d = %v, want %v (error %.3g = %.1f units)", impl, desc, b, k, got, ref[b][i], e, e/unit)
							}
						}
						if goRows == nil || special {
							continue
						}
						worst := 0.0
						for k, v := range goRows[b] {
							worst = math.Max(worst, cmplxAbs(complexAt(y, b*c.n+k)-v*complex(scale, 0)))
						}
						// both sides err: twice the bound
						if !(worst <= 2*fftTolC*unit) {
							t.Fatalf("%s %s: row %d differs from the Go FFT by %.3g (%.1f units)", impl, desc, b, worst, worst/unit)
						}
					}
				})
			}
		}
	}
}

// norm2Of is the 2-norm of x, scaled so that tiny and huge values neither
// underflow nor overflow when squared (NaN and Inf give NaN or Inf).
func norm2Of(x []complex128) float64 {
	big := 0.0
	for _, z := range x {
		big = math.Max(big, math.Max(math.Abs(real(z)), math.Abs(imag(z))))
	}
	if big == 0 || math.IsInf(big, 0) || math.IsNaN(big) {
		return big
	}
	var s float64
	for _, z := range x {
		r, i := real(z)/big, imag(z)/big
		s += r*r + i*i
	}
	return big * math.Sqrt(s)
}

// fftScaleRef is NumPy's factor: backward scales the inverse by 1/n,
// forward the forward transform, ortho both by 1/sqrt(n).
func fftScaleRef(norm string, inverse bool, n int) float64 {
	switch {
	case norm == "ortho":
		return 1 / math.Sqrt(float64(n))
	case (norm == "forward") != inverse:
		return 1 / float64(n)
	}
	return 1
}

func cmplxAbs(z complex128) float64 { return math.Hypot(real(z), imag(z)) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFFTKnownValues pins NumPy's results for small inputs exactly
// representable: np.fft.fft([1, 2, 3, 4]) and friends.
func TestFFTKnownValues(t *testing.T) {
	cases := []struct {
		x       *tensor.Tensor
		inverse bool
		norm    string
		want    []complex128
	}{
		{tensor.FromFloat64([]int{4}, []float64{1, 2, 3, 4}), false, "backward", []complex128{10, -2 + 2i, -2, -2 - 2i}},
		{tensor.FromInt64([]int{4}, []int64{1, 2, 3, 4}), false, "forward", []complex128{2.5, -0.5 + 0.5i, -0.5, -0.5 - 0.5i}},
		{tensor.FromComplex128([]int{4}, []complex128{10, -2 + 2i, -2, -2 - 2i}), true, "backward", []complex128{1, 2, 3, 4}},
		{tensor.FromUint8([]int{2, 2}, []uint8{1, 1, 3, 1}), false, "ortho", []complex128{complex(math.Sqrt2, 0), 0, complex(2*math.Sqrt2, 0), complex(math.Sqrt2, 0)}},
		{tensor.FromFloat32([]int{1}, []float32{-3}), true, "forward", []complex128{-3}},
	}
	for i, c := range cases {
		fftRun(t, wire.Args{"x": wire.TensorValue(c.x), "inverse": wire.Bool(c.inverse), "norm": wire.String(c.norm)}, func(impl string, y *tensor.Tensor) {
			wantDT := tensor.C128
			if c.x.DType == tensor.F32 {
				wantDT = tensor.C64
			}
			if y.DType != wantDT {
				t.Fatalf("case %d %s: dtype %s, want %s", i, impl, y.DType, wantDT)
			}
			for k, want := range c.want {
				if got := complexAt(y, k); cmplxAbs(got-want) > 1e-15*8 {
					t.Errorf("case %d %s: y[%d] = %v, want %v", i, impl, k, got, want)
				}
			}
		})
	}
}

// TestFFTRoundTrip: ifft(fft(x)) is x, for every norm and implementation.
func TestFFTRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	op, _ := kernels.Default().Lookup("fft")
	for _, n := range []int{1, 6, 97, 1024, 1031} {
		in, xs := fftInput(r, tensor.C128, fftCase{n, 2, "random", false})
		for _, norm := range []string{"backward", "ortho", "forward"} {
			for _, impl := range op.Impls {
				fwd, err := op.Prepare(wire.Args{"x": wire.TensorValue(in), "norm": wire.String(norm)})
				if err != nil {
					t.Fatal(err)
				}
				res, err := fwd.Run(nil, impl)
				if err != nil {
					t.Fatal(err)
				}
				inv, _ := op.Prepare(wire.Args{"x": res["y"], "norm": wire.String(norm), "inverse": wire.Bool(true)})
				res, err = inv.Run(nil, impl)
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range xs {
					if got := res["y"].Tensor.Complex128()[i]; cmplxAbs(got-want) > 1e-14*math.Log2(float64(n)+1) {
						t.Fatalf("%s n=%d norm=%s: x[%d] came back as %v, was %v", impl, n, norm, i, got, want)
					}
				}
			}
		}
	}
}

func TestFFTValidation(t *testing.T) {
	vec := func(dt tensor.DType, shape ...int) wire.Value {
		m, _ := tensor.New(dt, shape...)
		return wire.TensorValue(m)
	}
	checkRefusals(t, "fft", []refusal{
		{"n = 0", wire.Args{"x": vec(tensor.C128, 0)}, "at least 1"},
		{"rows of 0", wire.Args{"x": vec(tensor.F64, 3, 0)}, "at least 1"},
	})
	op, _ := kernels.Default().Lookup("fft")
	// an empty batch is fine, and null means the default
	call, err := op.Prepare(wire.Args{"x": vec(tensor.F32, 0, 5), "norm": wire.Null(), "inverse": wire.Null()})
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		res, err := call.Run(nil, impl)
		if err != nil || res["y"].Tensor.DType != tensor.C64 || fmt.Sprint(res["y"].Tensor.Shape) != "[0 5]" {
			t.Errorf("%s: empty batch gave %v, %v", impl, res, err)
		}
	}
}

func TestFFTCancel(t *testing.T) {
	op, _ := kernels.Default().Lookup("fft")
	x, _ := tensor.New(tensor.C128, 64, 4096)
	call, err := op.Prepare(wire.Args{"x": wire.TensorValue(x)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := cgo.NewCtx()
	ctx.Cancel()
	for _, impl := range op.Impls {
		if _, err := call.Run(ctx, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("fft %s on a cancelled ctx: %v", impl, err)
		}
	}
}

// The C binding refuses slices that cannot back its sizes.
func TestFFTBindingChecks(t *testing.T) {
	a, b := make([]complex128, 8), make([]complex128, 8)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"short in", cgo.FFTC128(nil, false, cgo.FFTBackward, 3, 4, a, make([]complex128, 12))},
		{"short out", cgo.FFTC128(nil, false, cgo.FFTBackward, 2, 4, a, b[:7])},
		{"overlap", cgo.FFTC128(nil, false, cgo.FFTBackward, 1, 4, a[:4], a[1:5])},
		{"negative", cgo.FFTC64(nil, false, cgo.FFTBackward, -1, 4, nil, nil)},
		{"n = 0", cgo.FFTC128(nil, false, cgo.FFTBackward, 1, 0, a, b)},
		{"bad norm", cgo.FFTC128(nil, false, cgo.FFTNorm(9), 1, 4, a, b)},
		{"real short in", cgo.FFTF64(nil, false, cgo.FFTBackward, 2, 4, make([]float64, 7), b)},
		{"real short out", cgo.FFTF32(nil, false, cgo.FFTBackward, 2, 4, make([]float32, 8), make([]complex64, 7))},
		{"real overlap", cgo.FFTF64(nil, false, cgo.FFTBackward, 1, 4, realView(a[2:4]), a[:4])},
	} {
		if !errors.Is(tc.err, cgo.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid argument", tc.name, tc.err)
		}
	}
	if err := cgo.FFTF64(nil, false, cgo.FFTBackward, 2, 4, make([]float64, 8), a); err != nil {
		t.Errorf("real: %v", err)
	}
	if err := cgo.FFTC128(nil, false, cgo.FFTBackward, 2, 4, a, a); err != nil {
		t.Errorf("in place: %v", err)
	}
	cgo.FFTCacheClear()
}

// realView is c's memory as float64s (re, im, re, im, ...).
func realView(c []complex128) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(c))), 2*len(c))
}
