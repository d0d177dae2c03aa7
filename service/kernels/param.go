package kernels

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// The kinds of a Param, as `info` and requests spell them.
const (
	KindTensor = "tensor"
	KindInt    = "int"
	KindFloat  = "float"
	KindBool   = "bool"
	KindString = "string"
)

// Param describes one argument or result of an op. For an argument it is
// also the rule the server checks before the op's code sees the value:
// kind, dtypes, number of dimensions, range, allowed strings, required or
// default. What it cannot say (shapes that must agree, say) the op's Bind
// checks.
type Param struct {
	Name string `json:"name"`
	// Kind is tensor, int, float, bool or string.
	Kind string `json:"kind"`
	// DTypes lists a tensor's accepted dtypes.
	DTypes []string `json:"dtypes,omitempty"`
	// SameDType names an earlier tensor argument whose dtype this one must
	// have.
	SameDType string `json:"same_dtype_as,omitempty"`
	// Ranks lists a tensor's accepted numbers of dimensions; empty: any.
	Ranks []int `json:"ranks,omitempty"`
	// Shape describes the shape for people, e.g. "[m,k]".
	Shape string `json:"shape,omitempty"`
	// Min and Max bound an int or float argument, inclusive.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Finite refuses NaN and ±Inf for a float argument (JSON cannot carry
	// them, a binary message's shape [] tensor can).
	Finite bool `json:"finite,omitempty"`
	// Values lists a string argument's accepted values.
	Values []string `json:"values,omitempty"`
	// Required arguments must be present and not null. Others take Default
	// when absent or null (an optional tensor without one is absent).
	Required bool `json:"required,omitempty"`
	// Default is int64, float64, bool or string, as Kind says.
	Default any    `json:"default,omitempty"`
	Doc     string `json:"doc"`
}

// bound returns a pointer to v, for Param.Min and Param.Max.
func bound(v float64) *float64 { return &v }

// Args are an op's arguments after the checks of its Params: every
// declared argument by name, with defaults filled in, as typed values.
// Reading a name the op did not declare, or as another kind, panics: it is
// a mistake in the op's code, which the op's tests meet at once.
type Args struct {
	op   string
	vals map[string]any
}

// Tensor returns tensor argument name; nil when it is optional and absent.
func (a Args) Tensor(name string) *tensor.Tensor {
	t, _ := a.get(name, KindTensor).(*tensor.Tensor)
	return t
}

// Int returns int argument name.
func (a Args) Int(name string) int64 { return a.get(name, KindInt).(int64) }

// Float returns float argument name.
func (a Args) Float(name string) float64 { return a.get(name, KindFloat).(float64) }

// Bool returns bool argument name.
func (a Args) Bool(name string) bool { return a.get(name, KindBool).(bool) }

// String returns string argument name.
func (a Args) String(name string) string { return a.get(name, KindString).(string) }

func (a Args) get(name, kind string) any {
	v, ok := a.vals[name]
	if !ok {
		panic(fmt.Sprintf("kernels: %s reads argument %q as %s, which it does not declare", a.op, name, kind))
	}
	return v
}

// bindArgs checks in against o's Params and returns the typed arguments.
// Every refusal is an invalid_argument *wire.Error whose message starts with
// the op's name and names the argument.
func (o *Op) bindArgs(in wire.Args) (Args, error) {
	if err := in.Only(o.Name, o.paramNames()...); err != nil {
		return Args{}, err
	}
	out := Args{op: o.Name, vals: make(map[string]any, len(o.Params))}
	for i := range o.Params {
		p := &o.Params[i]
		v, err := p.bind(in, out)
		if err != nil {
			if e := wire.AsError(err); e != nil {
				return Args{}, wire.Errorf(e.Code, "%s: %s", o.Name, e.Message)
			}
			return Args{}, err
		}
		out.vals[p.Name] = v
	}
	return out, nil
}

func (o *Op) paramNames() []string {
	names := make([]string, len(o.Params))
	for i, p := range o.Params {
		names[i] = p.Name
	}
	return names
}

// bind returns argument p of in, checked; earlier holds the arguments bound
// before it (for SameDType).
func (p *Param) bind(in wire.Args, earlier Args) (any, error) {
	if v, ok := in[p.Name]; !ok || v.IsNull() {
		if p.Required {
			return nil, invalidf("argument %q is required", p.Name)
		}
		if p.Kind == KindTensor {
			return (*tensor.Tensor)(nil), nil
		}
		return p.Default, nil
	}
	switch p.Kind {
	case KindTensor:
		t, err := in.Tensor(p.Name)
		if err != nil {
			return nil, err
		}
		return t, p.checkTensor(t, earlier)
	case KindInt:
		n, err := in.Int(p.Name, 0)
		if err != nil {
			return nil, err
		}
		return n, p.checkRange(float64(n), strconv.FormatInt(n, 10))
	case KindFloat:
		f, err := in.Float(p.Name, 0)
		if err != nil {
			return nil, err
		}
		if p.Finite && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, invalidf("argument %q must be finite, got %v", p.Name, f)
		}
		return f, p.checkRange(f, strconv.FormatFloat(f, 'g', -1, 64))
	case KindBool:
		return in.Bool(p.Name, false)
	case KindString:
		s, err := in.String(p.Name, "")
		if err != nil {
			return nil, err
		}
		if len(p.Values) > 0 && !slices.Contains(p.Values, s) {
			return nil, invalidf("argument %q must be %s, got %q", p.Name, orList(quoteAll(p.Values)), s)
		}
		return s, nil
	}
	panic(fmt.Sprintf("kernels: argument %q has unknown kind %q", p.Name, p.Kind))
}

func (p *Param) checkTensor(t *tensor.Tensor, earlier Args) error {
	if p.SameDType != "" {
		if ref := earlier.Tensor(p.SameDType); ref != nil && t.DType != ref.DType {
			return invalidf("argument %q has dtype %s but %q has %s: they must match", p.Name, t.DType, p.SameDType, ref.DType)
		}
	}
	if len(p.DTypes) > 0 && !slices.Contains(p.DTypes, t.DType.String()) {
		return invalidf("argument %q has dtype %s, expected %s", p.Name, t.DType, orList(p.DTypes))
	}
	if len(p.Ranks) > 0 && !slices.Contains(p.Ranks, len(t.Shape)) {
		return invalidf("argument %q must have %s, got shape %s", p.Name, dimensions(p.Ranks), tensor.FormatShape(t.Shape))
	}
	return nil
}

// dimensions writes ranks as "1 dimension", "1 or 2 dimensions".
func dimensions(ranks []int) string {
	words := make([]string, len(ranks))
	for i, r := range ranks {
		words[i] = strconv.Itoa(r)
	}
	if len(ranks) == 1 && ranks[0] == 1 {
		return "1 dimension"
	}
	return orList(words) + " dimensions"
}

// checkRange refuses v outside [Min, Max]; text is v as the request wrote it.
func (p *Param) checkRange(v float64, text string) error {
	lo, hi := p.Min != nil && v < *p.Min, p.Max != nil && v > *p.Max
	switch {
	case (lo || hi) && p.Min != nil && p.Max != nil:
		return invalidf("argument %q must be in [%s, %s], got %s", p.Name, fmtBound(*p.Min), fmtBound(*p.Max), text)
	case lo:
		return invalidf("argument %q must be >= %s, got %s", p.Name, fmtBound(*p.Min), text)
	case hi:
		return invalidf("argument %q must be <= %s, got %s", p.Name, fmtBound(*p.Max), text)
	}
	return nil
}

func fmtBound(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// orList writes "a", "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func quoteAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = strconv.Quote(s)
	}
	return out
}
