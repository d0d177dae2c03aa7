package client_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/kernels/clientgen"
	"github.com/crunchsvc/crunch/service/kernels/conform"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestEveryOpHasAMethod: every op of the definitions has its generated
// method <Op>Ex, and calling it against a real server with the op's valid
// arguments (conform.ValidArgs) gives what Do gives for the same request:
// once with only the required arguments (the others nil: the server's
// defaults), once with every optional scalar set to its default.
func TestEveryOpHasAMethod(t *testing.T) {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, op := range kernels.Default().Ops() {
		t.Run(op.Name, func(t *testing.T) {
			name := clientgen.GoName(op.Name) + "Ex"
			m := reflect.ValueOf(c).MethodByName(name)
			if !m.IsValid() {
				t.Fatalf("the client has no method %s; run %s", name, clientgen.Command)
			}
			valid := conform.ValidArgs(op)
			want, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: valid}, nil)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			for _, defaults := range []bool{false, true} {
				args := reflect.New(m.Type().In(1)).Elem()
				for _, p := range op.Params {
					f := args.FieldByName(clientgen.GoName(p.Name))
					if !f.IsValid() {
						t.Fatalf("%s has no field for %q", args.Type(), p.Name)
					}
					if v, ok := valid[p.Name]; ok {
						setField(f, goValue(p.Kind, wire.Result{"v": v}, "v"))
					} else if defaults && p.Default != nil {
						setField(f, p.Default)
					}
				}
				out := m.Call([]reflect.Value{reflect.ValueOf(ctx), args, reflect.Zero(m.Type().In(2))})
				if err, _ := out[2].Interface().(error); err != nil {
					t.Fatalf("%s(%+v): %v", name, args.Interface(), err)
				}
				checkResults(t, op, out[0], want.Result)
			}
		})
	}
}

// goValue is result name of r as the Go value of its kind.
func goValue(kind string, r wire.Result, name string) any {
	var v any
	var err error
	switch kind {
	case kernels.KindTensor:
		v, err = r.Tensor(name)
	case kernels.KindInt:
		v, err = r.Int(name, 0)
	case kernels.KindFloat:
		v, err = r.Float(name, 0)
	case kernels.KindBool:
		v, err = r.Bool(name, false)
	case kernels.KindString:
		v, err = r.String(name, "")
	}
	if err != nil {
		panic(err)
	}
	return v
}

// setField sets f, a value's field or a pointer to one, to v.
func setField(f reflect.Value, v any) {
	rv := reflect.ValueOf(v)
	if f.Kind() == reflect.Pointer && f.Type().Elem() == rv.Type() {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		rv = p
	}
	f.Set(rv)
}

// checkResults wants got, what a generated method returned (one result's
// value, or a pointer to an <Op>Result), to hold want's results.
func checkResults(t *testing.T, op *kernels.Op, got reflect.Value, want wire.Result) {
	t.Helper()
	for _, r := range op.Results {
		g := got
		if len(op.Results) > 1 {
			g = got.Elem().FieldByName(clientgen.GoName(r.Name))
		}
		w := goValue(r.Kind, want, r.Name)
		if wt, ok := w.(*tensor.Tensor); ok {
			if gt, _ := g.Interface().(*tensor.Tensor); !gt.Equal(wt) {
				t.Errorf("result %q: %v, want %v", r.Name, gt, wt)
			}
		} else if g.Interface() != w {
			t.Errorf("result %q: %v, want %v", r.Name, g.Interface(), w)
		}
	}
}
