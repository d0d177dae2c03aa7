"""The asyncio client: one WebSocket connection, many calls in flight.

A reader task takes every reply off the connection and hands it to the
future of the request with its id; calls only send and wait. This is the
client itself: the blocking Client (_blocking.py) runs it on an event loop
of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Callable, Dict, Generator, Mapping, Optional, Set, Tuple

import numpy as np
import numpy.typing as npt
from websockets.exceptions import ConnectionClosed

from . import _websocket
from ._address import TCP, UNIX, Address, parse_address
from ._codec import decode, encode
from ._reply import CrunchError, Result

__all__ = ["AsyncClient", "Pending", "connect"]

Progress = Callable[[float], Any]


class Pending:
    """A request on its way: id names it (AsyncClient.cancel takes it);
    await it for its Result."""

    def __init__(self, req_id: int, fut: "asyncio.Future[Result]") -> None:
        self.id = req_id
        self._fut = fut

    def __await__(self) -> Generator[Any, None, Result]:
        return self._fut.__await__()


def connect(addr: str = "127.0.0.1:8080", **kwargs: Any) -> "_Connector":
    """Connect to a crunch server at addr: "host:port", a ws:// or wss://
    URL. Use it as `async with connect(...) as c:` or
    `c = await connect(...)`; either gives an AsyncClient. Extra keyword
    arguments go to websockets' (legacy) connect, such as open_timeout or
    ping_interval; crunch's defaults there are no compression (arrays do
    not compress) and no limit on a reply's size (max_size=None)."""
    return _Connector(parse_address(addr), kwargs)


async def open_websocket(address: Address, kwargs: Mapping[str, Any]) -> Any:
    """Open the WebSocket connection to address: the one place where the
    transport is chosen."""
    if address.transport == TCP:
        return await _websocket.open_tcp(address.url, **kwargs)
    if address.transport == UNIX:
        raise NotImplementedError(
            f"crunch: this client does not speak the Unix-socket transport yet ({address.path})")
    raise ValueError(f"crunch: unknown transport {address.transport!r}")


class _Connector:
    """What connect() returns: awaitable, and an async context manager that
    closes the client on exit."""

    def __init__(self, address: Address, kwargs: Mapping[str, Any]) -> None:
        self._address, self._kwargs = address, kwargs
        self._client: Optional[AsyncClient] = None

    def __await__(self) -> Generator[Any, None, "AsyncClient"]:
        return self._open().__await__()

    async def _open(self) -> "AsyncClient":
        ws = await open_websocket(self._address, self._kwargs)
        self._client = AsyncClient(ws)
        return self._client

    async def __aenter__(self) -> "AsyncClient":
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        if self._client is not None:
            await self._client.close()


class AsyncClient:
    """One connection to a crunch server, for asyncio. connect() makes one.

    Every method is a coroutine; any number may run at once on one
    connection. Options common to every op (keyword only): exec ("auto",
    "direct", "pool", "subprocess"), impl ("auto", "c", "go", "gonum"),
    timeout_ms, and progress (a callable given the fraction done, at most
    about ten times a second).

    Arrays are sent from their own memory, without a copy: an array must not
    change until the call that sends it is past sending (start() returned).
    Result arrays are writable views of the memory their reply was read
    into (no two overlap); each keeps the frame it came in alive.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        # id -> (future, progress callback)
        self._pending: Dict[int, Tuple["asyncio.Future[Result]", Optional[Progress]]] = {}
        self._background: Set["asyncio.Task[None]"] = set()  # cancels on their way
        self._reader = asyncio.ensure_future(self._read())

    async def close(self) -> None:
        """Close the connection; calls still in flight fail."""
        await self._ws.close()
        await self._reader

    # -- control ops --------------------------------------------------

    async def ping(self) -> float:
        """Round trip of the protocol's ping op, in seconds."""
        start = time.perf_counter()
        await self.call("ping")
        return time.perf_counter() - start

    async def info(self) -> Dict[str, Any]:
        """The server's description: version, CPU, executors, limits, ops."""
        return dict(await self.call("info"))

    async def cancel(self, target: int) -> bool:
        """Cancel request id target; True if it was still in flight."""
        return bool((await self.call("cancel", {"target": target}))["canceled"])

    # -- compute ops ----------------------------------------------------

    async def modsum(self, n: int, iters: int = 10_000_000, **opts: Any) -> int:
        """Sum over i < iters of (i*n) mod 97: the CPU-bound loop that
        crunch is measured with."""
        r = await self.call("modsum", {"n": int(n), "iters": int(iters)}, **opts)
        return r["total"]

    async def gemm(self, a: npt.ArrayLike, b: npt.ArrayLike, c: Optional[npt.ArrayLike] = None,
                   alpha: float = 1.0, beta: float = 0.0, trans_a: bool = False,
                   trans_b: bool = False, **opts: Any) -> np.ndarray:
        """alpha * op(a) @ op(b) + beta * c, f32 or f64."""
        args = {"a": a, "b": b, "alpha": float(alpha), "beta": float(beta),
                "trans_a": bool(trans_a), "trans_b": bool(trans_b)}
        if c is not None:
            args["c"] = c
        return (await self.call("gemm", args, **opts))["c"]

    async def fft(self, x: npt.ArrayLike, inverse: bool = False, norm: str = "backward",
                  **opts: Any) -> np.ndarray:
        """numpy.fft.fft (or ifft) along the last axis of x, [n] or
        [batch, n]; real input is promoted to complex."""
        args = {"x": x, "inverse": bool(inverse), "norm": norm}
        return (await self.call("fft", args, **opts))["y"]

    async def conv2d(self, image: npt.ArrayLike, kernel: npt.ArrayLike, mode: str = "same",
                     **opts: Any) -> np.ndarray:
        """scipy.signal.convolve2d(image, kernel, mode)."""
        args = {"image": image, "kernel": kernel, "mode": mode}
        return (await self.call("conv2d", args, **opts))["out"]

    async def stats(self, x: npt.ArrayLike, ddof: int = 0, **opts: Any) -> Dict[str, Any]:
        """count, sum, mean, var, std, min, max of every element of x."""
        return dict(await self.call("stats", {"x": x, "ddof": int(ddof)}, **opts))

    async def sort(self, x: npt.ArrayLike, descending: bool = False, **opts: Any) -> np.ndarray:
        """x sorted, NaN last, -0.0 before +0.0 ascending."""
        args = {"x": x, "descending": bool(descending)}
        return (await self.call("sort", args, **opts))["x"]

    async def solve(self, a: npt.ArrayLike, b: npt.ArrayLike, **opts: Any) -> np.ndarray:
        """x with a @ x = b (b a vector or a matrix); a singular a raises
        CrunchError with code numerical."""
        return (await self.call("solve", {"a": a, "b": b}, **opts))["x"]

    async def mandelbrot(self, width: int, height: int, x_min: float = -2.0, x_max: float = 1.0,
                         y_min: float = -1.5, y_max: float = 1.5, max_iter: int = 256,
                         **opts: Any) -> np.ndarray:
        """uint32 escape counts, [height, width], over the rectangle."""
        args = {"width": int(width), "height": int(height),
                "x_min": float(x_min), "x_max": float(x_max),
                "y_min": float(y_min), "y_max": float(y_max),
                "max_iter": int(max_iter)}
        return (await self.call("mandelbrot", args, **opts))["counts"]

    # -- the protocol ---------------------------------------------------

    async def call(self, op: str, args: Optional[Dict[str, Any]] = None, **opts: Any) -> Result:
        """Send op with args (NumPy arrays, numbers, booleans, strings) and
        return its Result; raise CrunchError on a failure reply. Options as
        for start. If the task awaiting it is cancelled, the request is
        cancelled on the server too."""
        pending = await self.start(op, args, **opts)
        try:
            return await pending
        except asyncio.CancelledError:
            self._cancel_soon(pending.id)
            raise

    async def start(self, op: str, args: Optional[Dict[str, Any]] = None, *,
                    exec: Optional[str] = None, impl: Optional[str] = None,
                    timeout_ms: Optional[int] = None, progress: Optional[Progress] = None,
                    binary: bool = True) -> Pending:
        """Send op with args and return, once it is sent, a Pending, which
        has the request's id (for cancel) and is awaited for the Result.
        Arrays always travel in binary form; binary=False sends a text
        message when there are none."""
        req_id = next(self._ids)
        req: Dict[str, Any] = {"id": req_id, "op": op}
        if args:
            req["args"] = args
        for key, value in (("exec", exec), ("impl", impl), ("timeout_ms", timeout_ms)):
            if value is not None:
                req[key] = value
        if progress is not None:
            req["progress"] = True
        msg = encode(req, binary)
        fut: "asyncio.Future[Result]" = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (fut, progress)
        whole = msg if isinstance(msg, str) else _websocket.one_frame(msg)
        try:
            if whole is not None:
                # One frame, written to the socket's buffer at once: a
                # cancel can come only before it (nothing sent) or after.
                await self._ws.send(whole)
            else:
                # Many frames: stopping between two would leave the
                # connection unusable, so a cancelled caller lets the
                # message finish (and then the request is cancelled).
                sending = asyncio.ensure_future(self._ws.send(_websocket.fragments(msg)))
                await asyncio.shield(sending)
        except asyncio.CancelledError:
            self._pending.pop(req_id, None)
            if whole is not None:
                self._cancel_soon(req_id)
            else:
                sending.add_done_callback(lambda s: self._abandoned(req_id, s))
            raise
        except BaseException:
            self._pending.pop(req_id, None)
            raise
        return Pending(req_id, fut)

    def _abandoned(self, req_id: int, sending: "asyncio.Future[None]") -> None:
        """The caller of start() was cancelled while req_id was being sent
        in many frames: once all are out, cancel the request."""
        if not sending.cancelled() and sending.exception() is None:
            self._cancel_soon(req_id)

    def _cancel_soon(self, req_id: int) -> None:
        """Send a cancel for req_id from a task of its own (the caller is
        being cancelled and cannot wait for it); its outcome does not
        matter: the request's final reply is dropped either way."""
        async def cancel() -> None:
            try:
                await self.cancel(req_id)
            except Exception:
                pass  # the connection closed: the server cancels everything then
        task = asyncio.ensure_future(cancel())
        self._background.add(task)  # a reference, until it is done
        task.add_done_callback(self._background.discard)

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                self._deliver(decode(msg))
        except ConnectionClosed:
            pass
        finally:
            for fut, _ in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("crunch: connection closed"))

    def _deliver(self, reply: Dict[str, Any]) -> None:
        entry = self._pending.get(reply.get("id"))  # type: ignore[arg-type]
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
