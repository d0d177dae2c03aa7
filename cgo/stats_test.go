package cgo_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// The kernels package runs the full stats table; this checks the binding
// itself: argument checks, an empty slice, and that every path agrees.

func TestStatsBinding(t *testing.T) {
	v := []float64{4, -1, 2.5, 0}
	for _, isa := range cgo.ISAs() {
		x := cgo.NewCtx()
		x.SetISA(isa)
		s, err := cgo.StatsF64(x, v, 1)
		if err != nil {
			t.Fatal(err)
		}
		// mean 1.375; squared deviations sum to 15.6875, over n-1 = 3
		if s.Count != 4 || s.Sum != 5.5 || s.Mean != 1.375 || s.Var != 15.6875/3 || s.Min != -1 || s.Max != 4 ||
			s.Std != math.Sqrt(15.6875/3) {
			t.Errorf("%s: %+v", isa, s)
		}
		if done, total, _ := x.Progress(); done != 4 || total != 4 {
			t.Errorf("%s: progress %d/%d", isa, done, total)
		}
		s32, err := cgo.StatsF32(x, []float32{4, -1, 2.5, 0}, 1)
		if err != nil || s32 != s {
			t.Errorf("%s: f32 %+v, %v", isa, s32, err)
		}
	}
	s, err := cgo.StatsF64(nil, nil, 0)
	if err != nil || s.Count != 0 || s.Sum != 0 || !math.IsNaN(s.Mean) || !math.IsNaN(s.Min) {
		t.Errorf("empty: %+v, %v", s, err)
	}
	for _, ddof := range []int{-1, 4, 100} {
		_, err := cgo.StatsF64(nil, v, ddof)
		var ce *cgo.Error
		if !errors.As(err, &ce) || !errors.Is(err, cgo.ErrInvalid) || !strings.Contains(ce.Error(), "ddof") {
			t.Errorf("ddof %d: %v", ddof, err)
		}
	}
}
