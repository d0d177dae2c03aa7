package kernels_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// TestGonumMeanIsNaive documents why the Go implementation is not gonum's
// stat package: on 10^7 copies of 0.1, stat.Mean (a running sum) is off by
// about 2·10^-11 relative, StatsGo by nothing.
func TestGonumMeanIsNaive(t *testing.T) {
	if testing.Short() {
		t.Skip("10^7 elements")
	}
	x := make([]float64, 10_000_000)
	for i := range x {
		x[i] = 0.1
	}
	exact, _ := new(big.Float).SetPrec(200).Mul(big.NewFloat(0.1), big.NewFloat(float64(len(x)))).Float64()
	wantMean := exact / float64(len(x))
	ours, err := kernels.StatsGo(nil, x, 0)
	if err != nil {
		t.Fatal(err)
	}
	gonum := stat.Mean(x, nil)
	if e := relErr(ours.Mean, wantMean); e > 2e-16 {
		t.Errorf("StatsGo mean relative error %.2g", e)
	}
	if e := relErr(gonum, wantMean); e < 1e-12 {
		t.Errorf("gonum's stat.Mean is accurate now (relative error %.2g): consider using it", e)
	} else {
		t.Logf("relative error of the mean of 10^7 x 0.1: gonum stat.Mean %.2g, StatsGo %.2g",
			e, relErr(ours.Mean, wantMean))
	}
}

// TestStatsGoMatchesC: the two implementations run the same algorithm, so
// on ordinary data they agree to the last few bits.
func TestStatsGoMatchesC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 100, 5000, 1 << 20} {
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64()*3 + 1000
		}
		ddof := min(1, n-1)
		g, err := kernels.StatsGo(nil, x, ddof)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cgo.StatsF64(nil, x, ddof)
		if err != nil {
			t.Fatal(err)
		}
		if relErr(g.Sum, c.Sum) > 1e-15 || relErr(g.Var, c.Var) > 1e-14 || g.Min != c.Min || g.Max != c.Max {
			t.Errorf("n=%d: Go %+v, C %+v", n, g, c)
		}
	}
}

// TestStatsCancelAndProgress: a cancelled Ctx stops both implementations;
// a finished call reports all its elements done.
func TestStatsCancelAndProgress(t *testing.T) {
	x, _ := tensor.New(tensor.F64, 1<<20)
	progressThenCancel(t, "stats", wire.Args{"x": wire.TensorValue(x)}, 1<<20)
}
