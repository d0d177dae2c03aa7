package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/crunchsvc/crunch/bench/load"
)

// table is a Markdown table whose columns are padded to line up in plain
// text too.
type table struct {
	header []string
	right  []bool // right-aligned columns (numbers)
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.header))
	for i := range width {
		width[i] = 3 // the separator's least: "---" or "--:"
	}
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < len(t.right) && t.right[i] {
				fmt.Fprintf(&b, " %s%s |", pad, c)
			} else {
				fmt.Fprintf(&b, " %s%s |", c, pad)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.header)
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i]-1)
		if i < len(t.right) && t.right[i] {
			sep[i] += ":"
		} else {
			sep[i] += "-"
		}
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
}

// spread formats a median and its range: "1.23 (1.01–1.50)", or the
// median alone when every run gave the same figure or there was one run.
func spread(s load.Spread, digits int) string {
	f := func(x float64) string { return fmt.Sprintf("%.*f", digits, x) }
	if s.N <= 1 || f(s.Min) == f(s.Max) {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}
