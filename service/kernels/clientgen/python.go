package clientgen

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/crunchsvc/crunch/service/kernels"
)

// pyReserved are names an op or argument cannot take in Python: keywords,
// the names a generated method uses itself, the options every method
// takes, and the clients' own methods.
var pyReserved = []string{
	"False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
	"def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
	"is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
	"self", "args", "opts", "int", "float", "bool", "str", "dict", "np", "npt", "Any", "Dict", "Optional",
	"exec", "impl", "timeout_ms", "threads", "progress", "binary",
	"call", "start", "close", "ping", "info", "cancel", "empty", "zeros", "shares",
}

var pyIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// pyTypes are each kind's Python type as an argument, its conversion
// before it is sent, and the type of a result.
var pyTypes = map[string]struct{ arg, cast, result string }{
	kernels.KindTensor: {"npt.ArrayLike", "", "np.ndarray"},
	kernels.KindInt:    {"int", "int", "int"},
	kernels.KindFloat:  {"float", "float", "float"},
	kernels.KindBool:   {"bool", "bool", "bool"},
	kernels.KindString: {"str", "", "str"},
}

const pyHeader = `"""The compute ops' methods of AsyncClient and Client, one per op.

Generated from the op definitions in service/kernels (the ones the server
validates with and info serves) by ` + "`" + Command + "`" + `;
do not edit. AsyncOps holds the coroutines, over AsyncClient.call;
BlockingOps the blocking methods, each running its coroutine on the
Client's event loop.
"""

from __future__ import annotations

from typing import Any, Coroutine, Dict, Optional, TypeVar

import numpy as np
import numpy.typing as npt

from ._reply import Result

__all__ = ["AsyncOps", "BlockingOps"]

T = TypeVar("T")


def _args(**args: Any) -> Dict[str, Any]:
    """A request's arguments: those given, an optional one left None out."""
    return {name: v for name, v in args.items() if v is not None}
`

// Python returns the module clients/python/crunch/_ops_generated.py: class
// AsyncOps, a mixin of AsyncClient with a coroutine per op, and class
// BlockingOps, a mixin of Client with the same methods blocking.
func Python(ops []*kernels.Op) ([]byte, error) {
	var async, blocking strings.Builder
	async.WriteString(`

class AsyncOps:
    """The compute ops as coroutines: a mixin of AsyncClient, which sends
    them through its call()."""

    async def call(self, op: str, args: Optional[Dict[str, Any]] = None, **opts: Any) -> Result:
        raise NotImplementedError  # AsyncClient's
`)
	blocking.WriteString(`

class BlockingOps:
    """The compute ops, blocking: a mixin of Client, which runs AsyncOps'
    coroutines on its event loop."""

    _aio: AsyncOps

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError  # Client's
`)
	var names []string
	for _, op := range ops {
		if err := pyCheck(op); err != nil {
			return nil, err
		}
		sig := pySignature(op)
		fmt.Fprintf(&async, "\n    async def %s%s\n%s%s", op.Name, sig, pyDocstring(op), pyAsyncBody(op))
		call := pyWrap("        return self._run(self._aio."+op.Name+"(", append(paramNames(op.Params), "**opts"), "))", false)
		fmt.Fprintf(&blocking, "\n    def %s%s\n%s", op.Name, sig, call)
		names = append(names, strconv.Quote(op.Name))
	}
	// The blocking methods' docstrings are the coroutines'.
	tail := "\n\n" + pyWrap("for _name in (", names, "):", false) +
		"    getattr(BlockingOps, _name).__doc__ = getattr(AsyncOps, _name).__doc__\n"
	return []byte(pyHeader + async.String() + blocking.String() + tail), nil
}

// pyWrap writes open, items joined by ", " and end as Python lines within
// 100 columns, continued lines indented by more spaces than open: four,
// or eight when deeper is set (a signature, whose body has four more).
func pyWrap(open string, items []string, end string, deeper bool) string {
	more := 4
	if deeper {
		more = 8
	}
	indent := strings.Repeat(" ", len(open)-len(strings.TrimLeft(open, " "))+more)
	var b strings.Builder
	line := open
	for i, item := range items {
		if i > 0 {
			item = ", " + item
		}
		if i == len(items)-1 {
			item += end
		}
		if len(line)+len(item) > 99 && line != open { // break after the comma
			b.WriteString(line + ",\n")
			line = indent + strings.TrimPrefix(item, ", ")
			continue
		}
		line += item
	}
	if len(items) == 0 {
		line += end
	}
	return b.String() + line + "\n"
}

// pyCheck refuses an op the Python client cannot have as a method.
func pyCheck(op *kernels.Op) error {
	if err := checkOrder(op); err != nil {
		return err
	}
	for _, name := range append([]string{op.Name}, paramNames(op.Params)...) {
		if !pyIdent.MatchString(name) || slices.Contains(pyReserved, name) {
			return fmt.Errorf("clientgen: %s: %q cannot be a Python name here", op.Name, name)
		}
	}
	return nil
}

func paramNames(ps []kernels.Param) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// pySignature is a method's parameters and its return type.
func pySignature(op *kernels.Op) string {
	params := []string{"self"}
	for _, p := range op.Params {
		typ := pyTypes[p.Kind].arg
		switch {
		case p.Required:
			params = append(params, fmt.Sprintf("%s: %s", p.Name, typ))
		case p.Default == nil:
			params = append(params, fmt.Sprintf("%s: Optional[%s] = None", p.Name, typ))
		default:
			params = append(params, fmt.Sprintf("%s: %s = %s", p.Name, typ, pyLiteral(p.Default)))
		}
	}
	params = append(params, "**opts: Any")
	// wrapped as the longer async line
	sig := pyWrap("    async def "+op.Name+"(", params, ") -> "+pyReturnType(op)+":", true)
	return strings.TrimSuffix(strings.TrimPrefix(sig, "    async def "+op.Name), "\n")
}

func pyReturnType(op *kernels.Op) string {
	if len(op.Results) == 1 {
		return pyTypes[op.Results[0].Kind].result
	}
	return "Dict[str, Any]"
}

// pyAsyncBody builds the request's arguments (an optional one left None
// out), calls and returns a single result as its value, several as a dict;
// numbers as the type of their kind (a NaN comes as a shape [] array: it
// becomes a float).
func pyAsyncBody(op *kernels.Op) string {
	args := make([]string, len(op.Params))
	for i, p := range op.Params {
		value := p.Name
		if cast := pyTypes[p.Kind].cast; cast != "" && (p.Required || p.Default != nil) {
			value = cast + "(" + p.Name + ")"
		}
		args[i] = p.Name + "=" + value
	}
	body := pyWrap(fmt.Sprintf("        r = await self.call(%q, _args(", op.Name), args, "), **opts)", false)
	if len(op.Results) == 1 {
		return body + "        return " + pyResult(op.Results[0]) + "\n"
	}
	results := make([]string, len(op.Results))
	for i, res := range op.Results {
		results[i] = fmt.Sprintf("%q: %s", res.Name, pyResult(res))
	}
	return body + pyWrap("        return {", results, "}", false)
}

// pyResult reads result res from r as the type of its kind.
func pyResult(res kernels.Param) string {
	value := fmt.Sprintf("r[%q]", res.Name)
	if cast := pyTypes[res.Kind].cast; cast != "" {
		return cast + "(" + value + ")"
	}
	return value
}

// pyDocstring is a method's docstring: the op's summary and doc, each
// argument's and result's doc and rules, and the options.
func pyDocstring(op *kernels.Op) string {
	const indent = "        "
	var b strings.Builder
	para := func(first, rest string, text string) {
		for i, line := range wrap(text, 79-len(indent)-len(rest)) {
			if i == 0 {
				b.WriteString(indent + first + line + "\n")
			} else {
				b.WriteString(indent + rest + line + "\n")
			}
		}
	}
	b.WriteString(indent + `"""` + pyEscape(sentence(op.Summary)) + "\n\n")
	para("", "", pyEscape(sentence(op.Doc)))
	b.WriteString("\n" + indent + "Arguments:\n")
	for _, p := range op.Params {
		para("    ", "        ", pyEscape(p.Name+": "+describe(p, accepts)))
	}
	b.WriteString("\n")
	if len(op.Results) == 1 {
		r := op.Results[0]
		para("", "", pyEscape("Returns "+r.Name+": "+describe(r, holds)))
	} else {
		b.WriteString(indent + "Returns a dict:\n")
		for _, r := range op.Results {
			para("    ", "        ", pyEscape(r.Name+" ("+r.Kind+"): "+describe(r, holds)))
		}
	}
	b.WriteString("\n" + indent + "Options (keyword only): exec, impl, timeout_ms, threads and progress,\n" +
		indent + "as for call(). A failure reply raises CrunchError.\n" + indent + `"""` + "\n")
	return b.String()
}

// pyEscape makes text safe inside a triple-quoted docstring.
func pyEscape(text string) string {
	text = strings.ReplaceAll(text, `\`, `\\`)
	return strings.ReplaceAll(text, `"""`, `\"\"\"`)
}

// pyLiteral writes a definition's default (int64, float64, bool or
// string) as Python source.
func pyLiteral(v any) string {
	switch v := v.(type) {
	case int64:
		return pyInt(v)
	case float64:
		switch {
		case math.IsNaN(v):
			return `float("nan")`
		case math.IsInf(v, 1):
			return `float("inf")`
		case math.IsInf(v, -1):
			return `-float("inf")`
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case bool:
		if v {
			return "True"
		}
		return "False"
	case string:
		return strconv.Quote(v)
	}
	panic(fmt.Sprintf("clientgen: a default of type %T", v))
}

// pyInt writes n with an underscore between groups of three digits from
// 10_000 on, as people write large numbers in Python.
func pyInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	digits := strings.TrimPrefix(s, "-")
	if len(digits) < 5 {
		return s
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('_')
		}
		b.WriteRune(d)
	}
	return s[:len(s)-len(digits)] + b.String()
}
