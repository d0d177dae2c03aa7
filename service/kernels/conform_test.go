package kernels_test

import (
	"errors"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/kernels/conform"
	"github.com/crunchsvc/crunch/service/wire"
)

// shortSize is the largest case -short runs, and the race detector's build
// (its slower Go would spend minutes on the largest references; the
// concurrency it checks is the same at every size).
const shortSize = 1 << 24

// TestConformance runs every op's conformance cases with every
// implementation its definition lists, C on every SIMD path this CPU has,
// results in poisoned memory: each outcome must pass the case's check, a
// finished call must report all its work done, and the arguments must come
// back unchanged; the largest case, run on a cancelled Ctx, must stop. An
// op without cases fails.
func TestConformance(t *testing.T) {
	for _, op := range kernels.Default().Ops() {
		t.Run(op.Name, func(t *testing.T) {
			cases := conform.Cases(op.Name)
			if len(cases) == 0 {
				t.Fatalf("%s has no conformance cases: give it a file in service/kernels/conform", op.Name)
			}
			failed := 0
			var largest *conform.Case
			for _, c := range cases {
				if (testing.Short() || testutil.RaceEnabled) && c.Size > shortSize {
					continue
				}
				if largest == nil || c.Size > largest.Size {
					largest = &c
				}
				args, check := c.Build()
				before := cloneArgs(args)
				eachRun(t, op.Name, args, func(where string, x *cgo.Ctx, res wire.Result, err error) {
					if e := check(res, err); e != nil {
						t.Errorf("%s %s: %v", c.Name, where, e)
						failed++
					} else if err == nil {
						if done, total, _ := x.Progress(); done != total {
							t.Errorf("%s %s: progress %d of %d after success", c.Name, where, done, total)
							failed++
						}
					}
				})
				for name, v := range before {
					if v.Tensor != nil && !v.Tensor.Equal(args[name].Tensor) {
						t.Errorf("%s: argument %q was modified", c.Name, name)
						failed++
					}
				}
				if failed >= 10 {
					t.Fatalf("%s: giving up after %d failures", op.Name, failed)
				}
			}
			// The largest case again, on a cancelled Ctx: every path stops.
			args, _ := largest.Build()
			call, err := op.Prepare(args)
			if err != nil {
				t.Fatalf("%s: %v", largest.Name, err)
			}
			for _, p := range runPaths(op) {
				x := p.ctx()
				x.Cancel()
				if _, err := call.RunInto(x, p.impl, poisoned{}); !errors.Is(err, cgo.ErrCanceled) {
					t.Errorf("%s %s on a cancelled Ctx: %v", largest.Name, p, err)
				}
			}
		})
	}
}

// cloneArgs copies args' tensors, to see that a call left them alone.
func cloneArgs(args wire.Args) wire.Args {
	out := wire.Args{}
	for name, v := range args {
		if v.Tensor != nil {
			t := *v.Tensor
			t.Data = append([]byte(nil), t.Data...)
			v = wire.TensorValue(&t)
		}
		out[name] = v
	}
	return out
}
