"""The crunch wire codec: requests to WebSocket messages, replies to values.

docs/PROTOCOL.md ("Two message forms", "Tensors") is the contract. A binary
message is the magic CRN1, the JSON header's length, the header, and then
the arrays' raw little-endian bytes, each at a 64-byte-aligned offset that
the header's "buffers" lists. Tensors in a reply become NumPy arrays.

Arrays are never copied for the sake of the format: a request is encoded
as a list of parts that point into the arrays (the WebSocket layer masks
them straight into the frames it sends), and a reply's tensors are views of
the memory the reply was received into, copied only where a view would be
misaligned or read-only.

Over the server's Unix socket a tensor may instead lie in shared memory
(docs/PROTOCOL.md, "Shared memory on the same machine"): an argument given
as a ShmTensor is written as {"dtype", "shape", "shm": [region, offset]},
and a result tensor named that way is made an array by the caller's
resolver (_shm.Pool.resolve), which knows the regions.
"""

from __future__ import annotations

import bisect
import json
import struct
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["DTYPES", "ShmTensor", "protocol_dtype", "encode", "decode", "reply_id"]

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

# A message or a piece of one: any object with the buffer protocol (bytes,
# bytearray, memoryview, a contiguous NumPy array). Python 3.12 names that
# type collections.abc.Buffer; before it, type checkers cannot express it.
Buffer = Any

# Makes a result tensor that lies in shared memory an array: (region,
# offset, dtype, shape) -> array.
Resolver = Callable[[int, int, np.dtype, Tuple[int, ...]], np.ndarray]


class ShmTensor(NamedTuple):
    """An argument that lies in shared memory: its protocol dtype name,
    shape, and the region and offset its bytes start at."""

    dtype: str
    shape: Tuple[int, ...]
    region: int
    offset: int


def protocol_dtype(dt: np.dtype) -> str:
    """The protocol's name for NumPy dtype dt (whatever its byte order);
    TypeError if the protocol has none."""
    if dt.kind == "b":
        raise TypeError("crunch: boolean arrays have no protocol dtype")
    name = NAMES.get((dt.kind, dt.itemsize))
    if name is None:
        raise TypeError(f"crunch: no protocol dtype for {dt}")
    return name


def encode(req: Dict[str, Any], binary: bool = True) -> Union[str, List[Buffer]]:
    """A request as a WebSocket message: text JSON (a str) when it holds no
    arrays and binary is False, else a binary message given as its parts,
    whose concatenation is the message: the preamble, header and padding,
    then each array's own memory (no copy unless the array must change
    dtype, byte order or layout), with padding between, each at a 64-byte
    aligned offset. The parts read the arrays where they are: the arrays
    must not change until the message is sent. A ShmTensor argument names
    its place in shared memory and adds no buffer."""
    arrays: List[np.ndarray] = []

    def tensor(value: Any) -> Dict[str, Any]:
        a = np.asarray(value)
        name = protocol_dtype(a.dtype)
        arrays.append(np.ascontiguousarray(a, dtype=DTYPES[name]))
        return {"dtype": name, "shape": list(a.shape), "buffer": len(arrays) - 1}

    def arg(v: Any) -> Any:
        if isinstance(v, ShmTensor):
            return {"dtype": v.dtype, "shape": list(v.shape), "shm": [v.region, v.offset]}
        if isinstance(v, (np.ndarray, list, tuple)):
            return tensor(v)
        if isinstance(v, np.generic):
            return v.item()  # a NumPy scalar: a plain JSON number
        return v

    if req.get("args"):
        req = dict(req, args={k: arg(v) for k, v in req["args"].items()})
    if not arrays and not binary:
        return _json(req)
    # The header's length fixes where the buffers go, which is written in
    # the header: grow the guess until the offsets fit.
    reserve = 0
    while True:
        offsets, pos = [], _align(8 + len(_json(dict(req, buffers=[]))) + reserve)
        for a in arrays:
            offsets.append([pos, a.nbytes])
            pos = _align(pos + a.nbytes)
        header = _json(dict(req, buffers=offsets)).encode()
        if 8 + len(header) <= (offsets[0][0] if offsets else 1 << 62):
            break
        reserve += 64
    first = offsets[0][0] if offsets else 8 + len(header)
    parts: List[Buffer] = [MAGIC + struct.pack("<I", len(header)) + header
                           + bytes(first - 8 - len(header))]
    end = first
    for (off, length), a in zip(offsets, arrays):
        if off > end:
            parts.append(bytes(off - end))
        if length:
            parts.append(a.reshape(-1).view(np.uint8))  # the array's own bytes
        end = off + length
    return parts


def _json(obj: Any) -> str:
    """JSON without spaces, as the crunch encoder writes it."""
    return json.dumps(obj, separators=(",", ":"))


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def decode(msg: Union[str, Buffer, Sequence[Buffer]],
           shm: Optional[Resolver] = None) -> Dict[str, Any]:
    """A reply message as a dict, tensors as NumPy arrays (a tensor of
    shape [] as a Python number).

    msg is a text message (str), a binary one (bytes-like), or a binary one
    in pieces (a sequence of bytes-like, see _websocket.Fragments). A
    tensor's array is a view of the received memory when that memory is a
    NumPy buffer of the client's (so writable) and aligned for the dtype;
    otherwise it is copied. Either way it is writable, and no two results
    overlap. A tensor in shared memory is what shm makes of it; without
    shm, such a tensor is a ValueError."""
    if isinstance(msg, str):
        return _results(json.loads(msg), None, shm)
    pieces = _Pieces(msg)
    pre = pieces.prefix(8)
    if pre[:4] != MAGIC:
        raise ValueError("crunch: a binary reply without the CRN1 magic")
    (hlen,) = struct.unpack_from("<I", pre, 4)
    reply = json.loads(pieces.prefix(8 + hlen)[8:])
    return _results(reply, pieces, shm)


def reply_id(msg: Union[str, Buffer, Sequence[Buffer]]) -> Optional[int]:
    """The id of reply msg, read from its JSON alone; None if there is none
    to read."""
    try:
        if isinstance(msg, str):
            reply = json.loads(msg)
        else:
            pieces = _Pieces(msg)
            (hlen,) = struct.unpack_from("<I", pieces.prefix(8), 4)
            reply = json.loads(pieces.prefix(8 + hlen)[8:])
        rid = reply.get("id")
    except (ValueError, AttributeError, struct.error):
        return None
    return rid if isinstance(rid, int) else None


def _results(reply: Dict[str, Any], pieces: "Optional[_Pieces]",
             shm: Optional[Resolver]) -> Dict[str, Any]:
    """reply with the tensors of its result as NumPy arrays."""
    buffers = reply.get("buffers") or []

    def value(v: Any) -> Any:
        if not (isinstance(v, dict) and "dtype" in v):
            return v
        dt, shape = DTYPES[v["dtype"]], tuple(v["shape"])
        if v.get("shm") is not None:
            if shm is None:
                raise ValueError("crunch: a tensor in shared memory on a connection without it")
            region, offset = v["shm"]
            a = shm(int(region), int(offset), dt, shape)
        elif "buffer" in v:
            if pieces is None:
                raise ValueError("crunch: a tensor with a buffer in a text reply")
            off, length = buffers[v["buffer"]]
            a = pieces.array(off, length, dt)
        else:
            flat = np.asarray(v["data"], dtype=np.float64)
            # complex data comes interleaved: re, im, re, im, ...
            a = flat.view(np.complex128).astype(dt) if dt.kind == "c" else flat.astype(dt)
        a = a.reshape(shape)
        return a.item() if shape == () else a

    if isinstance(reply.get("result"), dict):
        reply["result"] = {k: value(v) for k, v in reply["result"].items()}
    return reply


class _Pieces:
    """A binary message as the pieces it came in, read without joining."""

    def __init__(self, msg: Union[Buffer, Sequence[Buffer]]) -> None:
        if isinstance(msg, (bytes, bytearray, memoryview, np.ndarray)):
            msg = [msg]
        self.parts = [memoryview(p).cast("B") if isinstance(p, memoryview) else p for p in msg]
        self.starts = [0]
        for p in self.parts:
            self.starts.append(self.starts[-1] + _nbytes(p))

    def prefix(self, n: int) -> bytes:
        """The message's first n bytes (a header: small)."""
        out = b"".join(bytes(memoryview(p)[:max(n - s, 0)])
                       for p, s in zip(self.parts, self.starts) if s < n)
        if len(out) < n:
            raise ValueError(f"crunch: a binary reply of {self.starts[-1]} bytes, shorter than {n}")
        return out

    def array(self, off: int, length: int, dt: np.dtype) -> np.ndarray:
        """The bytes [off, off+length) as a flat array of dt: a view when
        they lie in one piece that is a NumPy buffer, at an address
        aligned for dt; else a copy."""
        if off < 0 or length < 0 or off + length > self.starts[-1] or length % dt.itemsize:
            raise ValueError(f"crunch: buffer [{off}, {length}] does not fit the reply")
        if length == 0:
            return np.empty(0, dt)
        i = bisect.bisect_right(self.starts, off) - 1
        p, s = self.parts[i], self.starts[i]
        if off + length <= self.starts[i + 1]:
            if isinstance(p, np.ndarray):
                a = p[off - s:off - s + length].view(dt)
                return a if a.flags.aligned and a.flags.writeable else a.copy()
            return np.frombuffer(p, np.uint8, length, off - s).view(dt).copy()
        out = np.empty(length, np.uint8)  # spans pieces: gather it
        pos = 0
        while pos < length:
            p, s = self.parts[i], self.starts[i]
            take = min(self.starts[i + 1], off + length) - (off + pos)
            out[pos:pos + take] = np.frombuffer(p, np.uint8, take, off + pos - s)
            pos += take
            i += 1
        return out.view(dt)


def _nbytes(p: Buffer) -> int:
    return p.nbytes if isinstance(p, (memoryview, np.ndarray)) else len(p)
