"""What the client knows of each op for shared memory: how many bytes its
result tensors take.

result_bytes sizes the shared-memory window (docs/PROTOCOL.md, "shm_out") a
request offers for its results.

The server writes each result tensor at the next multiple of 64 bytes of
the window, in the byte order of the results' names, if it fits; what does
not fit comes in the reply. So a window sized right makes every result a
view of shared memory (no copy out), and a wrong size costs only that copy.
Each op's result shape follows from its arguments (docs/PROTOCOL.md,
"Operations"); this module is the one place that knows them.

Arguments go as they are: the server transforms real fft input with its
real transform, which reads the real rows themselves (no promoted copy).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["result_bytes"]

ALIGN = 64  # where the server puts each result in a window


def result_bytes(op: str, args: Mapping[str, Any]) -> Optional[int]:
    """The window that holds every result tensor of op called with args,
    in bytes; 0 when the op returns none (scalars only), None when the op
    is not one this client knows (the caller guesses)."""
    sizes = _SIZES.get(op)
    if sizes is None:
        return None
    try:
        results = sizes(args)
    except (KeyError, IndexError, TypeError, ValueError):
        return 0  # arguments the server will refuse: no window needed
    total = 0
    for _, n in sorted(results):
        total = (total + ALIGN - 1) // ALIGN * ALIGN + n
    return total


def _shape(v: Any) -> Tuple[int, ...]:
    return tuple(np.shape(v))


def _itemsize(v: Any, wide: int = 8) -> int:
    """The item size of v as the server computes in it: 4 for f32, wide
    (the f64 or c128 size) otherwise."""
    dt = v.dtype if isinstance(v, np.ndarray) else np.asarray(v).dtype
    return wide // 2 if dt in (np.float32, np.complex64) else wide


def _count(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _gemm(a: Mapping[str, Any]) -> List[Tuple[str, int]]:
    sa, sb = _shape(a["a"]), _shape(a["b"])
    m = sa[1] if a.get("trans_a") else sa[0]
    n = sb[0] if a.get("trans_b") else sb[1]
    return [("c", m * n * _itemsize(a["a"]))]


def _fft(a: Mapping[str, Any]) -> List[Tuple[str, int]]:
    return [("y", _count(_shape(a["x"])) * _itemsize(a["x"], 16))]


def _conv2d(a: Mapping[str, Any]) -> List[Tuple[str, int]]:
    (h, w), (kh, kw) = _shape(a["image"]), _shape(a["kernel"])
    mode = a.get("mode") or "same"
    if mode == "full":
        h, w = h + kh - 1, w + kw - 1
    elif mode == "valid":
        h, w = max(h - kh + 1, 0), max(w - kw + 1, 0)
    return [("out", h * w * _itemsize(a["image"]))]


def _sort(a: Mapping[str, Any]) -> List[Tuple[str, int]]:
    x = a["x"]
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    return [("x", x.nbytes)]


def _solve(a: Mapping[str, Any]) -> List[Tuple[str, int]]:
    return [("x", _count(_shape(a["b"])) * 8)]


def _mandelbrot(a: Mapping[str, Any]) -> List[Tuple[str, int]]:
    return [("counts", int(a["width"]) * int(a["height"]) * 4)]


_SIZES: Dict[str, Callable[[Mapping[str, Any]], List[Tuple[str, int]]]] = {
    "gemm": _gemm,
    "fft": _fft,
    "conv2d": _conv2d,
    "sort": _sort,
    "solve": _solve,
    "mandelbrot": _mandelbrot,
    "stats": lambda a: [],  # numbers only
    "modsum": lambda a: [],
}
