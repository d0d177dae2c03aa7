package kernels_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// histCase is one histogram request: x's values (as float64; f32 cases
// round them), its dtype, bins and an optional range.
type histCase struct {
	name string
	dt   tensor.DType
	x    []float64
	bins int
	rng  []float64 // nil: no range
}

func (c histCase) tensor() *tensor.Tensor {
	if c.dt == tensor.F32 {
		v := make([]float32, len(c.x))
		for i, e := range c.x {
			v[i] = float32(e)
		}
		return tensor.FromFloat32([]int{len(v)}, v)
	}
	return tensor.FromFloat64([]int{len(c.x)}, c.x)
}

func (c histCase) args() wire.Args {
	a := wire.Args{"x": wire.TensorValue(c.tensor()), "bins": wire.Int(int64(c.bins))}
	if c.rng != nil {
		a["range"] = wire.TensorValue(tensor.FromFloat64([]int{2}, c.rng))
	}
	return a
}

// histCases are inputs chosen to meet NumPy's every rule: values on the
// edges, near them by an ulp, outside the range, NaN and ±Inf with a
// range, equal values (a widened range), bins of 1 and many, f32 arithmetic.
func histCases() []histCase {
	r := rand.New(rand.NewPCG(41, 42))
	normal := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64() * scale
		}
		return v
	}
	// Values on and next to the edges of [0.1, 0.7] in 7 bins.
	var onEdges []float64
	for i := 0; i <= 7; i++ {
		e := 0.1 + float64(i)*(0.6/7)
		onEdges = append(onEdges, e, math.Nextafter(e, 0), math.Nextafter(e, 1),
			float64(float32(e)), float64(math.Nextafter32(float32(e), 0)), float64(math.Nextafter32(float32(e), 1)))
	}
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.0, 0, 1e-300, -1e300, 1e300, 0.5}
	var cases []histCase
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		cases = append(cases,
			histCase{name: "normal 10^5, 100 bins", dt: dt, x: normal(100_000, 3), bins: 100},
			histCase{name: "normal, 7 bins, range", dt: dt, x: normal(10_007, 1), bins: 7, rng: []float64{-1.3, 2.1}},
			histCase{name: "on edges, no range", dt: dt, x: onEdges, bins: 7},
			histCase{name: "on edges, range [0.1, 0.7]", dt: dt, x: onEdges, bins: 7, rng: []float64{0.1, 0.7}},
			// Bounds that f32 rounds inwards (0.7 down, 0.1 up): NumPy
			// compares f32 values with the rounded bounds.
			histCase{name: "on edges, range [0.7, 0.9]", dt: dt, x: onEdges, bins: 3, rng: []float64{0.7, 0.9}},
			histCase{name: "on edges, range [-0.5, 0.1]", dt: dt, x: onEdges, bins: 3, rng: []float64{-0.5, 0.1}},
			histCase{name: "on edges, 1000 bins", dt: dt, x: onEdges, bins: 1000, rng: []float64{0.1, 0.7}},
			histCase{name: "one bin", dt: dt, x: normal(1000, 1), bins: 1},
			histCase{name: "special with range", dt: dt, x: special, bins: 5, rng: []float64{-1, 1}},
			histCase{name: "all equal", dt: dt, x: []float64{2.5, 2.5, 2.5}, bins: 4},
			histCase{name: "range lo == hi", dt: dt, x: []float64{1, 2, 3}, bins: 3, rng: []float64{2, 2}},
			histCase{name: "empty", dt: dt, x: []float64{}, bins: 5},
			histCase{name: "one value", dt: dt, x: []float64{-7}, bins: 1},
			histCase{name: "huge spread", dt: dt, x: []float64{-1e30, 1e30, 0, 3e29}, bins: 13},
			histCase{name: "tiny spread", dt: dt, x: []float64{1, 1 + 1e-7, 1 + 2e-7, 1 + 3e-7}, bins: 3},
		)
	}
	return cases
}

// numpyHistograms runs numpy.histogram over cases in one Python process
// and returns each case's counts and edges (as float64), or skips the
// test when /usr/bin/python3 has no NumPy.
func numpyHistograms(t *testing.T, cases []histCase) (counts [][]int64, edges [][]float64) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("no NumPy to compare with (%s -c 'import numpy': %v)", py, err)
	}
	dir := t.TempDir()
	type spec struct {
		DType string    `json:"dtype"`
		Bins  int       `json:"bins"`
		Range []float64 `json:"range"`
	}
	var specs []spec
	for i, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)+".in"), c.tensor().Data, 0o600); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec{c.dt.String(), c.bins, c.rng})
	}
	manifest, _ := json.Marshal(specs)
	script := `
import json, sys, os
import numpy as np
d = sys.argv[1]
for i, s in enumerate(json.loads(open(os.path.join(d, "cases.json")).read())):
    x = np.fromfile(os.path.join(d, "%d.in" % i), dtype={"f32": np.float32, "f64": np.float64}[s["dtype"]])
    rng = tuple(s["range"]) if s["range"] else None
    c, e = np.histogram(x, bins=s["bins"], range=rng)
    c.astype("<i8").tofile(os.path.join(d, "%d.counts" % i))
    e.astype("<f8").tofile(os.path.join(d, "%d.edges" % i))
`
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	for i := range cases {
		cb, err1 := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+".counts"))
		eb, err2 := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+".edges"))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		c := make([]int64, len(cb)/8)
		for j := range c {
			c[j] = int64(binary.LittleEndian.Uint64(cb[8*j:]))
		}
		e := make([]float64, len(eb)/8)
		for j := range e {
			e[j] = math.Float64frombits(binary.LittleEndian.Uint64(eb[8*j:]))
		}
		counts, edges = append(counts, c), append(edges, e)
	}
	return counts, edges
}

// TestHistogramMatchesNumPy: every implementation on every SIMD path gives
// NumPy's counts and edges, bit for bit.
func TestHistogramMatchesNumPy(t *testing.T) {
	cases := histCases()
	wantCounts, wantEdges := numpyHistograms(t, cases)
	for i, c := range cases {
		runAll(t, "histogram", c.args(), func(t *testing.T, where string, res wire.Result) {
			counts, _ := res.Tensor("counts")
			edges, _ := res.Tensor("edges")
			if !slices.Equal(counts.Int64(), wantCounts[i]) {
				t.Errorf("%s %s %s: counts %v, NumPy %v", c.dt, c.name, where, counts.Int64(), wantCounts[i])
			}
			for j, e := range edges.Float64() {
				if j >= len(wantEdges[i]) || math.Float64bits(e) != math.Float64bits(wantEdges[i][j]) {
					t.Errorf("%s %s %s: edges %v, NumPy %v", c.dt, c.name, where, edges.Float64(), wantEdges[i])
					break
				}
			}
		})
	}
}

// TestHistogramValidation: what histogram's Params cannot say.
func TestHistogramValidation(t *testing.T) {
	f64 := func(v ...float64) wire.Value { return wire.TensorValue(tensor.FromFloat64([]int{len(v)}, v)) }
	checkRefusals(t, "histogram", []refusal{
		{"range of 3", wire.Args{"x": f64(1, 2), "range": f64(0, 1, 2)}, "[lo, hi]"},
		{"range reversed", wire.Args{"x": f64(1, 2), "range": f64(1, 0)}, "must not exceed"},
		{"range NaN", wire.Args{"x": f64(1, 2), "range": f64(math.NaN(), 1)}, "not finite"},
		{"range Inf", wire.Args{"x": f64(1, 2), "range": f64(0, math.Inf(1))}, "not finite"},
		{"NaN in x, no range", wire.Args{"x": f64(1, math.NaN())}, "give range"},
		{"Inf in x, no range", wire.Args{"x": f64(1, math.Inf(-1))}, "give range"},
	})
}

// TestHistogramCancel: a cancelled Ctx stops every implementation; a
// finished call reports every element done.
func TestHistogramCancel(t *testing.T) {
	x := tensor.FromFloat64([]int{1 << 20}, make([]float64, 1<<20))
	op, _ := kernels.Default().Lookup("histogram")
	call, err := op.Prepare(wire.Args{"x": wire.TensorValue(x)})
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range op.Impls {
		c := cgo.NewCtx()
		if _, err := call.Run(c, impl); err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		if done, total, _ := c.Progress(); done != total || total == 0 {
			t.Errorf("%s: progress %d of %d", impl, done, total)
		}
		c = cgo.NewCtx()
		c.Cancel()
		if _, err := call.Run(c, impl); !errors.Is(err, cgo.ErrCanceled) {
			t.Errorf("%s: cancelled run: %v", impl, err)
		}
	}
}
