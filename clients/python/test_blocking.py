"""Tests of the blocking crunch.Client against a running server
(CRUNCH_ADDR, default 127.0.0.1:8080): its methods mirror AsyncClient's,
it works where an event loop already runs (Jupyter), from several threads
at once, runs its event loop on the caller's thread while it waits and on
its own between calls, and an interrupted call is cancelled on the server.

    CRUNCH_ADDR=127.0.0.1:8080 /usr/bin/python3 -m unittest -v test_blocking

`go test ./clients/python` starts a server and runs this file.
"""

import asyncio
import concurrent.futures
import inspect
import os
import signal
import threading
import time
import unittest

import numpy as np

import crunch
import crunch._driver
from test_crunch import ADDR, modsum_ref


def public_methods(cls):
    """cls's public methods, its own and inherited (the generated op methods)."""
    return sorted(n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n)))


class BlockingClientTest(unittest.TestCase):
    def setUp(self):
        self.c = crunch.Client(ADDR)
        self.rng = np.random.default_rng(11)

    def tearDown(self):
        self.c.close()

    def test_same_methods_as_async(self):
        self.assertEqual(public_methods(crunch.Client), public_methods(crunch.AsyncClient))
        for name in public_methods(crunch.AsyncClient):
            want = inspect.signature(getattr(crunch.AsyncClient, name)).parameters
            got = inspect.signature(getattr(crunch.Client, name)).parameters
            self.assertEqual(list(got.values()), list(want.values()), name)
            self.assertTrue(getattr(crunch.Client, name).__doc__, name)

    def test_ops(self):
        a = self.rng.standard_normal((70, 40))
        b = self.rng.standard_normal((40, 30))
        np.testing.assert_allclose(self.c.gemm(a, b, exec="pool"), a @ b, rtol=1e-12)
        x = self.rng.standard_normal(256)
        np.testing.assert_allclose(self.c.fft(x), np.fft.fft(x), atol=1e-10)
        s = self.c.stats(a, ddof=1)
        self.assertEqual(s["count"], a.size)
        self.assertAlmostEqual(s["var"], a.var(ddof=1), places=10)
        np.testing.assert_array_equal(self.c.sort(x, descending=True), np.sort(x)[::-1])
        self.assertEqual(self.c.modsum(7, 1000), modsum_ref(7, 1000))
        self.assertLess(self.c.ping(), 5.0)
        self.assertIn("ops", self.c.info())
        one = self.c.gemm(a, b, exec="pool", threads=1)
        self.assertEqual(one.tobytes(), self.c.gemm(a, b, exec="pool", threads=2).tobytes())
        with self.assertRaises(crunch.CrunchError) as cm:
            self.c.start("modsum", {"n": 3, "iters": 10}, threads=0).result(10)
        self.assertEqual(cm.exception.code, "invalid_argument")
        r = self.c.call("modsum", {"n": 2, "iters": 50}, binary=False)
        self.assertEqual((r["total"], r.stats["impl"]), (modsum_ref(2, 50), "c"))
        with self.assertRaises(crunch.CrunchError) as cm:
            self.c.solve(np.ones((3, 3)), np.ones(3))
        self.assertEqual(cm.exception.code, "numerical")

    def test_start_cancel_progress(self):
        seen, refused = [], []

        def progress(f):
            seen.append(threading.current_thread())
            try:
                self.c.ping()
            except RuntimeError as e:  # a callback must not call the client
                refused.append(e)

        p = self.c.start("modsum", {"n": 3, "iters": 10**15}, exec="pool", progress=progress)
        with self.assertRaises(TimeoutError):
            p.result(timeout=0.35)
        self.assertFalse(p.done())
        self.assertTrue(self.c.cancel(p.id))
        with self.assertRaises(crunch.CrunchError) as cm:
            p.result()
        self.assertEqual(cm.exception.code, "canceled")
        # Progress ran on this thread, which ran the loop while it waited.
        self.assertTrue(seen, "no progress")
        self.assertEqual(set(seen), {threading.current_thread()})
        self.assertEqual(len(refused), len(seen))

    def test_loop_runs_between_calls(self):
        """With no caller waiting, the client's own thread runs the loop:
        a started request's progress comes while this thread sleeps."""
        seen = []
        p = self.c.start("modsum", {"n": 3, "iters": 10**15}, exec="pool",
                         progress=lambda f: seen.append(threading.current_thread()))
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(seen, "no progress while no caller waited")
        self.assertIs(seen[0], self.c._driver.thread)
        self.assertTrue(self.c.cancel(p.id))  # this thread takes the loop back
        with self.assertRaises(crunch.CrunchError):
            p.result()
        self.assertEqual(self.c.modsum(5, 100), modsum_ref(5, 100))

    def test_done_reads_the_reply(self):
        """done() has the client's thread read the reply at once: with a
        grace longer than the test, nothing else would."""
        grace = crunch._driver.GRACE
        crunch._driver.GRACE = 3600.0
        try:
            with crunch.Client(ADDR) as c:
                p = c.start("modsum", {"n": 4, "iters": 1000})
                deadline = time.monotonic() + 10
                while not p.done() and time.monotonic() < deadline:
                    time.sleep(0.001)
                self.assertTrue(p.done())
                self.assertEqual(p.result(timeout=0)["total"], modsum_ref(4, 1000))
        finally:
            crunch._driver.GRACE = grace

    def test_threads_share_the_connection(self):
        ns = list(range(24))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda n: self.c.modsum(n, 3000), ns))
        self.assertEqual(got, [modsum_ref(n, 3000) for n in ns])

    def test_close(self):
        with crunch.Client(ADDR) as c:
            self.assertEqual(c.modsum(1, 10), modsum_ref(1, 10))
        self.assertFalse(c._driver.thread.is_alive())
        with self.assertRaises(ConnectionError):
            c.modsum(1, 10)
        c.close()  # again: nothing

    def test_close_during_a_call(self):
        """close() from another thread ends a call that this thread is
        running the loop for."""
        c = crunch.Client(ADDR)
        timer = threading.Timer(0.3, c.close)
        timer.start()
        t0 = time.monotonic()
        with self.assertRaises(ConnectionError):
            c.modsum(3, 10**15, exec="pool")
        timer.join()
        self.assertLess(time.monotonic() - t0, 10)
        self.assertFalse(c._driver.thread.is_alive())

    def test_no_server(self):
        with self.assertRaises(OSError):
            crunch.Client("127.0.0.1:1")

    @unittest.skipUnless(threading.current_thread() is threading.main_thread(),
                         "signals reach the main thread only")
    def test_interrupt_cancels_on_server(self):
        pool = next(e["slots"] for e in self.c.info()["executors"] if e["name"] == "pool")
        for _ in range(pool):  # as many calls as the pool has workers
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            with self.assertRaises(KeyboardInterrupt):
                self.c.modsum(3, 10**15, exec="pool")  # hours of work
            timer.join()
        # Had the interrupted calls gone on, every pool worker would be busy.
        self.assertEqual(self.c.modsum(3, 1000, exec="pool", timeout_ms=10_000), modsum_ref(3, 1000))


class InsideEventLoopTest(unittest.IsolatedAsyncioTestCase):
    """Jupyter runs cells in a thread whose event loop is running."""

    async def test_blocking_client_in_a_running_loop(self):
        outer = asyncio.get_running_loop()
        with crunch.Client(ADDR) as c:
            a = np.arange(6.0).reshape(2, 3)
            np.testing.assert_allclose(c.gemm(a, a.T), a @ a.T)
            # The call ran the client's loop on this thread, setting this
            # loop aside meanwhile, and gave it back.
            seen = []
            p = c.start("modsum", {"n": 3, "iters": 10**15}, exec="pool", progress=lambda f: seen.append(
                (threading.current_thread(), asyncio.get_running_loop())))
            with self.assertRaises(TimeoutError):
                p.result(timeout=0.35)
            self.assertTrue(c.cancel(p.id))
            with self.assertRaises(crunch.CrunchError):
                p.result()
            self.assertTrue(seen, "no progress")
            self.assertEqual({t for t, _ in seen}, {threading.current_thread()})
            self.assertNotIn(outer, {loop for _, loop in seen})
            self.assertIs(asyncio.get_running_loop(), outer)
        await asyncio.sleep(0.01)  # and this loop goes on
        self.assertIs(asyncio.get_running_loop(), outer)


if __name__ == "__main__":
    unittest.main()
