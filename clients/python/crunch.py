"""crunch: a Python client for the crunch compute service.

NumPy arrays go to the server in binary WebSocket frames and come back as
NumPy arrays; many calls may be in flight at once on one connection
(asyncio); a failed call raises CrunchError carrying the protocol's error
code. One file, depending only on numpy and websockets (Debian:
python3-numpy, python3-websockets). The protocol is docs/PROTOCOL.md.

    import asyncio, numpy as np, crunch

    async def main():
        async with crunch.connect("127.0.0.1:8080") as c:
            a = np.random.rand(256, 256)
            prod = await c.gemm(a, a)                 # np.ndarray
            many = await asyncio.gather(*(c.modsum(n) for n in range(8)))
            s = await c.stats(a, ddof=1)              # dict: count, sum, mean, ...

    asyncio.run(main())
"""

import asyncio
import itertools
import json
import struct
import time

import numpy as np
import websockets

__all__ = ["connect", "Client", "CrunchError", "Pending", "Result"]

MAGIC = b"CRN1"
ALIGN = 64  # buffer offsets: the protocol needs multiples of 8; 64 suits SIMD

# Protocol dtype names and their little-endian NumPy dtypes.
DTYPES = {
    "u8": np.dtype("<u1"), "u16": np.dtype("<u2"), "u32": np.dtype("<u4"),
    "i32": np.dtype("<i4"), "i64": np.dtype("<i8"),
    "f32": np.dtype("<f4"), "f64": np.dtype("<f8"),
    "c64": np.dtype("<c8"), "c128": np.dtype("<c16"),
}
NAMES = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}


class CrunchError(Exception):
    """A failure reply: code is the protocol's error code (invalid_argument,
    not_found, too_large, overloaded, deadline_exceeded, canceled,
    numerical, worker_failed, internal), retry_after_ms is set with
    overloaded."""

    def __init__(self, code, message, retry_after_ms=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


class Result(dict):
    """An op's result values by name, with the reply's stats (exec, impl,
    queue_us, run_us, maybe worker) in .stats."""

    stats = None


class Pending:
    """A request on its way: id names it (Client.cancel takes it); await it
    for its Result."""

    def __init__(self, req_id, fut):
        self.id = req_id
        self._fut = fut

    def __await__(self):
        return self._fut.__await__()


def connect(addr="127.0.0.1:8080", **kwargs):
    """Connect to a crunch server: host:port or a ws:// URL. Use it as
    `async with connect(...) as c:` or `c = await connect(...)`. Extra
    keyword arguments go to websockets.connect."""
    return _Connector(addr, kwargs)


class _Connector:
    def __init__(self, addr, kwargs):
        url = addr if addr.startswith(("ws://", "wss://")) else f"ws://{addr}/v1/ws"
        self._url, self._kwargs = url, kwargs
        self._client = None

    def __await__(self):
        return self._open().__await__()

    async def _open(self):
        # No message size limit: results are as large as the server allows.
        kwargs = {"max_size": None, **self._kwargs}
        ws = await websockets.connect(self._url, **kwargs)
        self._client = Client(ws)
        return self._client

    async def __aenter__(self):
        return await self._open()

    async def __aexit__(self, *exc):
        await self._client.close()


class Client:
    """One connection to a crunch server. Every method is a coroutine; any
    number may run at once. Options common to every op (keyword only):
    exec ("auto", "direct", "pool", "subprocess"), impl ("auto", "c", "go",
    "gonum"), timeout_ms, and progress (a callable given the fraction done,
    at most about ten times a second)."""

    def __init__(self, ws):
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending = {}  # id -> (future, progress callback)
        self._reader = asyncio.ensure_future(self._read())

    async def close(self):
        """Close the connection; calls still in flight fail."""
        await self._ws.close()
        await self._reader

    # -- control ops --------------------------------------------------

    async def ping(self):
        """Round trip of the protocol's ping op, in seconds."""
        start = time.perf_counter()
        await self.call("ping")
        return time.perf_counter() - start

    async def info(self):
        """The server's description: version, CPU, executors, limits, ops."""
        return dict(await self.call("info"))

    async def cancel(self, target):
        """Cancel request id target; True if it was still in flight."""
        return (await self.call("cancel", {"target": target}))["canceled"]

    # -- compute ops ----------------------------------------------------

    async def modsum(self, n, iters=10_000_000, **opts):
        """Sum over i < iters of (i*n) mod 97: the seed's CPU-bound loop."""
        r = await self.call("modsum", {"n": int(n), "iters": int(iters)}, **opts)
        return r["total"]

    async def gemm(self, a, b, c=None, alpha=1.0, beta=0.0, trans_a=False,
                   trans_b=False, **opts):
        """alpha * op(a) @ op(b) + beta * c, f32 or f64."""
        args = {"a": a, "b": b, "alpha": float(alpha), "beta": float(beta),
                "trans_a": bool(trans_a), "trans_b": bool(trans_b)}
        if c is not None:
            args["c"] = c
        return (await self.call("gemm", args, **opts))["c"]

    async def fft(self, x, inverse=False, norm="backward", **opts):
        """numpy.fft.fft (or ifft) along the last axis of x, [n] or
        [batch, n]; real input is promoted to complex."""
        args = {"x": x, "inverse": bool(inverse), "norm": norm}
        return (await self.call("fft", args, **opts))["y"]

    async def conv2d(self, image, kernel, mode="same", **opts):
        """scipy.signal.convolve2d(image, kernel, mode)."""
        args = {"image": image, "kernel": kernel, "mode": mode}
        return (await self.call("conv2d", args, **opts))["out"]

    async def stats(self, x, ddof=0, **opts):
        """count, sum, mean, var, std, min, max of every element of x."""
        return dict(await self.call("stats", {"x": x, "ddof": int(ddof)}, **opts))

    async def sort(self, x, descending=False, **opts):
        """x sorted, NaN last, -0.0 before +0.0 ascending."""
        args = {"x": x, "descending": bool(descending)}
        return (await self.call("sort", args, **opts))["x"]

    async def solve(self, a, b, **opts):
        """x with a @ x = b (b a vector or a matrix); a singular a raises
        CrunchError with code numerical."""
        return (await self.call("solve", {"a": a, "b": b}, **opts))["x"]

    async def mandelbrot(self, width, height, x_min=-2.0, x_max=1.0,
                         y_min=-1.5, y_max=1.5, max_iter=256, **opts):
        """uint32 escape counts, [height, width], over the rectangle."""
        args = {"width": int(width), "height": int(height),
                "x_min": float(x_min), "x_max": float(x_max),
                "y_min": float(y_min), "y_max": float(y_max),
                "max_iter": int(max_iter)}
        return (await self.call("mandelbrot", args, **opts))["counts"]

    # -- the protocol ---------------------------------------------------

    async def call(self, op, args=None, **opts):
        """Send op with args (NumPy arrays, numbers, booleans, strings) and
        return its Result; raise CrunchError on a failure reply. Options as
        for start."""
        return await (await self.start(op, args, **opts))

    async def start(self, op, args=None, *, exec=None, impl=None,
                    timeout_ms=None, progress=None, binary=True):
        """Send op with args and return at once a Pending, which has the
        request's id (for cancel) and is awaited for the Result. Arrays
        always travel in binary form; binary=False sends a text message
        when there are none."""
        req_id = next(self._ids)
        req = {"id": req_id, "op": op}
        if args:
            req["args"] = args
        for key, value in (("exec", exec), ("impl", impl), ("timeout_ms", timeout_ms)):
            if value is not None:
                req[key] = value
        if progress is not None:
            req["progress"] = True
        msg = encode(req, binary)
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (fut, progress)
        try:
            await self._ws.send(msg)
        except BaseException:
            self._pending.pop(req_id, None)
            raise
        return Pending(req_id, fut)

    async def _read(self):
        try:
            async for msg in self._ws:
                self._deliver(decode(msg))
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut, _ in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("crunch: connection closed"))

    def _deliver(self, reply):
        entry = self._pending.get(reply.get("id"))
        if entry is None:
            return  # id 0 (an undecodable request) or a call given up
        fut, progress = entry
        if "progress" in reply and "ok" not in reply:
            if progress is not None:
                progress(reply["progress"])
            return
        del self._pending[reply["id"]]  # the final reply: the id is free again
        if fut.done():
            return  # the caller gave up
        if reply.get("ok"):
            result = Result(reply.get("result") or {})
            result.stats = reply.get("stats")
            fut.set_result(result)
        else:
            err = reply.get("error") or {}
            fut.set_exception(CrunchError(err.get("code", "internal"),
                                          err.get("message", ""),
                                          err.get("retry_after_ms")))


def encode(req, binary=True):
    """A request as a WebSocket message: binary (CRN1 frame, arrays in
    64-byte aligned buffers) when it holds arrays or binary is True,
    else text JSON."""
    buffers = []

    def tensor(value):
        a = np.asarray(value)
        if a.dtype.kind == "b":
            raise TypeError("crunch: boolean arrays have no protocol dtype")
        name = NAMES.get((a.dtype.kind, a.dtype.itemsize))
        if name is None:
            raise TypeError(f"crunch: no protocol dtype for {a.dtype}")
        a = np.ascontiguousarray(a, dtype=DTYPES[name])
        buffers.append(a.tobytes())
        return {"dtype": name, "shape": list(a.shape), "buffer": len(buffers) - 1}

    def arg(v):
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


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def decode(msg):
    """A reply message as a dict, tensors as NumPy arrays (a tensor of
    shape [] as a Python number)."""
    if isinstance(msg, str):
        reply = json.loads(msg)
        data = None
    else:
        if msg[:4] != MAGIC:
            raise ValueError("crunch: a binary reply without the CRN1 magic")
        (hlen,) = struct.unpack_from("<I", msg, 4)
        reply = json.loads(msg[8:8 + hlen])
        data = memoryview(msg)
    buffers = reply.get("buffers") or []

    def value(v):
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
