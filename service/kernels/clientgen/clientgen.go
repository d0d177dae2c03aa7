// Package clientgen writes the clients' per-op methods from the op
// definitions (kernels.Op): the Python client's method mixins
// (clients/python/crunch/_ops_generated.py) and the Go client's argument
// types and methods (service/client/ops_generated.go). Names, argument
// order, defaults, result names and docs all come from the definitions,
// so an op gets its client methods by being defined: TestGenerated fails
// while a committed file differs from what the definitions say, and
// Command rewrites them.
package clientgen

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crunchsvc/crunch/service/kernels"
)

// Command regenerates the files; their headers name it.
const Command = "go test ./service/kernels/clientgen -update"

// Paths of the generated files, from the repository's root.
const (
	PythonPath = "clients/python/crunch/_ops_generated.py"
	GoPath     = "service/client/ops_generated.go"
)

// initialisms are written in capitals in Go names, as Go spells them.
var initialisms = map[string]string{"fft": "FFT", "id": "ID", "json": "JSON", "url": "URL", "cpu": "CPU"}

// GoName is name (an op's, argument's or result's, in snake_case) as an
// exported Go identifier: trans_a is TransA, fft FFT, conv2d Conv2D (a
// letter after a digit starts a word).
func GoName(name string) string {
	var b strings.Builder
	for _, word := range strings.Split(name, "_") {
		if up, ok := initialisms[word]; ok {
			b.WriteString(up)
			continue
		}
		start := true
		for _, r := range word {
			if start {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			start = unicode.IsDigit(r)
		}
	}
	return b.String()
}

// checkOrder refuses an op whose required arguments do not all come
// first: both clients take arguments in the definition's order, the
// optional ones with defaults, and a required one cannot follow those.
func checkOrder(op *kernels.Op) error {
	optional := ""
	for _, p := range op.Params {
		switch {
		case !p.Required:
			optional = p.Name
		case optional != "":
			return fmt.Errorf("clientgen: %s: required argument %q follows optional %q: list required arguments first", op.Name, p.Name, optional)
		}
	}
	return nil
}

// sentence is s with a capital first letter and a final period.
func sentence(s string) string {
	s = period(s)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// period is s ending with a period.
func period(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// wrap breaks text into lines of at most width characters, at spaces (a
// longer word has a line of its own).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// describe is p's doc and, when it has any, its rules after label:
// "left matrix. Accepts: f32, f64; 2 dimensions; shape [m,k]."
func describe(p kernels.Param, label string) string {
	text := period(p.Doc)
	if rules := p.Rules(); rules != "" {
		text += " " + label + ": " + rules + "."
	}
	return text
}

// Labels of the rules in describe.
const (
	accepts = "Accepts"
	holds   = "Holds"
)
