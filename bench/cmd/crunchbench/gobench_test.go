package main

import (
	"bytes"
	"strings"
	"testing"
)

const sampleBench = `goos: linux
goarch: amd64
pkg: github.com/crunchsvc/crunch/bench
BenchmarkGemmF64/impl=c-avx512/n=64-2   	   1000	      10000 ns/op	        50.0 GFLOP/s
BenchmarkGemmF64/impl=c-avx512/n=64-2   	   1000	      10000 ns/op	        54.0 GFLOP/s
BenchmarkGemmF64/impl=c-avx512/n=64-2   	   1000	      10000 ns/op	        52.0 GFLOP/s
BenchmarkGemmF64/impl=gonum/n=64-2      	   1000	      10000 ns/op	         6.5 GFLOP/s
BenchmarkGemmF64/impl=gonum/n=64-2      	   1000	      10000 ns/op	         6.5 GFLOP/s
BenchmarkDispatch/exec=pool-2           	  50000	      2000 ns/op	       1100 p50-ns	    200000 p99-ns
BenchmarkCgoNoop-2                      	3000000	        37.0 ns/op
some log line
PASS
ok  	github.com/crunchsvc/crunch/bench	12.3s
`

func TestParseBench(t *testing.T) {
	lines, err := parseBench(strings.NewReader(sampleBench))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7: %+v", len(lines), lines)
	}
	g := lines[0]
	if g.Family != "GemmF64" || g.Path != "impl=c-avx512/n=64" || g.Params["impl"] != "c-avx512" || g.Params["n"] != "64" ||
		g.Iters != 1000 || g.Metrics["GFLOP/s"] != 50 || g.Metrics["ns/op"] != 10000 {
		t.Errorf("first line: %+v", g)
	}
	if d := lines[5]; d.Family != "Dispatch" || d.Metrics["p50-ns"] != 1100 {
		t.Errorf("dispatch line: %+v", d)
	}
	if c := lines[6]; c.Family != "CgoNoop" || c.Path != "" || c.Metrics["ns/op"] != 37 {
		t.Errorf("noop line: %+v", c)
	}
	if _, ok := parseBenchLine("BenchmarkX-2 notanumber 1 ns/op"); ok {
		t.Error("a line with a bad iteration count parsed")
	}
}

func TestFamilyTable(t *testing.T) {
	lines, _ := parseBench(strings.NewReader(sampleBench))
	if u := mainUnit(lines[:5]); u != "GFLOP/s" {
		t.Errorf("unit %s, want GFLOP/s", u)
	}
	cells := collect(lines, "GemmF64", "GFLOP/s")
	if c := cells["impl=c-avx512/n=64"]; c.Median != 52 || c.Min != 50 || c.Max != 54 || c.Runs != 3 {
		t.Errorf("cell %+v", c)
	}
	var b bytes.Buffer
	familyTable(lines, "GemmF64", "GFLOP/s").write(&b)
	out := b.String()
	for _, want := range []string{"| n=64 ", "52 (50–54)", "6.5", "8.00×", "c-avx512", "gonum", "best c ÷ best other"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	familyTable(lines, "Dispatch", "ns/op").write(&b)
	if out := b.String(); !strings.Contains(out, "exec=pool") || !strings.Contains(out, "p99-ns") || strings.Contains(out, "÷") {
		t.Errorf("dispatch table:\n%s", out)
	}
}
