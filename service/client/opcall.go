package client

import (
	"context"
	"fmt"
	"reflect"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// What the generated per-op methods (ops_generated.go) are made of: each
// <Op>Args struct tags its fields with their arguments' names, and each
// method is one call of do, which sends the tagged fields and reads the
// results with one (a single result) or fields (a struct of them, tagged
// the same way).

// do sends op with the arguments a (an <Op>Args) holds and returns what
// read takes from the reply, with the reply's stats. A failure reply is
// its *wire.Error.
func do[T any](ctx context.Context, c *Client, op string, a any, o *Options, read func(*results) T) (T, *wire.Stats, error) {
	var zero T
	size := 0
	if s, ok := a.(interface{ resultSize() int }); ok {
		size = s.resultSize()
	}
	rep, err := c.Do(ctx, &wire.Request{Op: op, Args: argsOf(a)}, resultBytes(o, size))
	if err != nil {
		return zero, nil, err
	}
	r := &results{rep: rep}
	v := read(r)
	if r.err != nil {
		return zero, nil, r.err
	}
	return v, rep.Stats, nil
}

// argsOf returns the arguments an <Op>Args struct holds: each field tagged
// arg:"name", a nil one (an optional argument, or a tensor) left out so
// that the server applies its default.
func argsOf(a any) wire.Args {
	args := wire.Args{}
	v := reflect.ValueOf(a)
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("arg")
		f := v.Field(i)
		if name == "" || (f.Kind() == reflect.Pointer && f.IsNil()) {
			continue
		}
		switch x := f.Interface().(type) {
		case *tensor.Tensor:
			args[name] = wire.TensorValue(x)
		default:
			args[name] = scalar(reflect.Indirect(f).Interface())
		}
	}
	return args
}

// scalar is v (int64, float64, bool or string) as a wire value.
func scalar(v any) wire.Value {
	switch x := v.(type) {
	case int64:
		return wire.Int(x)
	case float64:
		return wire.Float(x)
	case bool:
		return wire.Bool(x)
	case string:
		return wire.String(x)
	}
	panic(fmt.Sprintf("client: an argument of type %T", v))
}

// one reads result name, of T's kind.
func one[T any](name string) func(*results) T {
	return func(r *results) T {
		v, _ := r.as(name, reflect.TypeFor[T]()).(T)
		return v
	}
}

// fields reads the results into a new T, a struct whose fields are tagged
// res:"name".
func fields[T any](r *results) *T {
	out := new(T)
	v := reflect.ValueOf(out).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if x := r.as(f.Tag.Get("res"), f.Type); r.err == nil {
			v.Field(i).Set(reflect.ValueOf(x))
		}
	}
	return out
}

// as reads result name as a value of type t: *tensor.Tensor, int64,
// float64, bool or string.
func (r *results) as(name string, t reflect.Type) any {
	switch t {
	case reflect.TypeFor[*tensor.Tensor]():
		return r.Tensor(name)
	case reflect.TypeFor[int64]():
		return r.Int(name)
	case reflect.TypeFor[float64]():
		return r.Float(name)
	case reflect.TypeFor[bool]():
		return r.Bool(name)
	case reflect.TypeFor[string]():
		return r.String(name)
	}
	panic(fmt.Sprintf("client: a result of type %s", t))
}

// results reads a reply's results by name. The first result missing or
// of another kind becomes err; reads after it return zero values.
type results struct {
	rep *wire.Reply
	err error
}

// Tensor returns tensor result name.
func (r *results) Tensor(name string) *tensor.Tensor { return read(r, name, r.rep.Result.Tensor) }

// Int returns integer result name.
func (r *results) Int(name string) int64 {
	return read(r, name, func(n string) (int64, error) { return r.rep.Result.Int(n, 0) })
}

// Float returns number result name. A NaN or ±Inf travels as a shape []
// f64 tensor (so the reply is binary); it arrives here as the float it is.
func (r *results) Float(name string) float64 {
	return read(r, name, func(n string) (float64, error) { return r.rep.Result.Float(n, 0) })
}

// Bool returns boolean result name.
func (r *results) Bool(name string) bool {
	return read(r, name, func(n string) (bool, error) { return r.rep.Result.Bool(n, false) })
}

// String returns string result name.
func (r *results) String(name string) string {
	return read(r, name, func(n string) (string, error) { return r.rep.Result.String(n, "") })
}

func read[T any](r *results, name string, get func(string) (T, error)) T {
	var zero T
	if r.err != nil {
		return zero
	}
	if v, ok := r.rep.Result[name]; !ok || v.IsNull() {
		r.err = fmt.Errorf("client: reply %d has no result %q", r.rep.ID, name)
		return zero
	}
	v, err := get(name)
	if err != nil {
		r.err = fmt.Errorf("client: reply %d: %w", r.rep.ID, err)
		return zero
	}
	return v
}
