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
	"exec", "impl", "timeout_ms", "progress", "binary",
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
	for _, op := range ops {
		if err := pyCheck(op); err != nil {
			return nil, err
		}
		sig, doc := pySignature(op), pyDocstring(op)
		fmt.Fprintf(&async, "\n    async def %s%s\n%s%s", op.Name, sig, doc, pyAsyncBody(op))
		names := make([]string, 0, len(op.Params)+1)
		for _, p := range op.Params {
			names = append(names, p.Name)
		}
		fmt.Fprintf(&blocking, "\n    def %s%s\n%s        return self._run(self._aio.%s(%s))\n",
			op.Name, sig, doc, op.Name, strings.Join(append(names, "**opts"), ", "))
	}
	return []byte(pyHeader + async.String() + blocking.String()), nil
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

// pySignature is a method's parameters, one a line, and its return type.
func pySignature(op *kernels.Op) string {
	var b strings.Builder
	b.WriteString("(\n        self,\n")
	for _, p := range op.Params {
		typ := pyTypes[p.Kind].arg
		switch {
		case p.Required:
			fmt.Fprintf(&b, "        %s: %s,\n", p.Name, typ)
		case p.Default == nil:
			fmt.Fprintf(&b, "        %s: Optional[%s] = None,\n", p.Name, typ)
		default:
			fmt.Fprintf(&b, "        %s: %s = %s,\n", p.Name, typ, pyLiteral(p.Default))
		}
	}
	fmt.Fprintf(&b, "        **opts: Any,\n    ) -> %s:", pyReturnType(op))
	return b.String()
}

func pyReturnType(op *kernels.Op) string {
	if len(op.Results) == 1 {
		return pyTypes[op.Results[0].Kind].result
	}
	return "Dict[str, Any]"
}

// pyAsyncBody builds the request's arguments, calls and returns a single
// result as its value, several as a dict; numbers as the type of their
// kind (a NaN comes as a shape [] array: it becomes a float).
func pyAsyncBody(op *kernels.Op) string {
	var b strings.Builder
	b.WriteString("        args: Dict[str, Any] = {\n")
	var absent []string // optional arguments that are left out when None
	for _, p := range op.Params {
		if !p.Required && p.Default == nil {
			absent = append(absent, p.Name)
			continue
		}
		value := p.Name
		if cast := pyTypes[p.Kind].cast; cast != "" {
			value = cast + "(" + p.Name + ")"
		}
		fmt.Fprintf(&b, "            %q: %s,\n", p.Name, value)
	}
	b.WriteString("        }\n")
	for _, name := range absent {
		fmt.Fprintf(&b, "        if %s is not None:\n            args[%q] = %s\n", name, name, name)
	}
	fmt.Fprintf(&b, "        r = await self.call(%q, args, **opts)\n", op.Name)
	if len(op.Results) == 1 {
		fmt.Fprintf(&b, "        return %s\n", pyResult(op.Results[0]))
		return b.String()
	}
	b.WriteString("        return {\n")
	for _, res := range op.Results {
		fmt.Fprintf(&b, "            %q: %s,\n", res.Name, pyResult(res))
	}
	b.WriteString("        }\n")
	return b.String()
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
	b.WriteString("\n" + indent + "Options (keyword only): exec, impl, timeout_ms and progress, as for\n" +
		indent + "call(). A failure reply raises CrunchError.\n" + indent + `"""` + "\n")
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
