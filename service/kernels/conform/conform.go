// Package conform holds what an op's tests are made of, written once per
// op and run everywhere: requests derived from the op's definition
// (kernels.Op's Params: one valid request, and for every argument every
// way a request can break its rule), and each op's table of cases with
// the check of their results against a naive reference (one file per op).
// The kernels' tests run them with every implementation on every SIMD
// path, the server's through a real connection on every executor and
// message form, so an op gets both suites by being defined, and a new
// rule in Param is tested for every op at once.
package conform

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Refusal is a request that breaks one rule of an op's Params.
type Refusal struct {
	// Name says which rule, e.g. `"x" has dtype u8`.
	Name string
	Args wire.Args
	// Param is the argument the error message must name.
	Param string
}

// dim is the length of every dimension of ValidArgs' tensors: small, and
// the same for all, so that shapes that must agree do.
const dim = 3

// ValidArgs returns arguments op's Params accept: every required
// argument (the others left to their defaults), tensors of the first dtype and rank each allows with
// every dimension dim, filled with small numbers; numbers within range.
// Ops whose other rules these break (none yet) would need their own.
func ValidArgs(op *kernels.Op) wire.Args {
	args := wire.Args{}
	for _, p := range op.Params {
		if p.Required { // the others' defaults are valid by definition
			args[p.Name] = validValue(p, args)
		}
	}
	return args
}

func validValue(p kernels.Param, earlier wire.Args) wire.Value {
	switch p.Kind {
	case kernels.KindTensor:
		dt := firstDType(p)
		if ref, ok := earlier[p.SameDType]; ok && ref.Tensor != nil {
			dt = ref.Tensor.DType
		}
		return wire.TensorValue(filled(dt, cube(firstRank(p))))
	case kernels.KindInt:
		v := int64(dim)
		if p.Min != nil {
			v = max(v, int64(*p.Min))
		}
		if p.Max != nil {
			v = min(v, int64(*p.Max))
		}
		return wire.Int(v)
	case kernels.KindFloat:
		return wire.Float(0.5)
	case kernels.KindBool:
		return wire.Bool(true)
	case kernels.KindString:
		if len(p.Values) > 0 {
			return wire.String(p.Values[0])
		}
		return wire.String("x")
	}
	panic(fmt.Sprintf("conform: %q has unknown kind %q", p.Name, p.Kind))
}

// filled returns a tensor whose elements are 1, 2, 3, … (a diagonal
// dominance is not needed: Prepare does not compute).
func filled(dt tensor.DType, shape []int) *tensor.Tensor {
	t, err := tensor.New(dt, shape...)
	if err != nil {
		panic(err)
	}
	for i := range t.Len() {
		v := i%7 + 1
		switch dt {
		case tensor.U8:
			t.Uint8()[i] = uint8(v)
		case tensor.U16:
			t.Uint16()[i] = uint16(v)
		case tensor.U32:
			t.Uint32()[i] = uint32(v)
		case tensor.I32:
			t.Int32()[i] = int32(v)
		case tensor.I64:
			t.Int64()[i] = int64(v)
		case tensor.F32:
			t.Float32()[i] = float32(v)
		case tensor.F64:
			t.Float64()[i] = float64(v)
		case tensor.C64:
			t.Complex64()[i] = complex(float32(v), 0)
		case tensor.C128:
			t.Complex128()[i] = complex(float64(v), 0)
		}
	}
	return t
}

// Refusals returns, for every argument of op, a request breaking each rule
// its Param states (and one with an argument op does not have). Each is
// ValidArgs with one change.
func Refusals(op *kernels.Op) []Refusal {
	var out []Refusal
	valid := ValidArgs(op)
	with := func(name, param string, v *wire.Value) {
		args := maps.Clone(valid)
		if v == nil {
			delete(args, param)
		} else {
			args[param] = *v
		}
		out = append(out, Refusal{Name: name, Args: args, Param: param})
	}
	val := func(v wire.Value) *wire.Value { return &v }
	with(`unknown argument "no_such_arg"`, "no_such_arg", val(wire.Int(1)))
	for _, p := range op.Params {
		q := fmt.Sprintf("%q", p.Name)
		if p.Required {
			with(q+" missing", p.Name, nil)
			with(q+" null", p.Name, val(wire.Null()))
		}
		// A value of another kind: a string for everything but strings.
		if p.Kind == kernels.KindString {
			with(q+" a number", p.Name, val(wire.Int(1)))
		} else {
			with(q+" a string", p.Name, val(wire.String("1")))
		}
		switch p.Kind {
		case kernels.KindTensor:
			if len(p.DTypes) > 0 {
				for _, dt := range tensor.DTypes() {
					if !slices.Contains(p.DTypes, dt.String()) {
						with(fmt.Sprintf("%s has dtype %s", q, dt), p.Name, val(wire.TensorValue(filled(dt, cube(firstRank(p))))))
						break // one dtype it lacks is enough
					}
				}
			}
			if len(p.Ranks) > 0 {
				for rank := range 4 {
					if !slices.Contains(p.Ranks, rank) {
						with(fmt.Sprintf("%s with %d dimensions", q, rank), p.Name, val(wire.TensorValue(filled(firstDType(p), cube(rank)))))
					}
				}
			}
			if p.SameDType != "" {
				ref := valid[p.SameDType]
				for _, name := range p.DTypes {
					dt, _ := tensor.ParseDType(name)
					if ref.Tensor != nil && dt != ref.Tensor.DType {
						with(fmt.Sprintf("%s of dtype %s beside %q of %s", q, dt, p.SameDType, ref.Tensor.DType),
							p.Name, val(wire.TensorValue(filled(dt, cube(firstRank(p))))))
						break
					}
				}
			}
		case kernels.KindInt:
			with(q+" fractional", p.Name, val(wire.Float(1.5)))
			if p.Min != nil && *p.Min > math.MinInt64 {
				with(q+" below its minimum", p.Name, val(wire.Int(int64(*p.Min)-1)))
			}
			if p.Max != nil && *p.Max < math.MaxInt64 {
				with(q+" above its maximum", p.Name, val(wire.Int(int64(*p.Max)+1)))
			}
		case kernels.KindFloat:
			if p.Min != nil {
				with(q+" below its minimum", p.Name, val(wire.Float(math.Nextafter(*p.Min, math.Inf(-1)))))
			}
			if p.Max != nil {
				with(q+" above its maximum", p.Name, val(wire.Float(math.Nextafter(*p.Max, math.Inf(1)))))
			}
			if p.Finite {
				with(q+" NaN", p.Name, val(wire.Float(math.NaN())))
				with(q+" +Inf", p.Name, val(wire.Float(math.Inf(1))))
			}
		case kernels.KindBool:
			with(q+" a number", p.Name, val(wire.Int(1)))
		case kernels.KindString:
			if len(p.Values) > 0 {
				with(q+" not among its values", p.Name, val(wire.String("no-such-value")))
			}
		}
	}
	return out
}

// cube returns the shape of rank dimensions, each dim long.
func cube(rank int) []int {
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = dim
	}
	return shape
}

// firstRank is the first number of dimensions p accepts (1 if any).
func firstRank(p kernels.Param) int {
	if len(p.Ranks) > 0 {
		return p.Ranks[0]
	}
	return 1
}

func firstDType(p kernels.Param) tensor.DType {
	if len(p.DTypes) > 0 {
		if dt, err := tensor.ParseDType(p.DTypes[0]); err == nil {
			return dt
		}
	}
	return tensor.F64
}
