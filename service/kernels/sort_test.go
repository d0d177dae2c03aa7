package kernels_test

import (
	"errors"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestSortCancelAndProgress: a cancelled Ctx stops both implementations;
// a finished call reports done == total; a sort cancelled while it runs
// returns canceled.
func TestSortCancelAndProgress(t *testing.T) {
	op, _ := kernels.Default().Lookup("sort")
	r := rand.New(rand.NewPCG(1, 1))
	v := make([]float64, 1<<20)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	call, err := op.Prepare(wire.Args{"x": wire.TensorValue(tensor.FromFloat64([]int{len(v)}, v))})
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := call.Run(c, impl); err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		if done, total, _ := c.Progress(); done != total || total <= 0 {
			t.Errorf("%s: progress %d/%d", impl, done, total)
		}
		c.Cancel()
		if _, err := call.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s on a cancelled ctx: %v", impl, err)
		}
	}
	// Cancelled part-way: SortGo unwinds slices.SortFunc and leaves a
	// permutation behind.
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
	err = kernels.SortGo(c, w, false)
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
