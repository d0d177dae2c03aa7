package conform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// fftFullMax is the largest batch*n compared bin by bin with the O(n^2)
// reference; larger ones are compared with the pure-Go FFT and, on
// fftSpotBins bins per row, with the reference.
const (
	fftFullMax  = 1100
	fftSpotBins = 8
)

// fftTol bounds the error per bin in units of eps*(log2 n + 1)*scale*||x||_2
// (an FFT's rms error is about eps*log2(n)*scale*||x||_2); the C tests print
// the largest ratio they see, about 2.
const fftTol = 8

// fftCase is one transform: a length, a batch, the kind of values, whether
// the input is real (promoted by the op), the dtype, direction and norm.
type fftCase struct {
	n, batch int
	values   string // random, tiny, huge, or special: row 1 holds a NaN, row 2 an Inf
	real     bool
	dt       tensor.DType
	inverse  bool
	norm     string
}

// fftCases: lengths 1, 2, small primes, powers of two and their
// neighbours, products of small primes, lengths with a large prime factor
// (Bluestein in C), and large ones; c128 and c64 (or f64 and f32 when
// real), both directions, the norm rotating; an empty batch; and NumPy's
// results for small inputs exactly representable.
func fftCases() []Case {
	var rows []fftCase
	for i, n := range []int{1, 2, 3, 4, 5, 7, 8, 12, 16, 31, 60, 61, 67, 97, 127, 128, 360, 1000, 1009, 1023, 1024, 1025} {
		rows = append(rows,
			fftCase{n: n, batch: 1, values: "random"},
			fftCase{n: n, batch: 3, values: []string{"random", "tiny", "huge"}[i%3], real: i%2 == 0},
			fftCase{n: n, batch: 3, values: "special", real: i%2 == 1})
	}
	for _, n := range []int{4096, 4099, 65536, 65537, 1 << 20} {
		rows = append(rows, fftCase{n: n, batch: 1, values: "random"})
	}
	for _, n := range []int{4098, 65536, 1 << 20} { // real rows: a half length for Bluestein (2049), powers of two
		rows = append(rows, fftCase{n: n, batch: 1, values: "random", real: true})
	}
	rows = append(rows, fftCase{n: 8, batch: 0, values: "random"}) // an empty batch
	norms := []string{"backward", "ortho", "forward"}
	var cases []Case
	for ri, c := range rows {
		for _, dt := range []tensor.DType{tensor.C128, tensor.C64} {
			for _, inverse := range []bool{false, true} {
				if c.n > 65537 && inverse != (dt == tensor.C64) {
					continue // 2^20: forward in c128, inverse in c64
				}
				c.dt, c.inverse, c.norm = dt, inverse, norms[(ri+len(norms)*btoi(inverse))%3]
				seed := len(cases)
				cases = append(cases, Case{
					Name:  fmt.Sprintf("%s n=%d batch=%d %s real=%v inverse=%v norm=%s", dt, c.n, c.batch, c.values, c.real, inverse, c.norm),
					Size:  c.n * max(c.batch, 1) * (1 + int(math.Log2(float64(c.n)))),
					Build: func() (wire.Args, Check) { return c.build(seeded(11, seed)) },
				})
			}
		}
	}
	return append(append(cases, fftKnown()...), refusals("fft", []refusal{
		{"n = 0", wire.Args{"x": zeros(0)}, "at least 1"},
		{"rows of 0", wire.Args{"x": zeros(3, 0)}, "at least 1"},
	})...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// input makes the case's input tensor (real cases use the matching real
// dtype: f32 for c64, f64 for c128) and returns it with its values widened
// to complex128, the reference's input.
func (c fftCase) input(r *rand.Rand) (*tensor.Tensor, []complex128) {
	mag := 1.0
	switch c.values {
	case "tiny":
		mag = map[tensor.DType]float64{tensor.C128: 1e-300, tensor.C64: 1e-30}[c.dt]
	case "huge":
		mag = map[tensor.DType]float64{tensor.C128: 1e300, tensor.C64: 1e30}[c.dt]
	}
	total := c.batch * c.n
	want := make([]complex128, total)
	for i := range want {
		re, im := (r.Float64()*2-1)*mag, (r.Float64()*2-1)*mag
		if c.real {
			im = 0
		}
		if c.dt == tensor.C64 { // the values a c64 or f32 tensor holds
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
	case c.dt == tensor.C128 && c.real:
		v := make([]float64, total)
		for i, z := range want {
			v[i] = real(z)
		}
		return tensor.FromFloat64(shape, v), want
	case c.dt == tensor.C128:
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

// build makes the request and checks every bin (small n), or spot bins
// and the pure-Go FFT (large n), against the reference; a row holding a
// NaN or Inf must hold no finite bin.
func (c fftCase) build(r *rand.Rand) (wire.Args, Check) {
	eps := map[tensor.DType]float64{tensor.C128: 0x1p-53, tensor.C64: 0x1p-24}[c.dt]
	in, xs := c.input(r)
	scale := fftScale(c.norm, c.inverse, c.n)
	full := c.n*max(c.batch, 1) <= fftFullMax
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
	w := dftRoots(c.n)
	ref := make([][]complex128, c.batch) // per row, per bin
	var goRows [][]complex128            // large n: the whole Go transform
	norm2 := make([]float64, c.batch)
	for b := range c.batch {
		row := xs[b*c.n : (b+1)*c.n]
		norm2[b] = norm2Of(row)
		for _, k := range bins {
			ref[b] = append(ref[b], dftBin(w, row, k, c.inverse)*complex(scale, 0))
		}
		if !full {
			g := append([]complex128(nil), row...)
			kernels.NewFFTGo(c.n).Transform(g, c.inverse)
			goRows = append(goRows, g)
		}
	}
	args := wire.Args{"x": wire.TensorValue(in), "inverse": wire.Bool(c.inverse), "norm": wire.String(c.norm)}
	return args, ok(func(res wire.Result) error {
		y, err := resultTensor(res, "y", c.dt, in.Shape...)
		if err != nil {
			return err
		}
		for b := range c.batch {
			special := c.values == "special" && (b == 1 || b == 2)
			unit := eps * (math.Log2(float64(c.n)) + 1) * scale * norm2[b]
			for i, k := range bins {
				got := complexAt(y, b*c.n+k)
				if special {
					if finite(got) {
						return fmt.Errorf("row %d holds a NaN or Inf but bin %d = %v", b, k, got)
					}
					continue
				}
				if e := cmplxAbs(got - ref[b][i]); !(e <= fftTol*unit) {
					return fmt.Errorf("row %d bin %d = %v, want %v (error %.3g = %.1f units)", b, k, got, ref[b][i], e, e/unit)
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
			if !(worst <= 2*fftTol*unit) {
				return fmt.Errorf("row %d differs from the Go FFT by %.3g (%.1f units)", b, worst, worst/unit)
			}
		}
		return nil
	})
}

// fftKnown pins NumPy's results for small inputs exactly representable:
// np.fft.fft([1, 2, 3, 4]) and friends, one with the defaults.
func fftKnown() []Case {
	known := []struct {
		x       *tensor.Tensor
		inverse bool
		norm    string
		want    []complex128
	}{
		{tensor.FromFloat64([]int{4}, []float64{1, 2, 3, 4}), false, "", []complex128{10, -2 + 2i, -2, -2 - 2i}}, // the defaults
		{tensor.FromComplex128([]int{4}, []complex128{1, 2, 3, 4}), false, "ortho", []complex128{5, -1 + 1i, -1, -1 - 1i}},
		{tensor.FromComplex128([]int{4}, []complex128{1, 2, 3, 4}), true, "forward", []complex128{10, -2 - 2i, -2, -2 + 2i}},
		{tensor.FromInt64([]int{4}, []int64{1, 2, 3, 4}), false, "forward", []complex128{2.5, -0.5 + 0.5i, -0.5, -0.5 - 0.5i}},
		{tensor.FromComplex128([]int{4}, []complex128{10, -2 + 2i, -2, -2 - 2i}), true, "backward", []complex128{1, 2, 3, 4}},
		{tensor.FromUint8([]int{2, 2}, []uint8{1, 1, 3, 1}), false, "ortho", []complex128{complex(math.Sqrt2, 0), 0, complex(2*math.Sqrt2, 0), complex(math.Sqrt2, 0)}},
		{tensor.FromFloat32([]int{1}, []float32{-3}), true, "forward", []complex128{-3}},
	}
	cases := make([]Case, len(known))
	for i, k := range known {
		cases[i] = Case{
			Name: fmt.Sprintf("NumPy's %s %s inverse=%v norm=%s", k.x.DType, tensor.FormatShape(k.x.Shape), k.inverse, k.norm),
			Size: len(k.want),
			Build: func() (wire.Args, Check) {
				dt := tensor.C128
				if k.x.DType == tensor.F32 {
					dt = tensor.C64
				}
				args := wire.Args{"x": wire.TensorValue(k.x)}
				if k.norm != "" { // else the op's defaults: forward, backward
					args["inverse"], args["norm"] = wire.Bool(k.inverse), wire.String(k.norm)
				}
				return args, ok(func(res wire.Result) error {
					y, err := resultTensor(res, "y", dt, k.x.Shape...)
					if err != nil {
						return err
					}
					for j, want := range k.want {
						if got := complexAt(y, j); cmplxAbs(got-want) > 1e-15*8 {
							return fmt.Errorf("y[%d] = %v, want %v", j, got, want)
						}
					}
					return nil
				})
			},
		}
	}
	return cases
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

// fftScale is NumPy's factor: backward scales the inverse by 1/n,
// forward the forward transform, ortho both by 1/sqrt(n).
func fftScale(norm string, inverse bool, n int) float64 {
	switch {
	case norm == "ortho":
		return 1 / math.Sqrt(float64(n))
	case (norm == "forward") != inverse:
		return 1 / float64(n)
	}
	return 1
}

func cmplxAbs(z complex128) float64 { return math.Hypot(real(z), imag(z)) }
