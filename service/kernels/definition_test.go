package kernels_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/kernels/conform"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestDefinitionsAreWellFormed: every op's Params say what the generic
// checks need, in the types they read.
func TestDefinitionsAreWellFormed(t *testing.T) {
	for _, op := range kernels.Default().Ops() {
		if op.Doc == "" || op.Summary == "" || len(op.Params) == 0 || len(op.Results) == 0 || len(op.Impls) < 2 {
			t.Errorf("%s is not fully described", op.Name)
		}
		seen := map[string]kernels.Param{}
		for _, p := range append(slices.Clone(op.Params), op.Results...) {
			where := op.Name + "." + p.Name
			if p.Doc == "" {
				t.Errorf("%s has no doc", where)
			}
			for _, name := range p.DTypes {
				if _, err := tensor.ParseDType(name); err != nil {
					t.Errorf("%s: dtype %q: %v", where, name, err)
				}
			}
			if p.Kind != kernels.KindTensor && (len(p.DTypes) > 0 || len(p.Ranks) > 0 || p.SameDType != "") {
				t.Errorf("%s: a %s with tensor rules", where, p.Kind)
			}
			if p.Kind != kernels.KindString && len(p.Values) > 0 {
				t.Errorf("%s: a %s with values", where, p.Kind)
			}
			if (p.Min != nil || p.Max != nil) && p.Kind != kernels.KindInt && p.Kind != kernels.KindFloat {
				t.Errorf("%s: a %s with a range", where, p.Kind)
			}
			if p.Required && p.Default != nil {
				t.Errorf("%s: required and with a default", where)
			}
		}
		for _, p := range op.Params {
			where := op.Name + "." + p.Name
			if p.SameDType != "" {
				if ref, ok := seen[p.SameDType]; !ok || ref.Kind != kernels.KindTensor {
					t.Errorf("%s: same_dtype_as %q is not an earlier tensor argument", where, p.SameDType)
				}
			}
			seen[p.Name] = p
			if p.Required || p.Kind == kernels.KindTensor {
				continue
			}
			// A default of the Go type the accessors read, and within the rules.
			want := map[string]string{kernels.KindInt: "int64", kernels.KindFloat: "float64",
				kernels.KindBool: "bool", kernels.KindString: "string"}[p.Kind]
			if got := fmt.Sprintf("%T", p.Default); got != want {
				t.Errorf("%s: default %v is a %s, want %s", where, p.Default, got, want)
			}
			if s, ok := p.Default.(string); ok && len(p.Values) > 0 && !slices.Contains(p.Values, s) {
				t.Errorf("%s: default %q not among %v", where, s, p.Values)
			}
		}
	}
}

// TestDefinitionsRefuse: every op accepts the request its Params describe,
// and refuses each way of breaking one of them with invalid_argument and a
// message naming the op and the argument, in one wording.
func TestDefinitionsRefuse(t *testing.T) {
	for _, op := range kernels.Default().Ops() {
		if _, err := op.Prepare(conform.ValidArgs(op)); err != nil {
			t.Errorf("%s: the valid request is refused: %v", op.Name, err)
			continue
		}
		refusals := conform.Refusals(op)
		if len(refusals) < len(op.Params)+1 {
			t.Errorf("%s: only %d refusals", op.Name, len(refusals))
		}
		for _, r := range refusals {
			_, err := op.Prepare(r.Args)
			e := wire.AsError(err)
			if e == nil || e.Code != wire.InvalidArgument {
				t.Errorf("%s, %s: got %v, want invalid_argument", op.Name, r.Name, err)
				continue
			}
			if !strings.HasPrefix(e.Message, op.Name+": ") || !strings.Contains(e.Message, fmt.Sprintf("%q", r.Param)) {
				t.Errorf("%s, %s: message %q does not start with the op and name %q", op.Name, r.Name, e.Message, r.Param)
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite docs/PROTOCOL.md's op reference from the definitions")

// The generated op reference sits between these lines of docs/PROTOCOL.md.
const (
	docBegin = "<!-- ops: generated from the definitions in service/kernels; go test ./service/kernels -run TestProtocolDoc -update -->\n"
	docEnd   = "<!-- ops: end -->\n"
)

// TestProtocolDoc: docs/PROTOCOL.md's op reference is what the definitions
// say; -update rewrites it.
func TestProtocolDoc(t *testing.T) {
	const path = "../../docs/PROTOCOL.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the lines around the op reference:\n%s%s", path, docBegin, docEnd)
	}
	want := kernels.ProtocolDoc(kernels.Default().Ops())
	if got := doc[i+len(docBegin) : j]; got != want {
		if !*update {
			t.Fatalf("%s's op reference differs from the definitions; run go test ./service/kernels -run TestProtocolDoc -update", path)
		}
		if err := os.WriteFile(path, []byte(doc[:i+len(docBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
