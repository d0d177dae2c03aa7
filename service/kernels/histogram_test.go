package kernels_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/crunchsvc/crunch/service/kernels/conform"
	"github.com/crunchsvc/crunch/service/wire"
)

// numpyHistograms runs numpy.histogram over requests in one Python
// process and returns each one's counts and edges (as float64), or skips
// the test when /usr/bin/python3 has no NumPy.
func numpyHistograms(t *testing.T, requests []wire.Args) (counts [][]int64, edges [][]float64) {
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
	for i, args := range requests {
		x, _ := args.Tensor("x")
		bins, _ := args.Int("bins", 10)
		var rng []float64
		if r, _ := args.OptTensor("range"); r != nil {
			rng = r.Float64()
		}
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)+".in"), x.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec{x.DType.String(), int(bins), rng})
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
	for i := range requests {
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

// TestHistogramMatchesNumPy: on every conformance case but the refusals, every
// implementation on every SIMD path gives NumPy's counts and edges, bit
// for bit.
func TestHistogramMatchesNumPy(t *testing.T) {
	var cases []conform.Case
	var requests []wire.Args
	for _, c := range conform.Cases("histogram") {
		if args, _ := c.Build(); c.Size > 0 { // not the refusals
			cases, requests = append(cases, c), append(requests, args)
		}
	}
	wantCounts, wantEdges := numpyHistograms(t, requests)
	for i, c := range cases {
		runAll(t, "histogram", requests[i], func(t *testing.T, where string, res wire.Result) {
			counts, _ := res.Tensor("counts")
			edges, _ := res.Tensor("edges")
			if !slices.Equal(counts.Int64(), wantCounts[i]) {
				t.Errorf("%s %s: counts %v, NumPy %v", c.Name, where, counts.Int64(), wantCounts[i])
			}
			for j, e := range edges.Float64() {
				if j >= len(wantEdges[i]) || math.Float64bits(e) != math.Float64bits(wantEdges[i][j]) {
					t.Errorf("%s %s: edges %v, NumPy %v", c.Name, where, edges.Float64(), wantEdges[i])
					break
				}
			}
		})
	}
}
