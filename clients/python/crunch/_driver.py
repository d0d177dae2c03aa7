"""Who runs the blocking client's event loop, and when.

The blocking Client keeps its connection on an asyncio event loop. Were
that loop always run by a thread of the client's own, every call would
cross threads twice: the caller wakes the loop's thread to send, and that
thread wakes the caller with the reply (about 0.24 ms a call on a 2-CPU VM,
as long as a ping's whole round trip). So the loop is run by whoever waits
on it:

- a caller runs the loop itself, in its own thread, until its reply has
  come, and then leaves it; a thread that runs an event loop of its own
  (a Jupyter cell runs in a callback of the kernel's) sets that one aside
  meanwhile: it cannot go on until the call returns anyway;
- the client's own thread takes the loop when no caller has run it for
  GRACE seconds, so that the server's pings get their pongs and requests
  left in flight (Client.start) go on between calls, and gives it back as
  soon as a caller wants it;
- a caller that finds another caller running the loop waits for its
  reply, and takes the loop over if the other is done with it first.

Ctrl-C while a caller runs the loop in the main thread cancels that call
(as asyncio.run does with its main task) rather than raising inside
whatever the loop was running, which could be the connection's reading
task; a second Ctrl-C raises at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Awaitable, Callable, Coroutine, List, Optional, TypeVar, Union

try:
    # The C module under signal: its functions cost 0.7 us where signal's
    # (which convert numbers to enums) cost 10, twice in every call.
    import _signal as signal
except ImportError:  # not CPython
    import signal

__all__ = ["LoopDriver"]

T = TypeVar("T")

# What a caller may wait on: a future of the loop's, or the future of a
# coroutine handed to the loop from another thread.
AnyFuture = Union["asyncio.Future[T]", "concurrent.futures.Future[T]"]

# How long the loop may go unrun after a caller leaves it before the
# client's thread takes it: long enough that calls a script makes one after
# another (with some NumPy between them) find it free, short next to the
# server's ping timeout (30 s by default).
GRACE = 0.25

# How long closing waits for the connection's closing handshake.
CLOSE_TIMEOUT = 10.0

# The value of LoopDriver._runner while the client's own thread runs the loop.
_BACKGROUND = -1


class LoopDriver:
    """Runs loop for the threads that wait on it (see the module's doc).
    Its thread is started at once; close() ends it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self.loop = loop
        lock = threading.Lock()
        # Callers wait on _cv, the client's thread on _bg_cv: a runner that
        # leaves the loop wakes no thread that has no use for it.
        self._cv = threading.Condition(lock)
        self._bg_cv = threading.Condition(lock)
        # The fields down to _yield_asked are guarded by lock.
        self._waiting = 0  # callers waiting on _cv
        self._runner: Optional[int] = None  # thread ident running the loop, or _BACKGROUND
        self._left_at = time.monotonic()  # when the last runner left the loop
        self._wanted = False  # a waiter asked the client's thread to run it now
        self._yield_asked = False  # a caller asked the client's thread to leave it
        # Set once, by close(), under _close_lock (re-entrant: a finalizer
        # may close amid a close); read anywhere.
        self._close_lock = threading.RLock()
        self._final: Optional[Coroutine[Any, Any, Any]] = None  # close()'s last coroutine
        self._closing = False
        self._local = threading.local()  # .waiting: this thread is in _wait
        self.thread = threading.Thread(target=self._background, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run coro on the loop and return its result; an interrupted wait
        (KeyboardInterrupt) cancels it. Raises RuntimeError from inside the
        loop (a progress callback calling the client)."""
        if self.in_loop():
            coro.close()
            raise RuntimeError("crunch: a Client cannot be called from its own event loop "
                               "(a progress callback)")
        return self._wait(coro, None)

    def in_loop(self) -> bool:
        """Whether the calling thread is running the loop right now."""
        return asyncio._get_running_loop() is self.loop

    def wait(self, fut: "asyncio.Future[T]", timeout: Optional[float] = None) -> T:
        """Wait for fut, a future of the loop's, running the loop meanwhile
        when no other thread does; return its result. With a timeout, raise
        TimeoutError when it passes first (fut goes on). Interrupted, it
        cancels fut and re-raises. Raises RuntimeError from inside the
        loop, where it could only wait for itself."""
        if self.in_loop():
            raise RuntimeError("crunch: a Client's result cannot be waited for in its own "
                               "event loop (a progress callback)")
        return self._wait(fut, timeout)

    def _wait(self, work: "Union[Coroutine[Any, Any, T], AnyFuture[T]]",
              timeout: Optional[float]) -> T:
        """wait(), for a future or a coroutine not yet on the loop: a
        runner makes the coroutine a task itself, a waiter hands it to the
        loop (the one way that wakes a runner in another thread)."""
        fut: Optional[AnyFuture[T]] = None
        coro: Optional[Coroutine[Any, Any, T]] = None
        if isinstance(work, (asyncio.Future, concurrent.futures.Future)):
            fut = work
        else:
            coro = work
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.get_ident()
        woken = False  # whether fut's end wakes waiters
        self._local.waiting = True
        try:
            while True:
                with self._cv:
                    if fut is not None and fut.done():
                        break
                    if self.loop.is_closed():  # (a call that raced with close)
                        raise ConnectionError("crunch: the client is closed")
                    run = self._runner is None and not self._closing
                    if run:
                        self._runner = me
                    elif woken:
                        left = None if deadline is None else deadline - time.monotonic()
                        if left is not None and left <= 0:
                            raise TimeoutError
                        self._ask_locked()
                        self._waiting += 1
                        try:
                            self._cv.wait(left)
                        finally:
                            self._waiting -= 1
                        continue
                if not run:
                    # Outside the lock: a future already done calls back at once.
                    if fut is None:
                        assert coro is not None
                        fut, coro = asyncio.run_coroutine_threadsafe(coro, self.loop), None
                    self._on_done(fut, self._wake_all)
                    woken = True
                    continue
                if fut is None:
                    assert coro is not None
                    # This thread alone may touch the loop now.
                    fut, coro = self.loop.create_task(coro), None
                if self._run_for(fut, deadline):
                    raise KeyboardInterrupt
                if deadline is not None and not fut.done() and time.monotonic() >= deadline:
                    raise TimeoutError
        except BaseException as e:
            if coro is not None:
                coro.close()
            if fut is not None and not isinstance(e, TimeoutError):
                # Interrupted: stop the coroutine too, and let the loop run
                # its end (a call tells the server).
                self._cancel(fut)
                self.want()
            raise
        finally:
            self._local.waiting = False
        return fut.result()

    def _on_done(self, fut: "AnyFuture[Any]", fn: Callable[[Any], None]) -> None:
        """fut.add_done_callback(fn) from any thread: a future of the
        loop's takes callbacks only on the loop."""
        if isinstance(fut, concurrent.futures.Future) or self.in_loop():
            fut.add_done_callback(fn)
            return
        try:
            self.loop.call_soon_threadsafe(fut.add_done_callback, fn)
        except RuntimeError:
            pass  # the loop is closed: the wait sees it

    def _cancel(self, fut: "AnyFuture[Any]") -> None:
        """fut.cancel() from any thread."""
        if isinstance(fut, concurrent.futures.Future):
            fut.cancel()
            return
        try:
            self.loop.call_soon_threadsafe(fut.cancel)
        except RuntimeError:
            pass  # the loop is closed, and so are its futures

    def want(self) -> None:
        """Have the client's thread run the loop now if no one does (for
        work that no caller waits on)."""
        with self._cv:
            if self._runner is None:
                self._ask_locked()

    def close(self, final: Optional[Coroutine[Any, Any, Any]]) -> None:
        """Run final (closing the connection) on the loop, within
        CLOSE_TIMEOUT, then end the client's thread, cancelling what is
        left on the loop and closing it. Waits for all that unless called
        from the loop, from the client's thread or amid a wait of this
        thread's (a garbage collector's finalizer may run there). Closing
        again does nothing."""
        with self._close_lock:
            if self._closing:
                if final is not None:
                    final.close()
                return
            self._final = final
            self._closing = True
        # No wait for _cv here: this thread may hold it already (see above).
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)  # whoever runs the loop leaves it
        except RuntimeError:
            pass  # the loop is closed already
        if self._cv.acquire(blocking=False):
            try:
                self._bg_cv.notify()  # else the client's thread looks within GRACE
            finally:
                self._cv.release()
        if (not self.in_loop() and threading.current_thread() is not self.thread
                and not getattr(self._local, "waiting", False)):
            self.thread.join()

    # -- inside ------------------------------------------------------------

    def _ask_locked(self) -> None:
        """A waiter's request: the client's thread should leave the loop to
        it; or, if no one runs the loop, run it (for work no caller waits
        on: want)."""
        if self._closing:
            return  # the client's thread is closing the connection
        if self._runner == _BACKGROUND:
            if not self._yield_asked:
                self._yield_asked = True
                self.loop.call_soon_threadsafe(self.loop.stop)
        elif self._runner is None and not self._wanted:
            self._wanted = True
            self._bg_cv.notify()

    def _wake_all(self, _: Any) -> None:
        with self._cv:
            self._cv.notify_all()

    def _run_for(self, fut: "AnyFuture[Any]", deadline: Optional[float]) -> bool:
        """Run the loop in this thread (the runner) until fut is done, the
        deadline passes, or someone stops the loop; then leave it. Returns
        whether Ctrl-C cancelled fut meanwhile."""
        loop = self.loop
        running = [True]
        hits = [0]

        def stop(_: Any) -> None:
            if running[0]:  # (fut may end after this thread has left the loop)
                loop.stop()

        timer = None if deadline is None else loop.call_later(deadline - time.monotonic(), loop.stop)
        restore = self._catch_sigint(fut, hits)
        fut.add_done_callback(stop)
        # A thread running an event loop of its own (a Jupyter cell runs in
        # a callback of the kernel's) waits in that callback, its loop
        # unable to go on until the call returns: run this loop in the
        # meantime, as asyncio refuses to unless the other is set aside.
        outer = asyncio._get_running_loop()
        if outer is not None:
            asyncio._set_running_loop(None)
        try:
            loop.run_forever()
        finally:
            if outer is not None:
                asyncio._set_running_loop(outer)
            running[0] = False
            if timer is not None:
                timer.cancel()
            if restore is not None:
                signal.signal(signal.SIGINT, restore)
            with self._cv:
                self._runner = None
                self._left_at = time.monotonic()
                if self._waiting:
                    self._cv.notify_all()
        return hits[0] > 0

    def _catch_sigint(self, fut: "AnyFuture[Any]", hits: List[int]) -> Any:
        """In the main thread under Python's default SIGINT handling, make
        the first Ctrl-C cancel fut (whose end stops the loop), counting
        in hits, and return the handler to restore; else None."""
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            return None
        loop = self.loop

        def on_sigint(signum: int, frame: Any) -> None:
            hits[0] += 1
            if hits[0] > 1:
                raise KeyboardInterrupt
            # (safe in a signal handler: asyncio's own handlers do this)
            loop.call_soon_threadsafe(fut.cancel)

        return signal.signal(signal.SIGINT, on_sigint)

    def _background(self) -> None:
        """The client's thread: runs the loop while no caller does, once
        GRACE has passed or a waiter wants it, until close()."""
        loop = self.loop
        while True:
            with self._cv:
                while True:
                    if self._runner is None:
                        if self._closing:
                            self._runner = _BACKGROUND
                            break
                        idle = self._left_at + GRACE - time.monotonic()
                        if self._wanted or idle <= 0:
                            self._runner, self._wanted, self._yield_asked = _BACKGROUND, False, False
                            break
                        self._bg_cv.wait(idle)
                    else:
                        # A caller runs it: look again later (callers leaving
                        # the loop do not wake this thread, see _bg_cv).
                        self._bg_cv.wait(GRACE)
                if self._closing:
                    break
            try:
                loop.run_forever()
            finally:
                with self._cv:
                    self._runner = None
                    self._left_at = time.monotonic()
                    if self._waiting:
                        self._cv.notify_all()
        self._finish()

    def _finish(self) -> None:
        """Close: run the final coroutine, then cancel what is left and
        close the loop, as asyncio.run does."""
        loop = self.loop
        try:
            if self._final is not None:
                try:
                    _complete(loop, asyncio.wait_for(self._final, CLOSE_TIMEOUT))
                except Exception:
                    pass  # closing a broken connection: nothing more to do
            # Again if tasks are left: a call that raced with close may
            # have started one meanwhile.
            for _ in range(3):
                tasks = asyncio.all_tasks(loop)
                if not tasks:
                    break
                for task in tasks:
                    task.cancel()
                _complete(loop, asyncio.gather(*tasks, return_exceptions=True))
            _complete(loop, loop.shutdown_asyncgens())
        finally:
            loop.close()
            with self._cv:
                self._runner = None
                self._cv.notify_all()


def _complete(loop: asyncio.AbstractEventLoop, aw: Awaitable[T]) -> T:
    """loop.run_until_complete(aw), except that a stop left over from a
    runner that has gone (a call_soon_threadsafe(loop.stop) it did not
    live to run) only makes it run the loop again."""
    fut = asyncio.ensure_future(aw, loop=loop)
    fut.add_done_callback(lambda _: loop.stop())
    while not fut.done():
        loop.run_forever()
    return fut.result()
