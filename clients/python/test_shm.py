"""Tests of shared memory over the server's Unix socket: the same answers as
over TCP, arrays that travel without a copy, results that are views of
shared memory and keep it from reuse while they live, many calls at once,
cancelled calls, closing, and the server's limits.

    CRUNCH_ADDR=127.0.0.1:8080 CRUNCH_UNIX=unix:/tmp/crunch.sock \\
        /usr/bin/python3 -m unittest -v test_shm

(a server started with `crunch serve --addr 127.0.0.1:8080 --unix
/tmp/crunch.sock`). Without CRUNCH_UNIX these tests skip. `go test
./clients/python` starts a server with both and runs this file.
"""

import asyncio
import gc
import os
import threading
import time
import unittest
from unittest import mock

import numpy as np

import crunch
from crunch import _codec, _shm

ADDR = os.environ.get("CRUNCH_ADDR", "127.0.0.1:8080")
UNIX = os.environ.get("CRUNCH_UNIX", "")
LIMIT = _shm.THRESHOLD // 8  # f64 elements in the smallest array that is shared

needs_unix = unittest.skipUnless(UNIX, "CRUNCH_UNIX names no server Unix socket (unix:PATH)")


def block_of(c, a):
    """The shared-memory block a lies in (AsyncClient c's), or None."""
    found = c._pool.find(a)
    return None if found is None else found[0].block


async def settle(c):
    """Let the pool take back what was freed: a Lease's finalizer gives its
    block back through the event loop, and a cancelled call's blocks come
    back with the server's final reply to it."""
    for _ in range(500):
        gc.collect()
        await asyncio.sleep(0.002)
        if not c._pending:
            # The last reply may have come during that sleep: leases that
            # only a collection frees (in a cycle) are freed now, and
            # their blocks come back on the loop's next turn.
            gc.collect()
            await asyncio.sleep(0)
            return
    raise AssertionError(f"requests still in flight: {list(c._pending)}")


def same(test, got, want, what):
    """got is want: equal arrays (NaN where NaN, dtype and shape), equal
    dicts of numbers, or the same CrunchError code."""
    if isinstance(want, Exception):
        test.assertIsInstance(got, crunch.CrunchError, what)
        test.assertEqual(got.code, want.code, what)
        return
    test.assertNotIsInstance(got, Exception, what)
    if isinstance(want, dict):
        test.assertEqual(set(got), set(want), what)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=f"{what} {k}")
        return
    test.assertEqual((got.dtype, got.shape), (want.dtype, want.shape), what)
    np.testing.assert_array_equal(got, want, err_msg=what)


async def outcome(coro):
    try:
        return await coro
    except crunch.CrunchError as e:
        return e


def awkward_cases(rng):
    """(what, op method name, args, kwargs) for every op, at sizes around
    the shared-memory threshold, empty, tiny and prime, with NaN and Inf."""
    def nonfinite(a):
        a = a.copy()
        flat = a.reshape(-1)
        if flat.size >= 3:
            flat[0], flat[flat.size // 2], flat[-1] = np.nan, np.inf, -np.inf
        return a

    cases = []
    for n in (0, 1, 2, 7, 8191, LIMIT - 1, LIMIT, LIMIT + 1, 16411, 100_003):
        x = rng.standard_normal(n)
        cases += [
            (f"sort f64 {n}", "sort", (x,), {}),
            (f"sort f64 nonfinite {n}", "sort", (nonfinite(x),), {"descending": True}),
            (f"stats {n}", "stats", (x,), {"ddof": 0}),
            (f"stats nonfinite {n}", "stats", (nonfinite(x),), {}),
        ]
        if n:
            cases += [
                (f"fft real {n}", "fft", (x,), {}),
                (f"fft real f32 {n}", "fft", (x.astype(np.float32),), {"norm": "ortho"}),
                (f"fft complex nonfinite {n}", "fft", (nonfinite(x + 1j * x[::-1]),), {"inverse": True}),
            ]
    for n in (2 * LIMIT - 1, 2 * LIMIT, 2 * LIMIT + 7):
        for dt in (np.int32, np.uint32, np.float32):
            cases.append((f"sort {np.dtype(dt)} {n}", "sort", ((rng.standard_normal(n) * 1e6).astype(dt),), {}))
        cases.append((f"fft c64 {n}", "fft", (rng.standard_normal(n).astype(np.complex64),), {}))
    for m, k, n in ((1, 1, 1), (0, 5, 3), (91, 89, 97), (128, 64, 128), (127, 131, 67), (300, 200, 257)):
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        cases.append((f"gemm {m}x{k}x{n}", "gemm", (a, b), {}))
        cases.append((f"gemm f32 {m}x{k}x{n}", "gemm", (a.astype(np.float32), b.astype(np.float32)), {}))
    a, b = rng.standard_normal((130, 90)), rng.standard_normal((130, 110))
    c = rng.standard_normal((90, 110))
    cases.append(("gemm trans_a alpha beta", "gemm", (a, b, c), {"alpha": 2.0, "beta": -1.0, "trans_a": True}))
    cases.append(("gemm nonfinite", "gemm", (nonfinite(a.T.copy()), b), {}))
    for h, w in ((1, 1), (90, 91), (128, 64), (257, 255)):
        image = rng.standard_normal((h, w))
        for mode in ("same", "valid", "full"):
            cases.append((f"conv2d {h}x{w} {mode}", "conv2d", (image, rng.standard_normal((3, 5))), {"mode": mode}))
        cases.append((f"conv2d nonfinite {h}x{w}", "conv2d", (nonfinite(image), np.ones((2, 2))), {}))
    for n in (1, 5, 91, 131):
        a = rng.standard_normal((n, n)) + n * np.eye(n)
        cases.append((f"solve {n}", "solve", (a, rng.standard_normal(n)), {}))
        cases.append((f"solve {n}x70", "solve", (a, rng.standard_normal((n, 70))), {}))
    cases.append(("solve singular", "solve", (np.ones((100, 100)), np.ones(100)), {}))
    cases.append(("solve nonfinite", "solve", (nonfinite(np.eye(100)), np.ones(100)), {}))
    for w, h in ((1, 1), (127, 129), (128, 128), (256, 200)):
        cases.append((f"mandelbrot {w}x{h}", "mandelbrot", (w, h), {"max_iter": 64}))
    cases.append(("gemm refused", "gemm", (np.ones((200, 100)), np.ones((200, 100))), {}))
    return cases


@needs_unix
class SameAnswersTest(unittest.IsolatedAsyncioTestCase):
    """Every op over the Unix socket, through shared memory, gives what it
    gives over TCP, bit for bit."""

    async def test_every_op_async(self):
        rng = np.random.default_rng(5)
        async with crunch.connect(ADDR) as tcp, crunch.connect(UNIX) as unix:
            self.assertIsNotNone(unix._pool)
            self.assertIsNone(tcp._pool)
            shared_results = 0
            for what, op, args, kwargs in awkward_cases(rng):
                want = await outcome(getattr(tcp, op)(*args, **kwargs))
                got = await outcome(getattr(unix, op)(*args, **kwargs))
                same(self, got, want, what)
                if isinstance(got, np.ndarray):
                    # Large results are views of shared memory; small ones not.
                    self.assertEqual(unix.shares(got), got.nbytes >= _shm.THRESHOLD, what)
                    shared_results += unix.shares(got)
            self.assertGreater(shared_results, 20)
            self.assertGreater(unix._pool.stats()["regions"], 0)

    def test_every_op_blocking(self):
        rng = np.random.default_rng(6)
        with crunch.Client(ADDR) as tcp, crunch.Client(UNIX) as unix:
            for what, op, args, kwargs in awkward_cases(rng)[::3]:
                try:
                    want = getattr(tcp, op)(*args, **kwargs)
                except crunch.CrunchError as e:
                    want = e
                try:
                    got = getattr(unix, op)(*args, **kwargs)
                except crunch.CrunchError as e:
                    got = e
                same(self, got, want, what)
            x = rng.standard_normal(3 * LIMIT)
            r = unix.sort(x)
            self.assertTrue(unix.shares(r))
            np.testing.assert_array_equal(r, np.sort(x))


class UnixClientTest(unittest.IsolatedAsyncioTestCase):
    """A test with a client over the Unix socket (self.c), closed after it,
    and a generator (self.rng) seeded with the class's seed."""

    seed = 0

    async def asyncSetUp(self):
        self.c = await crunch.connect(UNIX)
        self.rng = np.random.default_rng(self.seed)

    async def asyncTearDown(self):
        await self.c.close()


@needs_unix
class ZeroCopyTest(UnixClientTest):
    seed = 8

    async def test_allocated_arrays_travel_without_a_copy(self):
        c = self.c
        a = await c.empty((300, 200))
        self.assertTrue(c.shares(a) and a.flags.writeable and a.flags.c_contiguous)
        a[:] = self.rng.standard_normal(a.shape)
        b = await c.zeros((200, 100), np.float32)
        self.assertEqual((b.dtype, b.shape, float(np.abs(b).sum())), (np.float32, (200, 100), 0.0))
        b[:] = self.rng.standard_normal(b.shape)
        small = await c.empty(7, np.int32)  # any size: it lies there already
        small[:] = [5, 3, 9, 1, 7, 2, 0]
        at = await self._shared(a.T)
        with mock.patch("crunch._aio.np.copyto", side_effect=AssertionError("copied")):
            np.testing.assert_allclose(await c.gemm(a, at), a @ a.T, rtol=1e-10, atol=1e-10)
            np.testing.assert_array_equal(await c.sort(small), [0, 1, 2, 3, 5, 7, 9])
            # A view at an offset into the block: read where it lies.
            tail = a[100:]
            np.testing.assert_array_equal(await c.sort(tail.reshape(-1)), np.sort(tail.reshape(-1)))
            # A result as the next call's argument.
            s = await c.sort(a.reshape(-1))
            self.assertTrue(c.shares(s))
            np.testing.assert_array_equal(await c.sort(s, descending=True), np.sort(a.reshape(-1))[::-1])
            z = await self._shared(b.astype(np.complex64))
            np.testing.assert_allclose(await c.fft(z), np.fft.fft(b), rtol=1e-3, atol=1e-3)
        # What does not lie in shared memory is copied in once.
        x = self.rng.standard_normal(LIMIT)
        self.assertFalse(c.shares(x))
        with mock.patch("crunch._aio.np.copyto", wraps=np.copyto) as copies:
            np.testing.assert_array_equal(await c.sort(x), np.sort(x))
        self.assertEqual(copies.call_count, 1)
        # Real input to fft goes as it is (the server's real transform
        # reads it): a real array in shared memory is not copied.
        with mock.patch("crunch._aio.np.copyto", wraps=np.copyto) as copies:
            np.testing.assert_allclose(await c.fft(b), np.fft.fft(b), rtol=1e-3, atol=1e-3)
        self.assertEqual(copies.call_count, 0)
        # A non-contiguous view of a shared array is not where the server
        # can read it: copied once, into a block of its own.
        strided = a[:, ::2]
        with mock.patch("crunch._aio.np.copyto", wraps=np.copyto) as copies:
            s = await c.stats(strided)
        self.assertEqual(copies.call_count, 1)
        self.assertEqual((s["count"], s["max"]), (strided.size, strided.max()))
        self.assertAlmostEqual(s["sum"], strided.sum(), places=9)

    async def _shared(self, a):
        out = await self.c.empty(a.shape, a.dtype)
        out[:] = a
        return out

    async def test_empty_over_tcp_is_an_ordinary_array(self):
        async with crunch.connect(ADDR) as tcp:
            a = await tcp.zeros((3, 4), np.int64)
            self.assertEqual((a.dtype, a.shape, int(a.sum())), (np.int64, (3, 4), 0))
            self.assertFalse(tcp.shares(a))
            self.assertTrue(a.flags.owndata)
        with self.assertRaises(TypeError):
            await self.c.empty(3, np.bool_)  # no protocol dtype
        with self.assertRaises(ValueError):
            await self.c.empty((3, -1))
        e = await self.c.zeros((0, 5), np.complex64)
        self.assertEqual((e.shape, e.dtype), ((0, 5), np.complex64))
        np.testing.assert_array_equal(await self.c.fft(np.ones((2, 8))[:0]), np.zeros((0, 8), np.complex128))

    async def test_results_stay_valid_and_keep_their_block(self):
        c = self.c
        # a in (256 KiB) and a @ b out (64 KiB): blocks of two sizes, so
        # that the windows' blocks are told apart from the inputs'.
        b = self.rng.standard_normal((128, 32))
        as_ = [self.rng.standard_normal((256, 128)) for _ in range(4)]
        r1 = await c.gemm(as_[0], b)
        w1 = block_of(c, r1)
        self.assertIsNotNone(w1)
        self.assertFalse(r1.flags.owndata)
        r2 = await c.gemm(as_[1], b)
        self.assertIsNot(block_of(c, r2), w1)  # not reused while r1 lives
        for a in as_[2:] * 3:  # later calls leave r1 alone
            await c.gemm(a, b)
            await c.sort(a.reshape(-1))
        await settle(c)
        np.testing.assert_allclose(r1, as_[0] @ b, rtol=1e-10, atol=1e-10)
        self.assertIs(block_of(c, r1), w1)
        # A view of a result keeps the block as well.
        part = r1[10:20]
        del r1
        await settle(c)
        r = await c.gemm(as_[2], b)
        self.assertIsNot(block_of(c, r), w1)
        del r
        await settle(c)
        del part
        await settle(c)
        # Now w1 is free, and the next call of that size reuses it: its
        # pages are faulted in already.
        regions = c._pool.stats()["regions"]
        r3 = await c.gemm(as_[3], b)
        self.assertIs(block_of(c, r3), w1)
        self.assertEqual(c._pool.stats()["regions"], regions)
        np.testing.assert_allclose(r3, as_[3] @ b, rtol=1e-10, atol=1e-10)

    async def test_back_to_back_calls_reuse_blocks(self):
        # A result dropped right before the next call frees its block for
        # that call: no new region (a registration and all its page
        # faults) per call.
        c = self.c
        x = await c.empty(3 * LIMIT)
        x[:] = self.rng.standard_normal(x.shape)
        y = self.rng.standard_normal(3 * LIMIT)
        r = await c.sort(x)
        del r
        regions = c._pool.stats()["regions"]
        for _ in range(5):
            r = await c.sort(x)
            del r
            r = await c.sort(y)  # copied in: an input block too
            del r
        self.assertLessEqual(c._pool.stats()["regions"], regions + 1)

    async def test_results_outlive_the_connection(self):
        async with crunch.connect(UNIX) as c:
            x = self.rng.standard_normal(3 * LIMIT)
            r = await c.sort(x)
            e = await c.empty(LIMIT)
            e[:] = 4.0
            self.assertTrue(c.shares(r))
        gc.collect()
        np.testing.assert_array_equal(r, np.sort(x))  # still mapped: r holds it
        r[:] = 1.0  # and writable
        self.assertEqual(float(e.sum()), 4.0 * LIMIT)
        del r, e
        gc.collect()
        await asyncio.sleep(0)

    async def test_blocking_client_views(self):
        # Results dropped in the caller's thread go back to the pool through
        # the client's own loop.
        with crunch.Client(UNIX) as c:
            x = self.rng.standard_normal(2 * LIMIT)
            r1 = c.sort(x)
            self.assertTrue(c.shares(r1))
            w1 = c._run(_in_loop(lambda: block_of(c._aio, r1)))
            r2 = c.sort(x[::-1].copy())
            self.assertIsNot(c._run(_in_loop(lambda: block_of(c._aio, r2))), w1)
            np.testing.assert_array_equal(r1, np.sort(x))
            del r1, r2
            gc.collect()
            time.sleep(0.05)
            e = c.empty(x.shape)  # a block of the same size: one of the two freed
            self.assertTrue(c.shares(e))
            e[:] = x
            np.testing.assert_array_equal(c.sort(e), np.sort(x))

    async def test_errors_about_shared_memory(self):
        c = self.c
        bad = _codec.ShmTensor("f64", (10,), 10**6, 0)
        with self.assertRaises(crunch.CrunchError) as cm:
            await c.call("sort", {"x": bad})
        self.assertEqual(cm.exception.code, "invalid_argument")
        e = await c.empty(100)
        region = c._pool.find(e)[0].region
        with self.assertRaises(crunch.CrunchError) as cm:
            await c.call("sort", {"x": _codec.ShmTensor("f64", (10**6,), region, 0)})  # past its end
        self.assertEqual(cm.exception.code, "invalid_argument")
        async with crunch.connect(ADDR) as tcp:
            with self.assertRaises(crunch.CrunchError) as cm:
                await tcp.call("sort", {"x": _codec.ShmTensor("f64", (10,), region, 0)})
            self.assertEqual(cm.exception.code, "invalid_argument")
            self.assertIn("Unix socket", cm.exception.message)
        self.assertEqual((await c.stats(np.arange(3.0)))["count"], 3)  # still serving

    async def test_server_limits_fall_back_to_messages(self):
        c = self.c
        limit = c._pool.max_regions
        self.assertEqual(limit, 64)  # the server's default, from info
        # Past the limit that info states, the pool asks for nothing more.
        held = [await c.empty(8) for _ in range(limit + 3)]
        self.assertEqual(sum(c.shares(a) for a in held), limit)
        x = self.rng.standard_normal(2 * LIMIT)
        r = await c.sort(x)
        np.testing.assert_array_equal(r, np.sort(x))
        self.assertFalse(c.shares(r))  # it came in the message
        del held
        await settle(c)
        # And when the server itself refuses (too_large), the same.
        c._pool.max_regions = 10**6
        held = [await c.empty(8) for _ in range(limit + 3)]
        self.assertLessEqual(sum(c.shares(a) for a in held), limit)
        self.assertGreater(sum(c.shares(a) for a in held), limit - 10)
        np.testing.assert_array_equal(await c.sort(x), np.sort(x))
        del held
        await settle(c)
        r = await c.sort(x)
        self.assertTrue(c.shares(r))  # room again
        self.assertLessEqual(c._pool.stats()["regions"], limit)


async def _in_loop(fn):
    return fn()


@needs_unix
class InFlightTest(UnixClientTest):
    seed = 9

    async def test_many_calls_at_once(self):
        # More blocks than the server allows a connection (64): the calls
        # that find none send their arrays in the message, and all agree.
        c = self.c
        xs = [self.rng.standard_normal(LIMIT + 1000 * i) for i in range(48)]
        a = self.rng.standard_normal((150, 150))
        calls = [c.sort(x) for x in xs] + [c.stats(x) for x in xs[:8]] + [c.gemm(a, a) for _ in range(8)]
        got = await asyncio.gather(*calls)
        for x, r in zip(xs, got):
            np.testing.assert_array_equal(r, np.sort(x))
        for x, s in zip(xs, got[48:56]):
            self.assertEqual(s["count"], x.size)
            self.assertAlmostEqual(s["mean"], x.mean(), places=12)
        for g in got[56:]:
            np.testing.assert_allclose(g, a @ a, rtol=1e-10, atol=1e-10)
        # 72 arrays of 64 KiB or more, and their windows, wanted blocks:
        # never more than the server allows.
        self.assertLessEqual(c._pool.stats()["regions"], 64)
        # The loops' last results may be views of blocks too: drop them all.
        del got, calls, r, s, g
        await settle(c)
        self.assertEqual(c._pool.stats()["free"], c._pool.stats()["regions"])  # nothing leaked

    async def test_cancelled_call_keeps_its_blocks_until_the_reply(self):
        c = self.c
        a = self.rng.standard_normal((1200, 1200))  # 11.5 MB each way; seconds of gemm
        task = asyncio.ensure_future(c.gemm(a, a, exec="pool", impl="gonum"))
        while not any(call.held for call in c._pending.values()):  # (not a registration)
            await asyncio.sleep(0.001)
        req_id = next(i for i, call in c._pending.items() if call.held)
        held = [lease.block for lease in c._pending[req_id].held]
        self.assertEqual(len(held), 3)  # a, b and the window
        await asyncio.sleep(0.05)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        gc.collect()
        await asyncio.sleep(0)
        if req_id in c._pending:  # the server's final reply has not come yet
            free = [b for f in c._pool._free.values() for b in f]
            self.assertFalse(any(b in free for b in held))
            # A call now gets other blocks: the server may still read those.
            x = await c.empty(a.shape)
            self.assertNotIn(block_of(c, x), held)
            del x
        await settle(c)  # the final reply (canceled) came
        free = [b for f in c._pool._free.values() for b in f]
        self.assertTrue(all(b in free for b in held))
        np.testing.assert_allclose(await c.gemm(a[:50, :50], a[:50, :50]), a[:50, :50] @ a[:50, :50])

    async def test_cancel_anywhere(self):
        # Cancelled at every stage (registering, copying, sending, waiting):
        # the connection goes on working and no block is lost.
        c = self.c
        x = self.rng.standard_normal(300_000)
        for i, delay in enumerate((0, 0, 0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01) * 2):
            task = asyncio.ensure_future(c.sort(x * (i + 1)))
            if delay:
                await asyncio.sleep(delay)
            else:
                for _ in range(i % 3):
                    await asyncio.sleep(0)
            task.cancel()
            try:
                np.testing.assert_array_equal(await task, np.sort(x * (i + 1)))
            except asyncio.CancelledError:
                pass
        del task  # a task that finished holds its result, a view of a block
        np.testing.assert_array_equal(await c.sort(x), np.sort(x))
        await settle(c)
        stats = c._pool.stats()
        self.assertEqual(stats["free"], stats["regions"])

    async def test_close_while_in_flight(self):
        c = await crunch.connect(UNIX)
        a = self.rng.standard_normal((1000, 1000))
        done = await c.sort(a.reshape(-1))
        task = asyncio.ensure_future(c.gemm(a, a, exec="pool", impl="gonum"))
        while not any(call.held for call in c._pending.values()):
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.02)
        await c.close()
        with self.assertRaises(ConnectionError):
            await task
        self.assertFalse(c._pool.usable)
        gc.collect()
        await asyncio.sleep(0.01)
        self.assertEqual(c._pool.stats()["free"], 0)  # unmapped
        np.testing.assert_array_equal(done, np.sort(a.reshape(-1)))  # results stay
        with self.assertRaises(ConnectionError):
            await c.sort(a.reshape(-1))


@needs_unix
class BlockingThreadsTest(unittest.TestCase):
    def test_threads_share_the_pool(self):
        rng = np.random.default_rng(10)
        xs = [rng.standard_normal(LIMIT * (1 + i % 3)) for i in range(24)]
        with crunch.Client(UNIX) as c:
            def work(x):
                r = c.sort(x)
                ok = np.array_equal(r, np.sort(x)) and c.shares(r)
                return ok
            results = []
            threads = [threading.Thread(target=lambda x=x: results.append(work(x))) for x in xs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [True] * len(xs))


if __name__ == "__main__":
    unittest.main()
