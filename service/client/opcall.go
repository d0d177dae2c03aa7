package client

import (
	"context"
	"fmt"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// What the generated per-op methods (ops_generated.go) are made of: each
// builds its request's arguments with setTensor and setOpt, and its body
// is one call of do, which reads the results through a results.

// opArgs are a generated <Op>Args struct: args makes it a request's
// arguments. One may also say how many bytes its results take (see
// result_size.go).
type opArgs interface{ args() wire.Args }

// do sends op with a's arguments and returns what read takes from the
// reply, with the reply's stats. A failure reply is its *wire.Error.
func do[A opArgs, T any](ctx context.Context, c *Client, op string, a A, o *Options, read func(*results) T) (T, *wire.Stats, error) {
	var zero T
	size := 0
	if s, ok := any(a).(interface{ resultSize() int }); ok {
		size = s.resultSize()
	}
	rep, err := c.Do(ctx, &wire.Request{Op: op, Args: a.args()}, resultBytes(o, size))
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

// setTensor adds t to args as name unless it is nil: an optional tensor
// left out, or a required one the server then asks for.
func setTensor(args wire.Args, name string, t *tensor.Tensor) {
	if t != nil {
		args[name] = wire.TensorValue(t)
	}
}

// setOpt adds *v to args as name unless v is nil, which leaves the
// argument to the server's default.
func setOpt[T any](args wire.Args, name string, v *T, value func(T) wire.Value) {
	if v != nil {
		args[name] = value(*v)
	}
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
