// Package bench holds crunch's benchmarks: kernels against gonum and
// OpenBLAS, and the dispatch cost of each executor. Run them with
// `make bench`, or directly:
//
//	go test -run='^$' -bench=. -count=5 ./bench/ | tee new.txt
//	benchstat new.txt
//
// Every figure quoted in the project's docs names the command that
// produced it.
package bench
