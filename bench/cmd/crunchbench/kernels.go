package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Flags of the kernels mode.
var (
	kernelsRun       = flag.String("kernels-bench", ".", "kernels: the go test -bench pattern over package bench (BenchmarkThreads is the threads mode's)")
	kernelsCount     = flag.Int("kernels-count", 5, "kernels: go test -count (each figure is the median of this many runs)")
	kernelsBenchtime = flag.String("kernels-benchtime", "200ms", "kernels: go test -benchtime per run")
	kernelsTags      = flag.String("kernels-tags", "", "kernels and threads: build tags for package bench (openblas, fftw: compare with those libraries when installed)")
	kernelsOut       = flag.String("kernels-out", "", "kernels: also write go test's raw output here (benchstat's input format)")
)

// runKernels runs the Go micro-benchmarks of package bench (every kernel,
// C on each SIMD path against Go/gonum and, with their tags, OpenBLAS and
// FFTW, single-threaded; dispatch and transfer through each executor) and
// tabulates them: per family, the median and spread over -kernels-count
// runs of its rate (GFLOP/s, GB/s, …) per implementation.
func runKernels(ctx context.Context, e *env) (any, error) {
	count, benchtime := *kernelsCount, *kernelsBenchtime
	if *quick {
		if !flagGiven("kernels-count") {
			count = 1
		}
		if !flagGiven("kernels-benchtime") {
			benchtime = "20ms"
		}
	}
	res, err := goBench{
		mode: "kernels", bench: *kernelsRun, skip: "^BenchmarkThreads$",
		count: count, benchtime: benchtime, rawOut: *kernelsOut,
	}.run(ctx, e)
	if err != nil {
		return res, err
	}
	writeKernels(e.out, res, count, benchtime)
	return res, nil
}

// writeKernels writes one table per benchmark family.
func writeKernels(w io.Writer, res goBenchRun, count int, benchtime string) {
	fmt.Fprintf(w, "\n## Kernels and dispatch: Go micro-benchmarks\n\n")
	fmt.Fprintf(w, "`%s` (single-threaded; the raw output is benchstat's input). Cells: median (min–max) of %d runs of %s; "+
		"ratios compare medians of the same run.\n", res.Command, count, benchtime)
	var families []string
	for _, l := range res.Lines {
		if !slices.Contains(families, l.Family) {
			families = append(families, l.Family)
		}
	}
	for _, fam := range families {
		unit := mainUnit(slices.DeleteFunc(slices.Clone(res.Lines), func(l benchLine) bool { return l.Family != fam }))
		fmt.Fprintf(w, "\n### %s (%s)\n\n", fam, unit)
		familyTable(res.Lines, fam, unit).write(w)
	}
}

// familyTable lays a family out with one row per value of its parameters
// other than impl, and one column per impl; with two or more impls, a last
// column gives the best C path's figure over the best other's.
func familyTable(all []benchLine, fam, unit string) *table {
	cells := collect(all, fam, unit)
	var rows, impls []string
	rowOf := map[string]string{}
	implOf := map[string]string{}
	for _, l := range all {
		if l.Family != fam {
			continue
		}
		impl := l.Params["impl"]
		var rest []string
		for _, part := range strings.Split(l.Path, "/") {
			if !strings.HasPrefix(part, "impl=") {
				rest = append(rest, part)
			}
		}
		row := strings.Join(rest, " ")
		if !slices.Contains(rows, row) {
			rows = append(rows, row)
		}
		if !slices.Contains(impls, impl) {
			impls = append(impls, impl)
		}
		rowOf[l.Path], implOf[l.Path] = row, impl
	}
	if len(impls) == 1 && impls[0] == "" {
		return metricsTable(all, fam, rows, rowOf)
	}
	withRatio := len(impls) > 1 && slices.ContainsFunc(impls, isCImpl) && slices.ContainsFunc(impls, func(s string) bool { return !isCImpl(s) })
	t := &table{header: []string{"case"}, right: []bool{false}}
	for _, impl := range impls {
		t.header = append(t.header, orDash(impl))
		t.right = append(t.right, true)
	}
	if withRatio {
		t.header = append(t.header, "best c ÷ best other")
		t.right = append(t.right, true)
	}
	higherIsBetter := unit != "ns/op"
	for _, row := range rows {
		r := []string{orDash(row)}
		bestC, bestOther := 0.0, 0.0
		for _, impl := range impls {
			cell, found := benchCell{}, false
			for path, c := range cells {
				if rowOf[path] == row && implOf[path] == impl {
					cell, found = c, true
				}
			}
			if !found {
				r = append(r, "")
				continue
			}
			r = append(r, formatCell(cell))
			better := func(a, b float64) bool { return b == 0 || (higherIsBetter && a > b) || (!higherIsBetter && a < b) }
			if isCImpl(impl) && better(cell.Median, bestC) {
				bestC = cell.Median
			} else if !isCImpl(impl) && impl != "read" && better(cell.Median, bestOther) {
				bestOther = cell.Median
			}
		}
		if withRatio {
			ratio := ""
			if bestC > 0 && bestOther > 0 {
				x := bestC / bestOther
				if !higherIsBetter {
					x = bestOther / bestC
				}
				ratio = fmt.Sprintf("%.2f×", x)
			}
			r = append(r, ratio)
		}
		t.add(r...)
	}
	return t
}

// metricsTable lays out a family without impls (dispatch, say): one row
// per case, one column per metric its lines report.
func metricsTable(all []benchLine, fam string, rows []string, rowOf map[string]string) *table {
	var units []string
	for _, l := range all {
		for u := range l.Metrics {
			if l.Family == fam && !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
	}
	slices.SortFunc(units, func(a, b string) int { // ns/op first, then by name
		if (a == "ns/op") != (b == "ns/op") {
			if a == "ns/op" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	t := &table{header: append([]string{"case"}, units...), right: []bool{false}}
	for range units {
		t.right = append(t.right, true)
	}
	for _, row := range rows {
		r := []string{orDash(row)}
		for _, u := range units {
			cell := ""
			for path, c := range collect(all, fam, u) {
				if rowOf[path] == row {
					cell = formatCell(c)
				}
			}
			r = append(r, cell)
		}
		t.add(r...)
	}
	return t
}

// isCImpl reports whether impl names crunch's C kernel (c, or c-<isa>).
func isCImpl(impl string) bool { return impl == "c" || strings.HasPrefix(impl, "c-") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// formatCell writes a median with its spread, to three significant digits.
func formatCell(c benchCell) string {
	if c.Runs < 2 || c.Min == c.Max {
		return sig3(c.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", sig3(c.Median), sig3(c.Min), sig3(c.Max))
}

// sig3 writes x to three significant digits, and whole from 1000 on
// rather than as 1.23e+03.
func sig3(x float64) string {
	if math.Abs(x) >= 1000 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.3g", x)
}
