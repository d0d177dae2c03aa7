package conform

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Case is one request of an op's conformance suite, with the check of its
// outcome: the kernels' tests run it with every implementation on every
// SIMD path, the server's over every executor and message form.
type Case struct {
	// Name says what the request holds, e.g. "f64 n=17 uniform".
	Name string
	// Size is about how many elementary operations the call costs: the
	// server's suite, which runs each case many times over, takes the
	// small. A refusal's is 0.
	Size int
	// Build makes the request's arguments and the check of a run's
	// outcome. It is deterministic (each case seeds its own generator) and
	// called only when the case runs, so a table holds no arrays.
	Build func() (wire.Args, Check)
}

// Check judges one run of a case: nil when res, or err for a request the
// op must refuse or fail, is what the op promises.
type Check func(res wire.Result, err error) error

// suites holds every op's cases, by op name; each op's file defines its
// own.
var suites = map[string]func() []Case{
	"conv2d": conv2dCases, "fft": fftCases, "gemm": gemmCases,
	"histogram": histogramCases, "mandelbrot": mandelbrotCases, "modsum": modsumCases,
	"solve": solveCases, "sort": sortCases, "stats": statsCases,
}

// Cases returns op's conformance cases, or nil when it has none (which the
// suites refuse: every op has cases).
func Cases(op string) []Case {
	if f := suites[op]; f != nil {
		return f()
	}
	return nil
}

// ok is the Check of a call that must succeed: check sees its result.
func ok(check func(res wire.Result) error) Check {
	return func(res wire.Result, err error) error {
		if err != nil {
			return fmt.Errorf("failed: %w", err)
		}
		return check(res)
	}
}

// fails is the Check of a call that must fail with code.
func fails(code wire.Code) Check {
	return func(_ wire.Result, err error) error {
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != code {
			return fmt.Errorf("got %v, want a %s error", err, code)
		}
		return nil
	}
}

// refusals are cases of requests op must refuse for a rule its Params
// cannot state (shapes that must agree, say): each must fail with
// invalid_argument, its message starting with the op's name and holding
// the case's mention.
func refusals(op string, table []refusal) []Case {
	cases := make([]Case, len(table))
	for i, r := range table {
		cases[i] = Case{Name: "refused: " + r.name, Build: func() (wire.Args, Check) {
			return r.args, func(_ wire.Result, err error) error {
				var e *wire.Error
				if !errors.As(err, &e) || e.Code != wire.InvalidArgument {
					return fmt.Errorf("got %v, want invalid_argument", err)
				}
				if !strings.HasPrefix(e.Message, op+": ") || !strings.Contains(e.Message, r.mention) {
					return fmt.Errorf("message %q does not start with %q and mention %q", e.Message, op, r.mention)
				}
				return nil
			}
		}}
	}
	return cases
}

// refusal is a request an op refuses, and what its message must mention.
type refusal struct {
	name    string
	args    wire.Args
	mention string
}

// zeros is a wire value holding a zero f64 tensor of shape.
func zeros(shape ...int) wire.Value {
	t, err := tensor.New(tensor.F64, shape...)
	if err != nil {
		panic(err)
	}
	return wire.TensorValue(t)
}

// vector is a wire value holding an f64 vector of v.
func vector(v ...float64) wire.Value { return wire.TensorValue(tensor.FromFloat64([]int{len(v)}, v)) }

// seeded returns a generator for case i of a table: every case draws its
// own values, whichever cases run.
func seeded(table, i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(table), uint64(i)))
}

// realTensor makes a tensor of dt (f32 or f64) and shape holding v, each
// value rounded to dt.
func realTensor(dt tensor.DType, shape []int, v []float64) *tensor.Tensor {
	if dt == tensor.F64 {
		return tensor.FromFloat64(shape, v)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.FromFloat32(shape, f)
}

// roundTo rounds every value to dt in place (for f32: what the tensor
// will hold, so that the reference sees what the kernels see).
func roundTo(dt tensor.DType, v []float64) []float64 {
	if dt == tensor.F32 {
		for i, x := range v {
			v[i] = float64(float32(x))
		}
	}
	return v
}

// at returns element i of an f32 or f64 tensor as a float64.
func at(t *tensor.Tensor, i int) float64 {
	if t.DType == tensor.F32 {
		return float64(t.Float32()[i])
	}
	return t.Float64()[i]
}

// resultTensor returns result name of res, checking its dtype and shape.
func resultTensor(res wire.Result, name string, dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	t, err := res.Tensor(name)
	if err != nil {
		return nil, err
	}
	if t.DType != dt || tensor.FormatShape(t.Shape) != tensor.FormatShape(shape) {
		return nil, fmt.Errorf("%s is %s %s, want %s %s", name, t.DType, tensor.FormatShape(t.Shape), dt, tensor.FormatShape(shape))
	}
	return t, nil
}

// sameFloat reports whether a and b are the same float64 bits (any NaN
// matching any NaN).
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

// near reports whether got is want within tol, non-finite values exactly.
func near(got, want, tol float64) bool {
	if math.IsInf(want, 0) || math.IsNaN(want) || math.IsInf(got, 0) || math.IsNaN(got) {
		return sameFloat(got, want)
	}
	return math.Abs(got-want) <= tol
}
