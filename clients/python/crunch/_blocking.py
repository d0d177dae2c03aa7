"""The blocking client: the asyncio client, run on an event loop of its own.

Scripts and notebooks want `c.gemm(a, b)` to simply return an array. Running
the async client under asyncio.run() for each call would open a connection
per call, and fails in Jupyter, whose main thread already runs an event
loop (asyncio.run refuses to start another there). So a Client keeps a
private event loop, which owns the connection and an AsyncClient, and hands
each call to it. The calling thread runs that loop itself while it waits
for its reply (setting aside the loop it runs itself, if any), and the
client's own thread runs it between calls (_driver.py): that works
whatever the calling thread runs, costs no hop between threads, and calls
from several threads share the one connection, in flight together.

Interrupting a waiting call (Ctrl-C: KeyboardInterrupt) cancels it on the
server too, so that an abandoned notebook cell does not keep the server's
CPU busy.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable, Coroutine, Dict, Optional, Tuple, TypeVar

import numpy as np
import numpy.typing as npt

from ._aio import AsyncClient, Pending, Progress, Shape, connect
from ._driver import LoopDriver
from ._ops_generated import BlockingOps
from ._reply import Result

__all__ = ["Client", "PendingCall"]

T = TypeVar("T")


class PendingCall:
    """A request of the blocking client on its way (Client.start makes one):
    id names it (Client.cancel takes it); result() waits for its Result."""

    def __init__(self, req_id: int, future: "asyncio.Future[Result]",
                 driver: LoopDriver) -> None:
        self.id = req_id
        self._future = future
        self._driver = driver

    def result(self, timeout: Optional[float] = None) -> Result:
        """Wait for the reply and return the Result, or raise CrunchError
        (or ConnectionError if the connection closed first). With a timeout
        in seconds, raise TimeoutError when it passes first; the request
        goes on, and result() may be called again."""
        try:
            return self._driver.wait(self._future, timeout)
        except TimeoutError:
            raise TimeoutError(f"crunch: no reply to request {self.id} within {timeout} s") from None

    def done(self) -> bool:
        """Whether the final reply has come (result() will not wait)."""
        if self._future.done():
            return True
        self._driver.want()  # so that the reply is read without waiting on result()
        return False


class Client(BlockingOps):
    """A blocking connection to a crunch server, for scripts and notebooks.

        with crunch.Client("127.0.0.1:8080") as c:
            prod = c.gemm(a, b)

    addr is as for connect(): "host:port", a ws:// or wss:// URL, or
    "unix:/path/to/socket" (large arrays then travel through shared
    memory, see AsyncClient); token, ssl and cafile are connect()'s, and
    extra keyword arguments go to websockets.connect. The methods are those of
    AsyncClient, with the same arguments and options (exec, impl,
    timeout_ms, threads, progress), returning their results instead of
    coroutines.
    A progress callback runs on whichever thread runs the client's event
    loop then (the caller's while it waits, else the client's own thread);
    it must not call the client. Any thread may call; calls from several
    threads run at once on the one connection. close() (or the end of a
    with block) closes the connection and stops the client's thread.
    """

    _aio: AsyncClient

    def __init__(self, addr: str = "127.0.0.1:8080", **kwargs: Any) -> None:
        driver = LoopDriver(asyncio.new_event_loop(), f"crunch client {addr}")
        self._driver = driver
        try:
            aio = driver.run(_open(addr, kwargs))
        except BaseException:
            driver.close(None)
            raise
        self._aio = aio
        # Closes the connection and ends the thread when close() is called,
        # or when the Client is garbage collected or the interpreter exits
        # without it (references only what it closes, never self).
        self._finalizer = weakref.finalize(self, _shutdown, driver, aio)

    def close(self) -> None:
        """Close the connection (calls still in flight fail) and stop the
        client's thread. Closing again does nothing."""
        self._finalizer()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- control ops --------------------------------------------------

    def ping(self) -> float:
        """Round trip of the protocol's ping op, in seconds."""
        return self._run(self._aio.ping())

    def info(self) -> Dict[str, Any]:
        """The server's description: version, CPU, executors, limits, ops."""
        return self._run(self._aio.info())

    def cancel(self, target: int) -> bool:
        """Cancel request id target; True if it was still in flight."""
        return self._run(self._aio.cancel(target))

    # -- shared memory ----------------------------------------------------

    def empty(self, shape: Shape, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """A new array of shape and dtype (uninitialized, as numpy.empty)
        in this connection's shared memory: passed to a call, it travels
        without any copy. Over TCP, or when the server's limits leave no
        shared memory, it is an ordinary array (shares() tells). Its memory
        is the connection's until the array and every view of it are gone;
        it stays valid after close()."""
        return self._run(self._aio.empty(shape, dtype))

    def zeros(self, shape: Shape, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """empty(shape, dtype), filled with zeros."""
        return self._run(self._aio.zeros(shape, dtype))

    def shares(self, a: np.ndarray) -> bool:
        """Whether a lies in this connection's shared memory (from empty(),
        zeros(), a result, or a view of one), so that a call takes it
        without a copy (if it is C-contiguous)."""
        return self._run(_sync(self._aio.shares, a))

    # -- the protocol ---------------------------------------------------

    def call(self, op: str, args: Optional[Dict[str, Any]] = None, **opts: Any) -> Result:
        """Send op with args (NumPy arrays, numbers, booleans, strings) and
        return its Result; raise CrunchError on a failure reply. Options as
        for start."""
        return self._run(self._aio.call(op, args, **opts))

    def start(self, op: str, args: Optional[Dict[str, Any]] = None, *,
              exec: Optional[str] = None, impl: Optional[str] = None,
              timeout_ms: Optional[int] = None, threads: Optional[int] = None,
              progress: Optional[Progress] = None, binary: bool = True) -> PendingCall:
        """Send op with args and return, once it is sent, a PendingCall,
        which has the request's id (for cancel) and whose result() waits for
        the Result. Arrays always travel in binary form; binary=False sends
        a text message when there are none."""
        req_id, fut = self._run(_start(self._aio.start(
            op, args, exec=exec, impl=impl, timeout_ms=timeout_ms, threads=threads,
            progress=progress, binary=binary)))
        return PendingCall(req_id, fut, self._driver)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run coro on the client's loop and wait for it. If the wait is
        interrupted, the coroutine is cancelled: a call then cancels its
        request on the server (AsyncClient.call does)."""
        if not self._finalizer.alive:
            coro.close()
            raise ConnectionError("crunch: the client is closed")
        return self._driver.run(coro)


async def _open(addr: str, kwargs: Dict[str, Any]) -> AsyncClient:
    return await connect(addr, **kwargs)


async def _sync(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) on the client's loop (for what only its thread may touch)."""
    return fn(*args)


async def _start(started: Coroutine[Any, Any, Pending]) -> "Tuple[int, asyncio.Future[Result]]":
    """Start a request; its id, and a task that awaits its Result."""
    pending = await started
    task = asyncio.ensure_future(_result(pending))
    # A request whose result nobody asks for is no error to report.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return pending.id, task


async def _result(pending: Pending) -> Result:
    return await pending


def _shutdown(driver: LoopDriver, aio: AsyncClient) -> None:
    """Close the connection, stop the loop and end the client's thread."""
    driver.close(aio.close())
