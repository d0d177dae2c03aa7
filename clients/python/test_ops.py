"""Tests that every op the server has (info's ops: the op definitions) has
its method on AsyncClient and on Client (generated from the same
definitions into crunch/_ops_generated.py): the definition's arguments in
its order, with its defaults, and a docstring; and that calling each with
valid arguments (every required one, made from its rules as the Go
package service/kernels/conform makes them) gives what call() gives for
the same request, as the value the method promises.

    CRUNCH_ADDR=127.0.0.1:8080 /usr/bin/python3 -m unittest -v test_ops

`go test ./clients/python` starts a server and runs this file.
"""

import inspect
import unittest

import numpy as np

import crunch
from crunch._codec import DTYPES
from test_crunch import ADDR

DIM = 3  # the length of every dimension of the tensors made


def valid_args(op):
    """Every required argument of op (info's description), valid."""
    args = {}
    for p in op["args"]:
        if p.get("required"):
            args[p["name"]] = valid_value(p, args)
    return args


def valid_value(p, earlier):
    kind = p["kind"]
    if kind == "tensor":
        dt = DTYPES[p["dtypes"][0]] if p.get("dtypes") else DTYPES["f64"]
        ref = earlier.get(p.get("same_dtype_as", ""))
        if isinstance(ref, np.ndarray):
            dt = ref.dtype
        rank = p["ranks"][0] if p.get("ranks") else 1
        return (np.arange(DIM ** rank) % 7 + 1).astype(dt).reshape((DIM,) * rank)
    if kind == "int":
        v = DIM
        if p.get("min") is not None:
            v = max(v, int(p["min"]))
        if p.get("max") is not None:
            v = min(v, int(p["max"]))
        return v
    if kind == "float":
        return 0.5
    if kind == "bool":
        return True
    if kind == "string":
        return p["values"][0] if p.get("values") else "x"
    raise AssertionError(f"{p['name']}: unknown kind {kind!r}")


# The Python type a method returns for a result of each kind.
RESULT_TYPES = {"tensor": np.ndarray, "int": int, "float": float, "bool": bool, "string": str}


def check(test, op, got, want):
    """got, what op's method returned, is want (call()'s Result) as the
    method promises: a single result as its value, several as a dict."""
    results = op["results"]
    if len(results) == 1:
        got = {results[0]["name"]: got}
    else:
        test.assertIs(type(got), dict)
    test.assertEqual(sorted(got), sorted(r["name"] for r in results))
    for r in results:
        test.assertIsInstance(got[r["name"]], RESULT_TYPES[r["kind"]], r["name"])
        np.testing.assert_array_equal(got[r["name"]], want[r["name"]], r["name"])


class AsyncMethodsTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = await crunch.connect(ADDR)
        self.ops = (await self.c.info())["ops"]

    async def asyncTearDown(self):
        await self.c.close()

    def test_signatures(self):
        self.assertIn("gemm", [op["name"] for op in self.ops])
        for op in self.ops:
            for cls in (crunch.AsyncClient, crunch.Client):
                with self.subTest(op=op["name"], client=cls.__name__):
                    method = getattr(cls, op["name"], None)
                    self.assertTrue(callable(method), f"{cls.__name__} has no method {op['name']}")
                    params = list(inspect.signature(method).parameters.values())
                    self.assertEqual([p.name for p in params],
                                     ["self"] + [a["name"] for a in op["args"]] + ["opts"])
                    for param, arg in zip(params[1:], op["args"]):
                        want = inspect.Parameter.empty if arg.get("required") else arg.get("default")
                        self.assertEqual(param.default, want, arg["name"])
                    self.assertIn(op["summary"][1:], method.__doc__)

    async def test_calls(self):
        for op in self.ops:
            with self.subTest(op=op["name"]):
                args = valid_args(op)
                want = await self.c.call(op["name"], args)
                check(self, op, await getattr(self.c, op["name"])(**args), want)


class BlockingMethodsTest(unittest.TestCase):
    def setUp(self):
        self.c = crunch.Client(ADDR)
        self.ops = self.c.info()["ops"]

    def tearDown(self):
        self.c.close()

    def test_calls(self):
        for op in self.ops:
            with self.subTest(op=op["name"]):
                args = valid_args(op)
                check(self, op, getattr(self.c, op["name"])(**args), self.c.call(op["name"], args))


if __name__ == "__main__":
    unittest.main()
