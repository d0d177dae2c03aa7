"""The asyncio client: one WebSocket connection, many calls in flight.

A reader task takes every reply off the connection and hands it to the
future of the request with its id; calls only send and wait. This is the
client itself: the blocking Client (_blocking.py) runs it on an event loop
of its own.

Over the server's Unix socket, large arrays travel through shared memory
(_shm.py): a request's large arguments are copied into (or already lie in)
blocks of the connection's pool, its results are written by the server into
a window of another, and the request holds those blocks until its final
reply has come, whatever happens to its caller.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl as _ssl
import json
import math
import time
from typing import Any, Callable, Dict, Generator, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
import numpy.typing as npt
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from websockets.frames import OP_TEXT

from . import _websocket
from ._address import TCP, UNIX, Address, parse_address
from ._codec import DTYPES, ShmTensor, decode, encode, protocol_dtype, reply_id
from ._ops import result_bytes
from ._ops_generated import AsyncOps
from ._reply import CrunchError, Result
from ._shm import THRESHOLD, Lease, Pool

__all__ = ["AsyncClient", "Pending", "connect"]

Progress = Callable[[float], Any]

# What a request's future holds: its Result in a list that the first await
# empties. A future stays referenced after it is done (by the event loop's
# handle that woke its awaiter, until the loop's next turn), and the
# Result's arrays must not outlive the caller's own references to them:
# shared memory comes back to the pool when the last of them is gone.
Boxed = List[Result]
Shape = Any  # an int or a sequence of ints, as NumPy takes shapes


class _Call:
    """A request in flight: the future its caller awaits (cancelled if the
    caller went away), its progress callback, and the shared-memory leases
    it holds until its final reply."""

    __slots__ = ("fut", "progress", "held")

    def __init__(self, fut: "asyncio.Future[Boxed]", progress: Optional[Progress],
                 held: Sequence[Lease] = ()) -> None:
        self.fut, self.progress, self.held = fut, progress, held


class Pending:
    """A request on its way: id names it (AsyncClient.cancel takes it);
    await it for its Result."""

    def __init__(self, req_id: int, fut: "asyncio.Future[Boxed]") -> None:
        self.id = req_id
        self._fut = fut
        self._result: Optional[Result] = None

    def __await__(self) -> Generator[Any, None, Result]:
        box = yield from self._fut.__await__()
        if box:
            self._result = box.pop()
        assert self._result is not None
        return self._result


def connect(addr: str = "127.0.0.1:8080", *, token: Optional[str] = None,
            ssl: Optional[_ssl.SSLContext] = None, cafile: Optional[str] = None,
            **kwargs: Any) -> "_Connector":
    """Connect to a crunch server at addr: "host:port", a ws:// or wss://
    URL, or "unix:/path/to/socket", the server's Unix socket (crunch serve
    --unix), over which large arrays travel through shared memory. Use it
    as `async with connect(...) as c:` or
    `c = await connect(...)`; either gives an AsyncClient.

    token is sent as "Authorization: Bearer TOKEN" to a server started
    with --auth-token-file (the Unix socket needs none); a server that
    refuses it makes connect raise PermissionError. ssl is the TLS context
    of a wss:// connection; cafile instead makes one that trusts the
    certificates in that PEM file (a server's self-signed certificate, or
    a private CA). With either, a "host:port" address means wss://.

    Extra keyword arguments go to websockets' (legacy) connect, such as
    open_timeout or ping_interval; crunch's defaults there are no
    compression (arrays do not compress) and no limit on a reply's size
    (max_size=None)."""
    if cafile is not None:
        if ssl is not None:
            raise ValueError("crunch: give ssl or cafile, not both")
        ssl = _ssl.create_default_context(cafile=cafile)
    address = parse_address(addr, tls=ssl is not None)
    kwargs = dict(kwargs)
    if ssl is not None and address.transport == TCP:
        kwargs["ssl"] = ssl
    if token is not None:
        headers = dict(kwargs.pop("extra_headers", None) or {})
        headers["Authorization"] = f"Bearer {token}"
        kwargs["extra_headers"] = headers
    return _Connector(address, kwargs)


async def open_websocket(address: Address, kwargs: Mapping[str, Any]) -> Any:
    """Open the WebSocket connection to address: the one place where the
    transport is chosen."""
    if address.transport == TCP:
        return await _websocket.open_tcp(address.url, **kwargs)
    if address.transport == UNIX:
        assert address.path is not None
        return await _websocket.open_unix(address.path, address.url, **kwargs)
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
        try:
            ws = await open_websocket(self._address, self._kwargs)
        except InvalidStatusCode as e:
            if e.status_code == 401:
                raise PermissionError(f"crunch: {self._address.url} refused the token (HTTP 401): "
                                      "connect(..., token=...)") from e
            raise
        client = AsyncClient(ws)
        if self._address.transport == UNIX:
            try:
                await client._share_memory()
            except BaseException:
                await client.close()
                raise
        self._client = client
        return client

    async def __aenter__(self) -> "AsyncClient":
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        if self._client is not None:
            await self._client.close()


class AsyncClient(AsyncOps):
    """One connection to a crunch server, for asyncio. connect() makes one.

    Every method is a coroutine; any number may run at once on one
    connection. Each op has a method (gemm, fft, ...: AsyncOps, generated
    from the op definitions); call() sends any op. Options common to every
    op (keyword only): exec ("auto",
    "direct", "pool", "subprocess"), impl ("auto", "c", "go", "gonum"),
    timeout_ms, threads (the most threads the kernel may use, its own
    included: an integer >= 1, capped by the server's max_threads; None
    means that cap; it changes the speed, never the result), and progress
    (a callable given the fraction done, at most about ten times a second).
    An exec or impl the server or the op lacks fails with CrunchError code
    "not_found", as an unknown op does; threads 0 or less fails with
    "invalid_argument".

    Over TCP, arrays are sent from their own memory, without a copy: an
    array must not change until the call that sends it is past sending
    (start() returned). Result arrays are writable views of the memory
    their reply was read into (no two overlap); each keeps the frame it
    came in alive.

    Over the server's Unix socket ("unix:PATH"), arrays of THRESHOLD
    (64 KiB) or more are copied once into shared memory instead, and
    results are written by the server into shared memory: a result array
    is a view of it, valid for as long as the array lives (that memory is
    not used again before). Arrays from empty() or zeros(), and results,
    lie in shared memory already and go as arguments without any copy, of
    any size; such an array must not change while a call that reads it is
    in flight. When the server's limits leave no shared memory to have,
    arrays travel in the message, as over TCP.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: Dict[int, _Call] = {}
        self._background: Set["asyncio.Task[Any]"] = set()  # cancels on their way
        self._pool: Optional[Pool] = None  # over the Unix socket: shared memory
        if isinstance(ws, _websocket.Protocol):
            ws.on_message = self._deliver  # replies straight from the reading task
        self._reader = asyncio.ensure_future(self._read())

    async def close(self) -> None:
        """Close the connection; calls still in flight fail. Results and
        arrays from empty() stay valid."""
        await self._ws.close()
        await self._reader

    # -- shared memory ----------------------------------------------------

    async def empty(self, shape: Shape, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """A new array of shape and dtype (uninitialized, as numpy.empty)
        in this connection's shared memory: passed to a call, it travels
        without any copy. Over TCP, or when the server's limits leave no
        shared memory, it is an ordinary array (shares() tells). Its memory
        is the connection's until the array and every view of it are gone;
        it stays valid after close()."""
        dt = np.dtype(dtype)
        protocol_dtype(dt)  # only dtypes the protocol has
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
        if any(n < 0 for n in shape):
            raise ValueError("crunch: negative dimensions are not allowed")
        nbytes = math.prod(shape) * dt.itemsize
        lease = None
        if self._pool is not None and nbytes > 0:  # (nothing to share in an empty array)
            lease = await self._pool.lease(nbytes)
        if lease is None:
            return np.empty(shape, dt)
        return lease.view(0, dt, shape)

    async def zeros(self, shape: Shape, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """empty(shape, dtype), filled with zeros."""
        a = await self.empty(shape, dtype)
        a.fill(0)
        return a

    def shares(self, a: np.ndarray) -> bool:
        """Whether a lies in this connection's shared memory (from empty(),
        zeros(), a result, or a view of one), so that a call takes it
        without a copy (if it is C-contiguous)."""
        return (self._pool is not None and isinstance(a, np.ndarray)
                and self._pool.find(a) is not None)

    async def _share_memory(self) -> None:
        """Set up shared memory on a connection over the Unix socket, within
        the limits the server's info states."""
        if getattr(self._ws, "unix_socket", None) is None:
            return  # a websockets protocol of the caller's: no descriptors to send
        shm = (await self.info()).get("shm")
        if not isinstance(shm, dict) or shm.get("version") != 1:
            return  # a server without the extension: arrays go in messages
        self._pool = Pool(self._register, self._unregister,
                          int(shm.get("max_regions", 0)), int(shm.get("max_bytes", 0)))

    async def _register(self, fd: int) -> Tuple[int, int]:
        """Register memfd fd as a region: (region, size), or the server's
        CrunchError. The request is written with the descriptor attached
        (docs/PROTOCOL.md: shm_register)."""
        req_id = next(self._ids)
        fut: "asyncio.Future[Boxed]" = asyncio.get_running_loop().create_future()
        self._pending[req_id] = _Call(fut, None)
        payload = json.dumps({"id": req_id, "op": "shm_register"}).encode()
        try:
            await self._ws.send_with_fds(_websocket.client_frame(True, OP_TEXT, payload), [fd])
        except BaseException:
            self._forget(req_id, fut)
            raise
        (r,) = await fut
        if not r.get("writable"):
            raise CrunchError("invalid_argument", f"region {r.get('region')} is read-only")
        return int(r["region"]), int(r["size"])

    async def _unregister(self, region: int) -> None:
        """Tell the server to forget region; its reply is not waited for."""
        await self._ws.send(json.dumps({"id": next(self._ids), "op": "shm_unregister",
                                        "args": {"region": region}}))

    async def _share(self, op: str, args: Dict[str, Any]) -> Tuple[Dict[str, Any], List[Lease], Optional[Lease]]:
        """args with their arrays in shared memory where that pays: the
        arrays that lie there already (no copy), and those of THRESHOLD
        bytes or more (copied into a block); and a window for the results,
        sized from what op returns. Returns the new args, the leases the
        request holds, and the window's lease (among them) or None."""
        pool = self._pool
        assert pool is not None
        out: Dict[str, Any] = dict(args)
        held: List[Lease] = []
        in_bytes = 0
        for k, v in args.items():
            if not isinstance(v, np.ndarray) or v.dtype.kind == "b":
                continue
            try:
                name = protocol_dtype(v.dtype)
            except TypeError:
                continue  # encode says why
            dt = DTYPES[name]
            in_bytes += v.nbytes
            if v.dtype == dt and v.flags.c_contiguous:
                found = pool.find(v)
                if found is not None and found[1] % 8 == 0:
                    lease, offset = found
                    out[k] = ShmTensor(name, v.shape, lease.region, offset)
                    held.append(lease)
                    continue
            if v.nbytes < THRESHOLD:
                continue
            into = await pool.lease(v.size * dt.itemsize)
            if into is None:
                continue  # no room: in the message
            np.copyto(into.view(0, dt, v.shape), v)  # the one copy
            out[k] = ShmTensor(name, v.shape, into.region, 0)
            held.append(into)
        size = result_bytes(op, args)
        if size is None:
            size = in_bytes  # an op this client does not know: a guess
        window = await pool.lease(size) if size >= THRESHOLD else None
        if window is not None:
            held.append(window)
        return out, held, window

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
                    timeout_ms: Optional[int] = None, threads: Optional[int] = None,
                    progress: Optional[Progress] = None, binary: bool = True) -> Pending:
        """Send op with args and return, once it is sent, a Pending, which
        has the request's id (for cancel) and is awaited for the Result.
        Arrays always travel in binary form; binary=False sends a text
        message when there are none."""
        try:
            return await self._start(op, args, exec, impl, timeout_ms, threads, progress, binary)
        except ConnectionClosed as exc:
            raise ConnectionError("crunch: connection closed") from exc

    async def _start(self, op: str, args: Optional[Dict[str, Any]], exec: Optional[str],
                     impl: Optional[str], timeout_ms: Optional[int], threads: Optional[int],
                     progress: Optional[Progress], binary: bool) -> Pending:
        held: Sequence[Lease] = ()
        window: Optional[Lease] = None
        if args and self._pool is not None and self._pool.usable:
            args, held, window = await self._share(op, args)
        req_id = next(self._ids)
        req: Dict[str, Any] = {"id": req_id, "op": op}
        if args:
            req["args"] = args
        for key, value in (("exec", exec), ("impl", impl), ("timeout_ms", timeout_ms),
                           ("threads", threads)):
            if value is not None:
                req[key] = value
        if progress is not None:
            req["progress"] = True
        if window is not None:
            req["shm_out"] = [window.region, 0, window.size]
        msg = encode(req, binary)
        fut: "asyncio.Future[Boxed]" = asyncio.get_running_loop().create_future()
        self._pending[req_id] = _Call(fut, progress, held)
        whole = msg if isinstance(msg, str) else _websocket.one_frame(msg)
        sending: "Optional[asyncio.Future[None]]" = None
        try:
            # (A protocol of the caller's, through create_protocol, lacks
            # writes_at_once: it takes the second way.)
            if whole is not None and getattr(self._ws, "writes_at_once", bool)():
                # One frame, written to the socket's buffer before the
                # first await: a cancel can come only after it.
                await self._ws.send(whole)
            else:
                # Many frames, or a wait for another message's: stopping
                # between two frames would leave the connection unusable,
                # and a cancel must know whether the request went out, so
                # a cancelled caller lets the message finish (and then
                # the request is cancelled).
                sending = sent = asyncio.ensure_future(
                    self._ws.send(whole if whole is not None else _websocket.fragments(msg)))
                await asyncio.shield(sent)
        except asyncio.CancelledError:
            if sending is None:
                self._abandon(req_id)
            else:
                sending.add_done_callback(lambda s: self._abandoned(req_id, s))
            raise
        except BaseException:
            self._forget(req_id, fut)
            raise
        return Pending(req_id, fut)

    def _abandoned(self, req_id: int, sending: "asyncio.Future[None]") -> None:
        """The caller of start() was cancelled while req_id was being sent:
        once it is out, cancel the request; if it never went out, forget
        it."""
        if not sending.cancelled() and sending.exception() is None:
            self._abandon(req_id)
        else:
            call = self._pending.get(req_id)
            if call is not None:
                self._forget(req_id, call.fut)

    def _forget(self, req_id: int, fut: "asyncio.Future[Boxed]") -> None:
        """Drop request req_id, which did not go out: nothing will answer
        it, and nobody waits for fut (whose exception, if the connection's
        end set one, is taken so as not to be reported)."""
        self._pending.pop(req_id, None)
        if fut.done() and not fut.cancelled():
            fut.exception()

    def _abandon(self, req_id: int) -> None:
        """The caller of request req_id, which was sent, went away: cancel
        it on the server. Its entry stays until its final reply, which
        lets go of its shared memory (the server may use that until then)."""
        call = self._pending.get(req_id)
        if call is not None:
            call.fut.cancel()
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
        """Deliver the replies that recv() gives (with on_message set, there
        are none: it only waits for the connection's end), then fail the
        calls still waiting."""
        try:
            async for msg in self._ws:
                self._deliver(msg)
        except ConnectionClosed:
            pass
        finally:
            # Nothing reads or writes the blocks on the server's side now.
            pending, self._pending = self._pending, {}
            for call in pending.values():
                if not call.fut.done():
                    call.fut.set_exception(ConnectionError("crunch: connection closed"))
            if self._pool is not None:
                self._pool.close()

    def _deliver(self, msg: Any) -> None:
        try:
            reply = decode(msg, self._pool.resolve if self._pool is not None else None)
        except ValueError as exc:
            # A result that is not where the reply says: fail its call
            # rather than leave it waiting.
            reply = {"id": reply_id(msg), "ok": False,
                     "error": {"code": "internal", "message": f"crunch: undecodable reply: {exc}"}}
        call = self._pending.get(reply.get("id"))  # type: ignore[arg-type]
        if call is None:
            return  # id 0 (an undecodable request), a call given up, an unregister
        if "progress" in reply and "ok" not in reply:
            if call.progress is not None:
                call.progress(reply["progress"])
            return
        # The final reply: the id is free again, and the request's blocks
        # too, except the window's while results lie in it. (Let go of
        # them before the caller wakes, so that they are back in the pool
        # for its next call.)
        del self._pending[reply["id"]]
        call.held = ()
        fut = call.fut
        if fut.done():
            return  # the caller gave up
        if reply.get("ok"):
            result = Result(reply.get("result") or {})
            result.stats = reply.get("stats")
            fut.set_result([result])
        else:
            err = reply.get("error") or {}
            fut.set_exception(CrunchError(err.get("code", "internal"),
                                          err.get("message", ""),
                                          err.get("retry_after_ms")))

