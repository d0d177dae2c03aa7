package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/kernels/conform"
	"github.com/crunchsvc/crunch/service/wire"
)

// serverExecs returns the executors the server's info lists, and auto.
func serverExecs(t *testing.T, c *client.Client) []string {
	t.Helper()
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var execs []struct{ Name string }
	if err := json.Unmarshal(info["executors"], &execs); err != nil {
		t.Fatal(err)
	}
	names := []string{"auto"}
	for _, e := range execs {
		names = append(names, e.Name)
	}
	return names
}

// eachServedOp starts a server, connects to it and calls f with the
// connection, the executors (and auto), and each op of the registry but
// this binary's own test ops (one kills its process).
func eachServedOp(t *testing.T, f func(c *client.Client, execs []string, op *kernels.Op)) {
	ts := start(t, nil)
	c := ts.dial(t)
	execs := serverExecs(t, c)
	for _, op := range kernels.Default().Ops() {
		if !strings.HasPrefix(op.Name, "test_") {
			f(c, execs, op)
		}
	}
}

// TestDefinitionsThroughServer runs every op's definition-derived
// requests through a real connection on every executor and both message
// forms: the valid one answers ok with the results the op declares (the
// same bits on every executor, implementation by implementation), and
// not_found with an implementation the op lacks; every refusal is
// invalid_argument naming the argument.
func TestDefinitionsThroughServer(t *testing.T) {
	ctx := context.Background()
	eachServedOp(t, func(c *client.Client, execs []string, op *kernels.Op) {
		valid := conform.ValidArgs(op)
		for _, impl := range op.Impls {
			var first wire.Result
			for _, ex := range execs {
				for _, text := range []bool{false, true} {
					where := fmt.Sprintf("%s %s/%s text=%v", op.Name, ex, impl, text)
					rep, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: valid}, &client.Options{Exec: ex, Impl: impl, Text: text})
					if err != nil {
						t.Errorf("%s: %v", where, err)
						continue
					}
					checkDeclared(t, where, op, rep.Result)
					if first == nil {
						first = rep.Result
					} else if !sameResult(first, rep.Result) {
						t.Errorf("%s: %v differs from %v", where, rep.Result, first)
					}
				}
			}
		}
		_, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: valid}, &client.Options{Impl: "no_such_impl"})
		if e := wire.AsError(err); e == nil || e.Code != wire.NotFound {
			t.Errorf("%s with an impl it lacks: %v, want not_found", op.Name, err)
		}
		for _, r := range conform.Refusals(op) {
			for _, ex := range execs {
				for _, text := range []bool{false, true} {
					_, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: r.Args}, &client.Options{Exec: ex, Text: text})
					e := wire.AsError(err)
					if e == nil || e.Code != wire.InvalidArgument || !strings.Contains(e.Message, fmt.Sprintf("%q", r.Param)) {
						t.Errorf("%s, %s on %s text=%v: %v, want invalid_argument naming %q", op.Name, r.Name, ex, text, err, r.Param)
					}
				}
			}
		}
	})
}

// Each op's conformance cases run through the server up to this size, at
// most serverCases of them, spread over the op's table: every case meets
// every executor, implementation and message form, so the kernels' suite
// keeps the large and the many.
const (
	serverCaseSize = 1 << 18
	serverCases    = 48
)

// TestConformanceThroughServer runs every op's conformance cases (its
// refusals and a spread of the small ones) through a real connection on every executor, with
// every implementation, as binary and as text messages (text when JSON can
// carry the arguments): each reply must pass the case's check and say
// where it ran.
func TestConformanceThroughServer(t *testing.T) {
	ctx := context.Background()
	eachServedOp(t, func(c *client.Client, execs []string, op *kernels.Op) {
		var small, run []conform.Case
		for _, cs := range conform.Cases(op.Name) {
			switch {
			case cs.Size == 0: // refusals: all of them
				run = append(run, cs)
			case cs.Size <= serverCaseSize:
				small = append(small, cs)
			}
		}
		if len(small) == 0 {
			t.Errorf("%s has no conformance case small enough for the server", op.Name)
			return
		}
		n := min(serverCases, len(small))
		for i := range n {
			run = append(run, small[i*len(small)/n])
		}
		for _, cs := range run {
			args, check := cs.Build()
			forms := []bool{false}
			if _, err := wire.EncodeRequest(&wire.Request{Op: op.Name, Args: args}, false); err == nil {
				forms = append(forms, true)
			}
			for _, impl := range op.Impls {
				for _, ex := range execs {
					for _, text := range forms {
						where := fmt.Sprintf("%s %s on %s/%s text=%v", op.Name, cs.Name, ex, impl, text)
						rep, err := c.Do(ctx, &wire.Request{Op: op.Name, Args: args}, &client.Options{Exec: ex, Impl: impl, Text: text})
						var res wire.Result
						if err == nil {
							res = rep.Result
							if st := rep.Stats; st == nil || (ex != "auto" && st.Exec != ex) || st.Impl != impl || (st.Exec == "subprocess" && st.Worker == 0) {
								t.Errorf("%s: stats %+v", where, st)
							}
						}
						if e := check(res, err); e != nil {
							t.Errorf("%s: %v", where, e)
						}
					}
				}
			}
		}
	})
}

// TestInfoDescribesEveryOp: info lists every op the server runs as its
// definition says: impls, the default one, and every argument and result
// with the rules clients build calls from.
func TestInfoDescribesEveryOp(t *testing.T) {
	ts := start(t, nil)
	info, err := ts.dial(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Name    string          `json:"name"`
		Impls   []string        `json:"impls"`
		Default string          `json:"default_impl"`
		Args    json.RawMessage `json:"args"`
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(info["ops"], &ops); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, o := range ops {
		listed[o.Name] = true
		op, err := kernels.Default().Lookup(o.Name)
		if err != nil {
			continue // this binary's own test ops
		}
		args, _ := json.Marshal(op.Params)
		results, _ := json.Marshal(op.Results)
		if !slices.Equal(o.Impls, op.Impls) || o.Default != op.Impls[0] || string(o.Args) != string(args) || string(o.Results) != string(results) {
			t.Errorf("info for %s: %+v, want impls %v and args %s, results %s", o.Name, o, op.Impls, args, results)
		}
	}
	for _, op := range kernels.Default().Ops() {
		if !listed[op.Name] {
			t.Errorf("info lists no %s", op.Name)
		}
	}
}

// checkDeclared: res holds exactly op's declared results, each of its
// declared kind (and dtype).
func checkDeclared(t *testing.T, where string, op *kernels.Op, res wire.Result) {
	t.Helper()
	if len(res) != len(op.Results) {
		t.Errorf("%s: %d results, %d declared", where, len(res), len(op.Results))
	}
	for _, p := range op.Results {
		v, ok := res[p.Name]
		switch {
		case !ok:
			t.Errorf("%s: result %q missing", where, p.Name)
		case p.Kind == kernels.KindTensor:
			if v.Tensor == nil || !slices.Contains(p.DTypes, v.Tensor.DType.String()) {
				t.Errorf("%s: result %q is not a tensor of %v", where, p.Name, p.DTypes)
			}
		case p.Kind == kernels.KindFloat:
			// A non-finite float travels as a shape [] tensor.
			if _, err := res.Float(p.Name, 0); err != nil {
				t.Errorf("%s: result %q: %v", where, p.Name, err)
			}
		case p.Kind == kernels.KindInt:
			if _, err := res.Int(p.Name, 0); err != nil {
				t.Errorf("%s: result %q: %v", where, p.Name, err)
			}
		}
	}
}

// sameResult compares results bit for bit; JSON numbers by value, since a
// text and a binary reply may spell them differently.
func sameResult(a, b wire.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		if v.Tensor != nil || w.Tensor != nil {
			if v.Tensor == nil || w.Tensor == nil || !v.Tensor.Equal(w.Tensor) {
				return false
			}
			continue
		}
		var x, y any
		if json.Unmarshal(v.JSON, &x) != nil || json.Unmarshal(w.JSON, &y) != nil || fmt.Sprint(x) != fmt.Sprint(y) {
			return false
		}
	}
	return true
}
