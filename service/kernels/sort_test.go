package kernels_test

import (
	"errors"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
)

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
