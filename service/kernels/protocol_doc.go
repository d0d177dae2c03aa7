package kernels

import (
	"fmt"
	"strings"
)

// ProtocolDoc writes the reference of ops in Markdown, for
// docs/PROTOCOL.md: a summary table, then each op's arguments and results
// with every rule the server checks. It is generated from the same
// definitions the server validates with, so the two cannot drift.
func ProtocolDoc(ops []*Op) string {
	var b strings.Builder
	b.WriteString("| op | what it computes | impls (first: the default) |\n| --- | --- | --- |\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "| [`%s`](#op-%s) | %s | %s |\n", op.Name, op.Name, cell(op.Summary), strings.Join(op.Impls, ", "))
	}
	for _, op := range ops {
		fmt.Fprintf(&b, "\n#### <a id=\"op-%s\"></a>`%s`\n%s.\n\n", op.Name, op.Name, capitalize(op.Doc))
		b.WriteString("| argument | kind | accepts | default | meaning |\n| --- | --- | --- | --- | --- |\n")
		for _, p := range op.Params {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p.Name, p.Kind, cell(p.Rules()), cell(p.defaultText()), cell(p.Doc))
		}
		b.WriteString("\n| result | kind | | meaning |\n| --- | --- | --- | --- |\n")
		for _, p := range op.Results {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", p.Name, p.Kind, cell(p.Rules()), cell(p.Doc))
		}
	}
	return b.String()
}

// Rules describes what p accepts (or, for a result, what it holds), in
// words: the protocol reference and the clients' docs show it.
func (p *Param) Rules() string {
	var parts []string
	if len(p.DTypes) > 0 {
		parts = append(parts, strings.Join(p.DTypes, ", "))
	}
	if p.SameDType != "" {
		parts = append(parts, "the dtype of `"+p.SameDType+"`")
	}
	if len(p.Ranks) > 0 {
		parts = append(parts, dimensions(p.Ranks))
	}
	if p.Shape != "" {
		parts = append(parts, "shape "+p.Shape)
	}
	switch {
	case p.Min != nil && p.Max != nil:
		parts = append(parts, fmt.Sprintf("%s to %s", fmtBound(*p.Min), fmtBound(*p.Max)))
	case p.Min != nil:
		parts = append(parts, "≥ "+fmtBound(*p.Min))
	case p.Max != nil:
		parts = append(parts, "≤ "+fmtBound(*p.Max))
	}
	if p.Finite {
		parts = append(parts, "finite")
	}
	if len(p.Values) > 0 {
		vals := make([]string, len(p.Values))
		for i, v := range p.Values {
			vals[i] = "`" + v + "`"
		}
		parts = append(parts, orList(vals))
	}
	return strings.Join(parts, "; ")
}

func (p *Param) defaultText() string {
	switch {
	case p.Required:
		return "required"
	case p.Default == nil:
		return "absent"
	case p.Kind == KindString:
		return "`" + p.Default.(string) + "`"
	}
	return fmt.Sprint(p.Default)
}

// cell escapes what would end a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
