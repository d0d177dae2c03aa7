package kernels

import (
	"math"
	"math/bits"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// fftInputDTypes are the dtypes fft accepts: complex, and real ones that it
// promotes as NumPy does (f32 to c64, every other real type to c128).
var fftInputDTypes = []string{"c64", "c128", "f32", "f64", "u8", "u16", "u32", "i32", "i64"}

// fftOp is the discrete Fourier transform along the last axis, with
// numpy.fft.fft / numpy.fft.ifft semantics.
var fftOp = &Op{
	Name:    "fft",
	Summary: "discrete Fourier transform along the last axis, as numpy.fft.fft/ifft",
	Doc: "discrete Fourier transform of each row (the last axis), as numpy.fft.fft, or numpy.fft.ifft " +
		"with inverse; any length n >= 1; real input is promoted (f32 to c64, others to c128)",
	Params: []Param{
		{Name: "x", Kind: "tensor", DTypes: fftInputDTypes, Ranks: []int{1, 2}, Shape: "[n] or [batch,n]", Required: true,
			Doc: "the signal, one per row; n >= 1, batch >= 0"},
		{Name: "inverse", Kind: "bool", Default: false, Doc: "compute the inverse transform (numpy.fft.ifft)"},
		{Name: "norm", Kind: "string", Default: "backward", Values: []string{"backward", "ortho", "forward"},
			Doc: "which direction is scaled, as NumPy's norm: backward (the inverse by 1/n), ortho (both by 1/sqrt(n)) or forward (the forward by 1/n)"},
	},
	Results: []Param{{Name: "y", Kind: "tensor", DTypes: []string{"c64", "c128"}, Shape: "same as x",
		Doc: "the transform: c64 for c64 and f32 input, c128 otherwise"}},
	Impls: []string{ImplC, ImplGonum},
	Bind:  prepareFFT,
}

func init() { defaultRegistry.Register(fftOp) }

// fftArgs is a validated fft request.
type fftArgs struct {
	x        *tensor.Tensor
	out      tensor.DType // C64 or C128
	inverse  bool
	norm     cgo.FFTNorm
	batch, n int
}

func prepareFFT(args Args) (*Call, error) {
	f, err := parseFFT(args)
	if err != nil {
		return nil, err
	}
	// Work in multiply-adds, about half of the usual 5 n log2 n flops;
	// lengths that need Bluestein's algorithm cost about six times more.
	work := 2.5 * float64(f.batch) * float64(f.n) * math.Log2(float64(max(f.n, 2)))
	if largestPrimeFactor(f.n) > 61 {
		work *= 6
	}
	return &Call{Work: work, OutElems: float64(f.batch) * float64(f.n),
		run: map[string]RunFunc{
			ImplC:     f.runC,
			ImplGonum: f.runGonum,
		}}, nil
}

func parseFFT(args Args) (*fftArgs, error) {
	f := &fftArgs{x: args.Tensor("x"), inverse: args.Bool("inverse")}
	var err error
	if f.norm, err = cgo.ParseFFTNorm(args.String("norm")); err != nil { // Params lists the norms cgo knows
		return nil, wire.Errorf(wire.Internal, "fft: %v", err)
	}
	f.out = tensor.C128
	if dt := f.x.DType; dt == tensor.C64 || dt == tensor.F32 {
		f.out = tensor.C64
	}
	f.batch, f.n = 1, f.x.Shape[0]
	if len(f.x.Shape) == 2 {
		f.batch, f.n = f.x.Shape[0], f.x.Shape[1]
	}
	if f.n == 0 {
		return nil, invalidf("fft: x is %s: the transform length n (its last dimension) must be at least 1, as in NumPy",
			tensor.FormatShape(f.x.Shape))
	}
	return f, nil
}

// promoted returns the result tensor, of x's shape and f.out's dtype. With
// copyX it holds x's values (real ones with imaginary part 0); otherwise it
// is only allocated, its contents undefined. The transforms read it back
// for arithmetic only, so it may lie where the reply goes.
func (f *fftArgs) promoted(mem Out, copyX bool) (*tensor.Tensor, error) {
	out, err := mem.Tensor("y", f.out, Exposed, f.x.Shape...)
	if err != nil {
		return nil, wire.Errorf(wire.TooLarge, "fft: result %s: %v", tensor.FormatShape(f.x.Shape), err)
	}
	if !copyX || f.batch == 0 {
		return out, nil
	}
	switch f.x.DType {
	case f.out: // complex input: nothing to promote
		copy(out.Data, f.x.Data)
	case tensor.F32:
		promote(out.Complex64(), f.x.Float32())
	case tensor.F64:
		promote(out.Complex128(), f.x.Float64())
	case tensor.U8:
		promote(out.Complex128(), f.x.Uint8())
	case tensor.U16:
		promote(out.Complex128(), f.x.Uint16())
	case tensor.U32:
		promote(out.Complex128(), f.x.Uint32())
	case tensor.I32:
		promote(out.Complex128(), f.x.Int32())
	case tensor.I64:
		promote(out.Complex128(), f.x.Int64())
	}
	return out, nil
}

// promote stores the real values x in o as complex numbers with imaginary
// part 0; as NumPy, int64 values beyond 2^53 are rounded.
func promote[C complex64 | complex128, R float32 | float64 | uint8 | uint16 | uint32 | int32 | int64](o []C, x []R) {
	for i, v := range x {
		o[i] = C(complex(float64(v), 0))
	}
}

// runC transforms with the C library: complex input straight into the
// result, f64 and f32 input by the library's real transform (no promoted
// copy, half the work), other real input promoted into the result and
// transformed in place.
func (f *fftArgs) runC(x *cgo.Ctx, o Out) (wire.Result, error) {
	realIn := f.x.DType == tensor.F64 || f.x.DType == tensor.F32
	direct := f.x.DType == f.out || realIn // nothing to promote
	out, err := f.promoted(o, !direct)
	if err != nil {
		return nil, err
	}
	switch {
	case f.x.DType == tensor.F64:
		err = cgo.FFTF64(x, f.inverse, f.norm, f.batch, f.n, f.x.Float64(), out.Complex128())
	case f.x.DType == tensor.F32:
		err = cgo.FFTF32(x, f.inverse, f.norm, f.batch, f.n, f.x.Float32(), out.Complex64())
	case f.out == tensor.C128 && direct:
		err = cgo.FFTC128(x, f.inverse, f.norm, f.batch, f.n, f.x.Complex128(), out.Complex128())
	case f.out == tensor.C128:
		err = cgo.FFTC128(x, f.inverse, f.norm, f.batch, f.n, out.Complex128(), out.Complex128())
	case direct:
		err = cgo.FFTC64(x, f.inverse, f.norm, f.batch, f.n, f.x.Complex64(), out.Complex64())
	default:
		err = cgo.FFTC64(x, f.inverse, f.norm, f.batch, f.n, out.Complex64(), out.Complex64())
	}
	if err != nil {
		return nil, fromC("fft", err)
	}
	return wire.Result{"y": wire.TensorValue(out)}, nil
}

// runGonum transforms each row with gonum's dsp/fourier, in complex128
// (c64 rows are widened and rounded back). It polls x and reports
// progress once per row.
func (f *fftArgs) runGonum(x *cgo.Ctx, o Out) (wire.Result, error) {
	out, err := f.promoted(o, true)
	if err != nil {
		return nil, err
	}
	x.Begin(int64(f.batch))
	if f.batch == 0 {
		return wire.Result{"y": wire.TensorValue(out)}, nil
	}
	t := NewFFTGo(f.n)
	scale := fftScale(f.norm, f.inverse, f.n)
	var row []complex128
	if f.out == tensor.C64 {
		row = make([]complex128, f.n)
	}
	for b := range f.batch {
		if x.Canceled() {
			return nil, canceled
		}
		if f.out == tensor.C128 {
			row = out.Complex128()[b*f.n : (b+1)*f.n]
		} else {
			for i, v := range out.Complex64()[b*f.n : (b+1)*f.n] {
				row[i] = complex128(v)
			}
		}
		t.Transform(row, f.inverse)
		if scale != 1 {
			for i := range row {
				row[i] *= complex(scale, 0)
			}
		}
		if f.out == tensor.C64 {
			o := out.Complex64()[b*f.n : (b+1)*f.n]
			for i, v := range row {
				o[i] = complex64(v)
			}
		}
		x.Add(1)
	}
	return wire.Result{"y": wire.TensorValue(out)}, nil
}

// fftScale is NumPy's normalisation factor for a transform of length n.
func fftScale(norm cgo.FFTNorm, inverse bool, n int) float64 {
	switch {
	case norm == cgo.FFTOrtho:
		return 1 / math.Sqrt(float64(n))
	case (norm == cgo.FFTForward) != inverse:
		return 1 / float64(n)
	}
	return 1
}

// goBluesteinAbove is the largest prime factor gonum's FFTPACK handles
// directly in FFTGo: its generic pass costs O(p) per element for a prime
// factor p, so beyond this Bluestein's O(n log n) is cheaper.
const goBluesteinAbove = 128

// FFTGo is the pure-Go FFT of length n behind fft's gonum implementation:
// gonum's CmplxFFT (FFTPACK: mixed radix 2, 3, 4, 5 and a generic odd
// pass), with Bluestein's chirp-z algorithm over a power-of-two CmplxFFT
// when n has a prime factor above goBluesteinAbove. Not safe for
// concurrent use: it holds work space.
type FFTGo struct {
	n      int
	direct *fourier.CmplxFFT
	// Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c_{k-j}), c_k = exp(-pi i k^2/n),
	// a cyclic convolution of length m >= 2n-1.
	sub   *fourier.CmplxFFT
	chirp []complex128 // c_k, k < n
	kern  []complex128 // FFT of the conjugate chirp, wrapped to length m, divided by m
	work  []complex128 // m
}

// NewFFTGo returns an FFTGo for length n >= 1.
func NewFFTGo(n int) *FFTGo {
	t := &FFTGo{n: n}
	if largestPrimeFactor(n) <= goBluesteinAbove {
		t.direct = fourier.NewCmplxFFT(n)
		return t
	}
	m := 1 << bits.Len(uint(2*n-2)) // the power of two >= 2n-1
	t.sub = fourier.NewCmplxFFT(m)
	t.chirp = make([]complex128, n)
	t.kern = make([]complex128, m)
	t.work = make([]complex128, m)
	r := 0 // k^2 mod 2n, exactly: (k+1)^2 - k^2 = 2k+1 < 2n
	for k := range n {
		s, c := math.Sincos(math.Pi * float64(r) / float64(n))
		t.chirp[k] = complex(c, -s)
		t.kern[k] = complex(c, s) // conj(c_k) at k and at m-k
		if k > 0 {
			t.kern[m-k] = complex(c, s)
		}
		r += 2*k + 1
		if r >= 2*n {
			r -= 2 * n
		}
	}
	t.sub.Coefficients(t.kern, t.kern)
	for i := range t.kern {
		t.kern[i] /= complex(float64(m), 0)
	}
	return t
}

// Transform replaces row (length n) by its unnormalised DFT, with
// exp(-2 pi i jk/n) forward and exp(+2 pi i jk/n) when inverse.
func (t *FFTGo) Transform(row []complex128, inverse bool) {
	if t.direct != nil {
		if inverse {
			t.direct.Sequence(row, row) // FFTPACK's backward transform: unnormalised
		} else {
			t.direct.Coefficients(row, row)
		}
		return
	}
	// The inverse is the forward transform conjugated on the way in and out.
	conj := func(v complex128) complex128 {
		if inverse {
			return complex(real(v), -imag(v))
		}
		return v
	}
	a := t.work
	for k, v := range row {
		a[k] = conj(v) * t.chirp[k]
	}
	clear(a[t.n:])
	t.sub.Coefficients(a, a)
	for k := range a {
		a[k] *= t.kern[k]
	}
	t.sub.Sequence(a, a)
	for k := range row {
		row[k] = conj(a[k] * t.chirp[k])
	}
}

// largestPrimeFactor returns n's largest prime factor (1 for n <= 1).
func largestPrimeFactor(n int) int {
	p := 1
	for f := 2; f*f <= n; f++ {
		for n%f == 0 {
			n /= f
			p = f
		}
	}
	if n > 1 {
		p = n
	}
	return p
}
