"""The crunch wire codec: requests to WebSocket messages, replies to values.

docs/PROTOCOL.md ("Two message forms", "Tensors") is the contract. A binary
message is the magic CRN1, the JSON header's length, the header, and then
the arrays' raw little-endian bytes, each at a 64-byte-aligned offset that
the header's "buffers" lists. Tensors in a reply become NumPy arrays.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, List, Union

import numpy as np

__all__ = ["DTYPES", "encode", "decode"]

MAGIC = b"CRN1"
ALIGN = 64  # buffer offsets: the protocol needs multiples of 8; 64 suits SIMD

# Protocol dtype names and their little-endian NumPy dtypes.
DTYPES: Dict[str, np.dtype] = {
    "u8": np.dtype("<u1"), "u16": np.dtype("<u2"), "u32": np.dtype("<u4"),
    "i32": np.dtype("<i4"), "i64": np.dtype("<i8"),
    "f32": np.dtype("<f4"), "f64": np.dtype("<f8"),
    "c64": np.dtype("<c8"), "c128": np.dtype("<c16"),
}
NAMES = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}


def encode(req: Dict[str, Any], binary: bool = True) -> Union[str, bytes]:
    """A request as a WebSocket message: binary (CRN1 frame, arrays in
    64-byte aligned buffers) when it holds arrays or binary is True,
    else text JSON."""
    buffers: List[bytes] = []

    def tensor(value: Any) -> Dict[str, Any]:
        a = np.asarray(value)
        if a.dtype.kind == "b":
            raise TypeError("crunch: boolean arrays have no protocol dtype")
        name = NAMES.get((a.dtype.kind, a.dtype.itemsize))
        if name is None:
            raise TypeError(f"crunch: no protocol dtype for {a.dtype}")
        a = np.ascontiguousarray(a, dtype=DTYPES[name])
        buffers.append(a.tobytes())
        return {"dtype": name, "shape": list(a.shape), "buffer": len(buffers) - 1}

    def arg(v: Any) -> Any:
        if isinstance(v, (np.ndarray, list, tuple)):
            return tensor(v)
        if isinstance(v, np.generic):
            return v.item()  # a NumPy scalar: a plain JSON number
        return v

    if req.get("args"):
        req = dict(req, args={k: arg(v) for k, v in req["args"].items()})
    if not buffers and not binary:
        return json.dumps(req)
    # The header's length fixes where the buffers go, which is written in
    # the header: grow the guess until the offsets fit.
    reserve = 0
    while True:
        offsets, pos = [], _align(8 + len(json.dumps(dict(req, buffers=[]))) + reserve)
        for b in buffers:
            offsets.append([pos, len(b)])
            pos = _align(pos + len(b))
        header = json.dumps(dict(req, buffers=offsets)).encode()
        if 8 + len(header) <= (offsets[0][0] if offsets else 1 << 62):
            break
        reserve += 64
    out = bytearray(MAGIC + struct.pack("<I", len(header)) + header)
    for (off, _), b in zip(offsets, buffers):
        out += bytes(off - len(out))
        out += b
    return bytes(out)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def decode(msg: Union[str, bytes]) -> Dict[str, Any]:
    """A reply message as a dict, tensors as NumPy arrays (a tensor of
    shape [] as a Python number)."""
    data = None
    if isinstance(msg, str):
        reply = json.loads(msg)
    else:
        if msg[:4] != MAGIC:
            raise ValueError("crunch: a binary reply without the CRN1 magic")
        (hlen,) = struct.unpack_from("<I", msg, 4)
        reply = json.loads(msg[8:8 + hlen])
        data = memoryview(msg)
    buffers = reply.get("buffers") or []

    def value(v: Any) -> Any:
        if not (isinstance(v, dict) and "dtype" in v):
            return v
        dt, shape = DTYPES[v["dtype"]], tuple(v["shape"])
        if "buffer" in v:
            off, length = buffers[v["buffer"]]
            a = np.frombuffer(data[off:off + length], dtype=dt).copy()
        else:
            flat = np.asarray(v["data"], dtype=np.float64)
            # complex data comes interleaved: re, im, re, im, ...
            a = flat.view(np.complex128).astype(dt) if dt.kind == "c" else flat.astype(dt)
        a = a.reshape(shape)
        return a.item() if shape == () else a

    if isinstance(reply.get("result"), dict):
        reply["result"] = {k: value(v) for k, v in reply["result"].items()}
    return reply
