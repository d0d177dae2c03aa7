package kernels_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// eachRun prepares args for op and runs the call with every implementation
// the op's definition lists, C on every SIMD path this CPU has, handing
// each outcome to check: the one loop every op's table goes through, so
// every case meets every implementation by construction, its results in
// poisoned memory.
func eachRun(t *testing.T, opName string, args wire.Args, check func(where string, x *cgo.Ctx, res wire.Result, err error)) {
	t.Helper()
	op, err := kernels.Default().Lookup(opName)
	if err != nil {
		t.Fatal(err)
	}
	call, err := op.Prepare(args)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	for _, impl := range op.Impls {
		isas := []cgo.ISA{cgo.ISAAuto}
		if impl == kernels.ImplC {
			isas = cgo.ISAs()
		}
		for _, isa := range isas {
			x := cgo.NewCtx()
			x.SetISA(isa)
			res, err := call.RunInto(x, impl, poisoned{})
			check(impl+"/"+isa.String(), x, res, err)
		}
	}
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

// modsumRef is the definition in exact integer arithmetic: big.Int's Mod
// is Euclidean, so the remainder is the non-negative one.
func modsumRef(n, iters int64) int64 {
	var s int64
	bn, p, m := big.NewInt(n), new(big.Int), big.NewInt(97)
	for i := int64(0); i < iters; i++ {
		s += p.Mod(p.Mul(big.NewInt(i), bn), m).Int64()
	}
	return s
}

func TestModsumTable(t *testing.T) {
	for _, n := range []int64{0, 1, 7, -7, 97, -98, math.MaxInt64, math.MinInt64} {
		for _, iters := range []int64{0, 1, 2, 16, 17, 97, 1000, 65537} {
			want := modsumRef(n, iters)
			runAll(t, "modsum", wire.Args{"n": wire.Int(n), "iters": wire.Int(iters)}, func(t *testing.T, impl string, res wire.Result) {
				var got int64
				json.Unmarshal(res["total"].JSON, &got)
				if got != want {
					t.Errorf("%s: modsum(%d, %d) = %d, want %d", impl, n, iters, got, want)
				}
			})
		}
	}
}

var huge = map[tensor.DType]float64{tensor.F64: 1e100, tensor.F32: 1e15}

func matrix(r *rand.Rand, dt tensor.DType, rows, cols int, special bool) *tensor.Tensor {
	m, _ := tensor.New(dt, rows, cols)
	for i := range rows * cols {
		v := r.Float64()*2 - 1
		if special {
			switch i % 7 {
			case 1:
				v *= 1e-300 // tiny (flushes to 0 in f32)
			case 2:
				v = math.Copysign(0, -1)
			case 3:
				v *= huge[dt] // products stay finite in the dtype
			}
		}
		if dt == tensor.F64 {
			m.Float64()[i] = v
		} else {
			m.Float32()[i] = float32(v)
		}
	}
	return m
}

func get(m *tensor.Tensor, i int) float64 {
	if m.DType == tensor.F32 {
		return float64(m.Float32()[i])
	}
	return m.Float64()[i]
}

func TestGemmTable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tc struct {
		m, n, k        int
		transA, transB bool
		alpha, beta    float64
		withC, special bool
	}
	var cases []tc
	for _, s := range [][3]int{{0, 0, 0}, {1, 1, 1}, {2, 3, 1}, {4, 3, 0}, {7, 5, 3}, {13, 17, 19}, {31, 1, 64}, {65, 33, 2}, {1, 40, 97}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			cases = append(cases, tc{s[0], s[1], s[2], tr[0], tr[1], 1, 0, false, false})
		}
		cases = append(cases, tc{s[0], s[1], s[2], false, false, -0.5, 2, true, false})
		cases = append(cases, tc{s[0], s[1], s[2], true, true, 0, 3, true, false})
		cases = append(cases, tc{s[0], s[1], s[2], false, false, 1, 0, true, true})
		cases = append(cases, tc{s[0], s[1], s[2], false, true, 0, 0, true, false}) // C = 0, c unread
	}
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		for _, c := range cases {
			ra, ca, rb, cb := c.m, c.k, c.k, c.n
			if c.transA {
				ra, ca = ca, ra
			}
			if c.transB {
				rb, cb = cb, rb
			}
			a, b := matrix(r, dt, ra, ca, c.special), matrix(r, dt, rb, cb, c.special)
			args := wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(b),
				"alpha": wire.Float(c.alpha), "beta": wire.Float(c.beta),
				"trans_a": wire.Bool(c.transA), "trans_b": wire.Bool(c.transB)}
			var cm *tensor.Tensor
			if c.withC {
				cm = matrix(r, dt, c.m, c.n, false)
				if c.beta == 0 && c.m*c.n > 0 { // beta = 0 must ignore NaN in c
					if dt == tensor.F64 {
						cm.Float64()[0] = math.NaN()
					} else {
						cm.Float32()[0] = float32(math.NaN())
					}
				}
				args["c"] = wire.TensorValue(cm)
			}
			tol := 1e-12
			if dt == tensor.F32 {
				tol = 1e-4
			}
			runAll(t, "gemm", args, func(t *testing.T, impl string, res wire.Result) {
				out := res["c"].Tensor
				if out == nil || out.DType != dt || out.Shape[0] != c.m || out.Shape[1] != c.n {
					t.Fatalf("%s %+v: result %+v", impl, c, out)
				}
				for i := range c.m {
					for j := range c.n {
						var s, mag float64
						for p := range c.k {
							ai, bi := i*ca+p, p*cb+j
							if c.transA {
								ai = p*ca + i
							}
							if c.transB {
								bi = j*cb + p
							}
							s += get(a, ai) * get(b, bi)
							mag += math.Abs(get(a, ai) * get(b, bi))
						}
						want := c.alpha * s
						if c.beta != 0 {
							want += c.beta * get(cm, i*c.n+j)
							mag += math.Abs(c.beta * get(cm, i*c.n+j))
						}
						// NaN only where the maths puts one: poisoned memory
						// left unwritten would read as NaN
						if got := get(out, i*c.n+j); math.Abs(got-want) > tol*(mag+1) || math.IsNaN(got) != math.IsNaN(want) {
							t.Fatalf("%s %s %+v: c[%d,%d] = %g, want %g", impl, dt, c, i, j, got, want)
						}
					}
				}
			})
		}
	}
}

// TestGemmValidation: what gemm's Params cannot say (the generic refusals
// are TestDefinitionsRefuse's).
func TestGemmValidation(t *testing.T) {
	f64 := func(rows, cols int) wire.Value {
		m, _ := tensor.New(tensor.F64, rows, cols)
		return wire.TensorValue(m)
	}
	checkRefusals(t, "gemm", []refusal{
		{"inner dims", wire.Args{"a": f64(2, 3), "b": f64(2, 2)}, "inner dimensions"},
		{"trans inner dims", wire.Args{"a": f64(2, 3), "b": f64(3, 2), "trans_a": wire.Bool(true)}, "inner dimensions"},
		{"c shape", wire.Args{"a": f64(2, 3), "b": f64(3, 2), "c": f64(3, 3)}, "c is"},
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
