package kernels_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// eachRun prepares args for op and runs the call on each of its paths,
// handing each outcome to check (or Prepare's refusal, with a nil Ctx):
// the one loop every op's table goes through, so every case meets every
// implementation by construction, its results in poisoned memory.
func eachRun(t *testing.T, opName string, args wire.Args, check func(where string, x *cgo.Ctx, res wire.Result, err error)) {
	t.Helper()
	op := lookup(t, opName)
	call, err := op.Prepare(args)
	if err != nil {
		check("prepare", nil, nil, err)
		return
	}
	for _, p := range runPaths(op) {
		x := p.ctx()
		res, err := call.RunInto(x, p.impl, poisoned{})
		check(p.String(), x, res, err)
	}
}

// lookup returns the op called name.
func lookup(t *testing.T, name string) *kernels.Op {
	t.Helper()
	op, err := kernels.Default().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// runPath is one way to run a call: an implementation and, for C, a SIMD
// path.
type runPath struct {
	impl string
	isa  cgo.ISA
}

func (p runPath) String() string { return p.impl + "/" + p.isa.String() }

// ctx returns a new Ctx that takes p's SIMD path.
func (p runPath) ctx() *cgo.Ctx {
	x := cgo.NewCtx()
	x.SetISA(p.isa)
	return x
}

// runPaths returns op's paths: every implementation its definition lists,
// C on every SIMD path this CPU has.
func runPaths(op *kernels.Op) []runPath {
	var paths []runPath
	for _, impl := range op.Impls {
		isas := []cgo.ISA{cgo.ISAAuto}
		if impl == kernels.ImplC {
			isas = cgo.ISAs()
		}
		for _, isa := range isas {
			paths = append(paths, runPath{impl, isa})
		}
	}
	return paths
}

// runAll is eachRun for calls that must succeed.
func runAll(t *testing.T, opName string, args wire.Args, check func(t *testing.T, impl string, res wire.Result)) {
	t.Helper()
	eachRun(t, opName, args, func(where string, _ *cgo.Ctx, res wire.Result, err error) {
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		check(t, where, res)
	})
}

func TestRegistry(t *testing.T) {
	if _, err := kernels.Default().Lookup("nope"); wire.AsError(err).Code != wire.NotFound {
		t.Fatalf("unknown op: %v", err)
	}
	op, _ := kernels.Default().Lookup("gemm")
	if impl, _ := op.Resolve(""); impl != kernels.ImplC {
		t.Errorf("default impl %q", impl)
	}
	if _, err := op.Resolve("go"); wire.AsError(err).Code != wire.NotFound {
		t.Errorf("gemm impl go: %v", err)
	}
	for _, op := range kernels.Default().Ops() {
		if op.Doc == "" || len(op.Params) == 0 || len(op.Impls) < 2 {
			t.Errorf("op %s is not fully described", op.Name)
		}
	}
}

func TestGoImplsCancel(t *testing.T) {
	x := cgo.NewCtx()
	x.Cancel()
	if _, err := kernels.ModsumGo(x, 1, 1e12); !errors.Is(err, cgo.ErrCanceled) {
		t.Fatalf("modsum go: %v", err)
	}
	op, _ := kernels.Default().Lookup("gemm")
	a, _ := tensor.New(tensor.F64, 64, 64)
	call, _ := op.Prepare(wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(a)})
	for _, impl := range op.Impls {
		if _, err := call.Run(x, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("gemm %s on a cancelled ctx: %v", impl, err)
		}
	}
}

// TestSortGoCancelled: SortGo cancelled while it runs returns canceled
// and leaves a permutation of its input behind.
func TestSortGoCancelled(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	v := make([]float64, 1<<20)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	// SortGo unwinds slices.SortFunc.
	w := append([]float64(nil), v...)
	c := cgo.NewCtx()
	stop := make(chan struct{})
	go func() {
		for {
			if done, _, _ := c.Progress(); done > 0 {
				c.Cancel()
				close(stop)
				return
			}
		}
	}()
	err := kernels.SortGo(c, w, false)
	<-stop
	if err != nil && !errors.Is(err, cgo.ErrCanceled) {
		t.Fatalf("SortGo cancelled: %v", err)
	}
	a, b := append([]float64(nil), w...), append([]float64(nil), v...)
	sort.Float64s(a)
	sort.Float64s(b)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("a cancelled SortGo lost elements (err %v)", err)
		}
	}
}

// progressThenCancel prepares args for op and runs the call with each of
// op's impls: a finished run reports want work done of want in all (any
// positive total when want < 0), and a run on a cancelled Ctx returns
// canceled. It returns the call.
func progressThenCancel(t *testing.T, opName string, args wire.Args, want int64) *kernels.Call {
	t.Helper()
	op := lookup(t, opName)
	call, err := op.Prepare(args)
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := call.Run(c, impl); err != nil {
			t.Fatalf("%s %s: %v", opName, impl, err)
		}
		if done, total, _ := c.Progress(); done != total || total <= 0 || (want >= 0 && total != want) {
			t.Errorf("%s %s: progress %d/%d, want %d", opName, impl, done, total, want)
		}
		c.Cancel()
		if _, err := call.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s %s on a cancelled ctx: %v", opName, impl, err)
		}
	}
	return call
}

// cancelMidway runs call with each of op's impls, cancels it once it has
// reported progress, and checks that it stopped, canceled, before the end.
func cancelMidway(t *testing.T, op *kernels.Op, call *kernels.Call) {
	t.Helper()
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		done := make(chan error, 1)
		go func() {
			_, err := call.Run(c, impl)
			done <- err
		}()
		for {
			if d, _, _ := c.Progress(); d > 0 {
				break
			}
			runtime.Gosched()
		}
		c.Cancel()
		err := <-done
		d, total, _ := c.Progress()
		if !errors.Is(err, cgo.ErrCanceled) || d >= total {
			t.Errorf("%s: %v after progress %d/%d", impl, err, d, total)
		}
	}
}
