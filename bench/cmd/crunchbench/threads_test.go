package main

import (
	"bytes"
	"strings"
	"testing"
)

const sampleThreads = `BenchmarkThreads/op=gemm-f64/n=512/impl=c/threads=1-2         	  10	   4000000 ns/op	        67.1 GFLOP/s
BenchmarkThreads/op=gemm-f64/n=512/impl=c/threads=1-2         	  10	   5000000 ns/op	        53.7 GFLOP/s
BenchmarkThreads/op=gemm-f64/n=512/impl=c/threads=1-2         	  10	   6000000 ns/op	        44.7 GFLOP/s
BenchmarkThreads/op=gemm-f64/n=512/impl=c/threads=2-2         	  10	   2500000 ns/op	        107 GFLOP/s
BenchmarkThreads/op=gemm-f64/n=512/impl=openblas/threads=1-2  	  10	   4000000 ns/op	        67.1 GFLOP/s
BenchmarkThreads/op=gemm-f64/n=512/impl=openblas/threads=2-2  	  10	   2000000 ns/op	        134 GFLOP/s
BenchmarkThreads/op=mandelbrot/size=2048/iter=256/impl=c/threads=1-2  	 3	  32000000 ns/op	  131 Mpixel/s
BenchmarkThreads/op=mandelbrot/size=2048/iter=256/impl=c/threads=2-2  	 3	  20000000 ns/op	  210 Mpixel/s
BenchmarkThreads/op=sort-f64/n=1e7/impl=c/threads=1-2   	 1	 990000000 ns/op	  10.1 Melem/s
BenchmarkThreads/op=sort-f64/n=1e7/impl=c/threads=1-2   	 1	 1040000000 ns/op	  9.6 Melem/s
BenchmarkThreads/op=sort-f64/n=1e7/impl=c/threads=1-2   	 1	 1010000000 ns/op	  9.9 Melem/s
BenchmarkThreads/op=fft-c128/n=1048576/impl=c/threads=1-2     	  10	  11000000 ns/op	  9.53 GFLOP/s
BenchmarkThreads/op=fft-c128/n=1048576/impl=c/threads=2-2     	  10	   8000000 ns/op	  13.1 GFLOP/s
BenchmarkGemmF64/impl=c-avx512/n=64-2   	   1000	      10000 ns/op	        50.0 GFLOP/s
`

func TestThreadsTable(t *testing.T) {
	lines, err := parseBench(strings.NewReader(sampleThreads))
	if err != nil {
		t.Fatal(err)
	}
	tab, all, missing := threadsTable(lines, []string{"openblas"})
	if all != 2 || !missing {
		t.Errorf("all = %d, missing = %v; want 2, true", all, missing)
	}
	var b bytes.Buffer
	tab.write(&b)
	out := b.String()
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 6 { // header, separator, four ops
		t.Fatalf("%d lines, want 6:\n%s", len(rows), out)
	}
	for _, want := range []string{
		"crunch, 2 threads", "crunch / library, 2 threads",
		"| gemm-f64 n=512 ", "5 (4–6) ms, 53.7 GFLOP/s", "2.5 ms, 107 GFLOP/s", "2.00×", "OpenBLAS", "80%",
		"| mandelbrot size=2048 iter=256 ", "1.60×", "| — ",
		"| fft-c128 n=1048576 ", "FFTW: not installed",
		"1.01 (0.99–1.04) s, 9.9 Melem/s", // a second's time in s, the spread in the median's unit
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "GemmF64") || strings.Contains(out, "c-avx512") {
		t.Errorf("table shows another family:\n%s", out)
	}
	if got := formatTime(benchCell{Median: 784e6, Min: 640e6, Max: 1040e6, Runs: 5}); got != "784 (640–1040) ms" {
		t.Errorf("formatTime: %q", got)
	}
	if _, _, missing := threadsTable(lines, []string{"openblas", "fftw"}); missing {
		t.Error("fftw's tag given, yet its library is said missing")
	}
}
