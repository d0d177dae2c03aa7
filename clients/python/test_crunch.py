"""Tests of the crunch package against a running server (CRUNCH_ADDR, default
127.0.0.1:8080): every op the server has, on every executor, checked
against NumPy's own result; errors; many calls in flight; cancel.

    CRUNCH_ADDR=127.0.0.1:8080 python3 -m unittest -v test_crunch

`go test ./clients/python` starts a server and runs this file.
"""

import asyncio
import os
import unittest

import numpy as np

import crunch

ADDR = os.environ.get("CRUNCH_ADDR", "127.0.0.1:8080")
EXECS = ("direct", "pool", "subprocess")


def modsum_ref(n, iters):
    i = np.arange(iters, dtype=object)
    return int(sum((i * n) % 97))


class ClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.c = await crunch.connect(ADDR)
        info = await self.c.info()
        self.ops = {op["name"] for op in info["ops"]}
        self.rng = np.random.default_rng(7)

    async def asyncTearDown(self):
        await self.c.close()

    def need(self, op):
        if op not in self.ops:
            self.skipTest(f"this server has no {op}")

    async def test_ping_and_info(self):
        self.assertLess(await self.c.ping(), 5.0)
        info = await self.c.info()
        self.assertIn("modsum", self.ops)
        self.assertIn("executors", info)

    async def test_modsum(self):
        for ex in EXECS:
            for n in (0, 7, -3, 1000003):
                got = await self.c.modsum(n, 1000, exec=ex)
                self.assertEqual(got, modsum_ref(n, 1000), (ex, n))

    async def test_gemm(self):
        for dt, tol in ((np.float64, 1e-12), (np.float32, 1e-4)):
            # 300 x 400 f64 is large enough for the server to send in
            # several WebSocket frames.
            for m, k, n in ((1, 1, 1), (3, 5, 7), (64, 33, 17), (300, 200, 400)):
                a = self.rng.standard_normal((m, k)).astype(dt)
                b = self.rng.standard_normal((k, n)).astype(dt)
                for ex in EXECS:
                    got = await self.c.gemm(a, b, exec=ex)
                    self.assertEqual(got.dtype, dt)
                    np.testing.assert_allclose(got, a @ b, rtol=tol, atol=tol * k)
        a = self.rng.standard_normal((4, 3))
        b = self.rng.standard_normal((5, 4))
        c = self.rng.standard_normal((3, 5))
        got = await self.c.gemm(a, b, c, alpha=2, beta=-1, trans_a=True, trans_b=True)
        np.testing.assert_allclose(got, 2 * a.T @ b.T - c, rtol=1e-12)

    async def test_fft(self):
        self.need("fft")
        for n in (1, 2, 7, 64, 97, 1000):
            x = self.rng.standard_normal(n) + 1j * self.rng.standard_normal(n)
            for ex in EXECS:
                got = await self.c.fft(x, exec=ex)
                np.testing.assert_allclose(got, np.fft.fft(x), atol=1e-9 * n)
            for norm in ("backward", "ortho", "forward"):
                got = await self.c.fft(x, inverse=True, norm=norm)
                np.testing.assert_allclose(got, np.fft.ifft(x, norm=norm), atol=1e-9 * n)
        x32 = self.rng.standard_normal((3, 16)).astype(np.complex64)
        got = await self.c.fft(x32)
        self.assertEqual(got.dtype, np.complex64)
        np.testing.assert_allclose(got, np.fft.fft(x32), atol=1e-4)
        real = self.rng.standard_normal(12)
        np.testing.assert_allclose(await self.c.fft(real), np.fft.fft(real), atol=1e-12)

    async def test_conv2d(self):
        self.need("conv2d")
        image = self.rng.standard_normal((13, 17))
        for kh, kw in ((1, 1), (3, 3), (5, 2), (20, 20)):
            kernel = self.rng.standard_normal((kh, kw))
            full = np.zeros((13 + kh - 1, 17 + kw - 1))
            for i in range(kh):
                for j in range(kw):
                    full[i:i + 13, j:j + 17] += kernel[i, j] * image
            want = {
                "full": full,
                "same": full[(kh - 1) // 2:(kh - 1) // 2 + 13, (kw - 1) // 2:(kw - 1) // 2 + 17],
                "valid": full[kh - 1:13, kw - 1:17] if kh <= 13 and kw <= 17 else np.zeros((max(13 - kh + 1, 0), max(17 - kw + 1, 0))),
            }
            for mode, w in want.items():
                got = await self.c.conv2d(image, kernel, mode=mode)
                self.assertEqual(got.shape, w.shape, (kh, kw, mode))
                np.testing.assert_allclose(got, w, atol=1e-10)

    async def test_stats(self):
        self.need("stats")
        x = self.rng.standard_normal((100, 37))
        for ex in EXECS:
            s = await self.c.stats(x, ddof=1, exec=ex)
            self.assertEqual(s["count"], x.size)
            for key, want in (("sum", x.sum()), ("mean", x.mean()), ("var", x.var(ddof=1)),
                              ("std", x.std(ddof=1)), ("min", x.min()), ("max", x.max())):
                self.assertAlmostEqual(s[key], want, places=10, msg=(ex, key))
        with_nan = np.array([1.0, np.nan, 3.0])
        s = await self.c.stats(with_nan)
        self.assertTrue(np.isnan(s["mean"]) and np.isnan(s["max"]))

    async def test_sort(self):
        self.need("sort")
        for dt in (np.int32, np.int64, np.uint32, np.float32, np.float64):
            x = (self.rng.standard_normal(1001) * 1000).astype(dt)
            for ex in EXECS:
                got = await self.c.sort(x, exec=ex)
                np.testing.assert_array_equal(got, np.sort(x))
            got = await self.c.sort(x, descending=True)
            np.testing.assert_array_equal(got, np.sort(x)[::-1])
        x = np.array([3.0, np.nan, -0.0, 0.0, -np.inf, 1.0])
        got = await self.c.sort(x)
        np.testing.assert_array_equal(got, np.sort(x))  # NumPy too puts NaN last
        self.assertTrue(np.signbit(got[1]) and not np.signbit(got[2]))  # -0 before +0

    async def test_solve(self):
        self.need("solve")
        for n in (1, 5, 64):
            a = self.rng.standard_normal((n, n)) + n * np.eye(n)
            for b in (self.rng.standard_normal(n), self.rng.standard_normal((n, 3))):
                got = await self.c.solve(a, b)
                np.testing.assert_allclose(got, np.linalg.solve(a, b), rtol=1e-9, atol=1e-12)
        with self.assertRaises(crunch.CrunchError) as cm:
            await self.c.solve(np.ones((3, 3)), np.ones(3))
        self.assertEqual(cm.exception.code, "numerical")

    async def test_mandelbrot(self):
        self.need("mandelbrot")
        w, h, it = 31, 17, 64
        got = await self.c.mandelbrot(w, h, -2, 1, -1.5, 1.5, it)
        self.assertEqual((got.shape, got.dtype), ((h, w), np.uint32))
        want = np.empty((h, w), dtype=np.uint32)
        for r in range(h):
            for j in range(w):
                c = complex(-2 + 3 * j / w, -1.5 + 3 * r / h)
                z, k = 0j, 0
                while k < it:
                    z = z * z + c
                    k += 1
                    if z.real * z.real + z.imag * z.imag > 4:
                        break
                want[r, j] = k
        # escape counts can differ at the boundary by a rounding: allow a few
        self.assertLessEqual(int((got != want).sum()), 3)

    async def test_errors(self):
        with self.assertRaises(crunch.CrunchError) as cm:
            await self.c.call("no_such_op")
        self.assertEqual(cm.exception.code, "not_found")
        # an exec or impl the server or the op lacks: not_found too
        for opts in ({"exec": "gpu"}, {"impl": "fortran"}, {"impl": "gonum"}):
            with self.assertRaises(crunch.CrunchError, msg=str(opts)) as cm:
                await self.c.modsum(3, 10, **opts)
            self.assertEqual(cm.exception.code, "not_found", opts)
        with self.assertRaises(crunch.CrunchError) as cm:
            await self.c.gemm(np.ones((2, 3)), np.ones((4, 2)))
        self.assertEqual(cm.exception.code, "invalid_argument")
        with self.assertRaises(crunch.CrunchError) as cm:
            await self.c.modsum(3, 10**15, timeout_ms=50)
        self.assertEqual(cm.exception.code, "deadline_exceeded")
        self.assertEqual(await self.c.modsum(3, 10), modsum_ref(3, 10))  # still serving

    async def test_threads(self):
        # threads changes the speed, never the result: the same bits on
        # one thread and two (600^3 multiply-adds: above gemm's parallel
        # threshold). The server's own tests compare every parallel
        # executor; here the option is what is tested.
        a = self.rng.standard_normal((600, 600))
        b = self.rng.standard_normal((600, 600))
        one = await self.c.gemm(a, b, exec="pool", impl="c", threads=1)
        two = await self.c.gemm(a, b, exec="pool", impl="c", threads=2)
        self.assertEqual(one.tobytes(), two.tobytes())
        for ex in EXECS:
            r = await self.c.call("modsum", {"n": 3, "iters": 1000}, exec=ex, threads=2)
            self.assertEqual(r["total"], modsum_ref(3, 1000), ex)
        # The client checks nothing: the server refuses threads 0.
        with self.assertRaises(crunch.CrunchError) as cm:
            await self.c.modsum(3, 10, threads=0)
        self.assertEqual(cm.exception.code, "invalid_argument")

    async def test_many_in_flight(self):
        ns = list(range(-50, 50))
        got = await asyncio.gather(*(self.c.modsum(n, 2000, exec=EXECS[n % 3]) for n in ns))
        self.assertEqual(got, [modsum_ref(n, 2000) for n in ns])

    async def test_replies_straight_from_the_reading_task(self):
        # Replies, small and large, go from the task that reads the socket
        # to their callers; nothing waits in websockets' queue.
        ws = self.c._ws
        self.assertIsNotNone(ws.on_message)
        x = self.rng.standard_normal(300_001)
        got = await asyncio.gather(self.c.ping(), self.c.sort(x), self.c.modsum(3, 1000))
        np.testing.assert_array_equal(got[1], np.sort(x))
        self.assertEqual(got[2], modsum_ref(3, 1000))
        self.assertEqual(len(ws.messages), 0)

        # A delivery that fails ends the connection: the calls in flight
        # fail instead of waiting for ever.
        def broken(msg):
            raise RuntimeError("delivery broken")
        ws.on_message = broken
        with self.assertRaises(ConnectionError):
            await asyncio.wait_for(self.c.ping(), 10)

    async def test_cancel_and_progress(self):
        seen = []
        pending = await self.c.start("modsum", {"n": 3, "iters": 10**15}, exec="pool",
                                     progress=seen.append)
        await asyncio.sleep(0.35)
        self.assertTrue(await self.c.cancel(pending.id))
        with self.assertRaises(crunch.CrunchError) as cm:
            await pending
        self.assertEqual(cm.exception.code, "canceled")
        self.assertTrue(seen and all(0 <= f <= 1 for f in seen), seen)

    async def test_cancelled_call_is_cancelled_on_server(self):
        info = await self.c.info()
        pool = next(e["slots"] for e in info["executors"] if e["name"] == "pool")
        for _ in range(pool):  # as many calls as the pool has workers
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(self.c.modsum(3, 10**15, exec="pool"), 0.3)
        # Had the abandoned calls gone on, every pool worker would be busy.
        got = await self.c.modsum(3, 1000, exec="pool", timeout_ms=10_000)
        self.assertEqual(got, modsum_ref(3, 1000))

    async def test_large_arrays(self):
        # Tens of MB each way: sent in many frames straight from the arrays,
        # received straight into the results' memory; several at once.
        self.need("sort")
        x = self.rng.standard_normal(3_000_001)
        got = await self.c.sort(x)
        np.testing.assert_array_equal(got, np.sort(x))
        self.assertTrue(got.flags.writeable and got.flags.aligned)
        # Not copied after it arrived: a view of the buffer it was read into.
        self.assertFalse(got.flags.owndata)
        a = self.rng.standard_normal((700, 900))
        b = self.rng.standard_normal((900, 500))
        z = self.rng.standard_normal((4, 2**18)) + 1j
        prods = await asyncio.gather(*(self.c.gemm(a, b, exec=ex) for ex in EXECS),
                                     self.c.fft(z), self.c.stats(x))
        for p in prods[:3]:
            np.testing.assert_allclose(p, a @ b, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(prods[3], np.fft.fft(z), rtol=1e-9, atol=1e-7)
        self.assertEqual(prods[4]["count"], x.size)

    async def test_cancel_while_sending(self):
        # A call cancelled halfway through sending a large message lets the
        # message finish (a half-sent one would break the connection).
        x = self.rng.standard_normal(4_000_000)  # 32 MB: dozens of frames
        for _ in range(3):
            task = asyncio.ensure_future(self.c.stats(x))
            await asyncio.sleep(0.001)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
        self.assertEqual(await self.c.modsum(3, 10), modsum_ref(3, 10))
        self.assertEqual((await self.c.stats(x[:10]))["count"], 10)

    async def test_text_form(self):
        r = await self.c.call("modsum", {"n": 5, "iters": 100}, binary=False)
        self.assertEqual(r["total"], modsum_ref(5, 100))
        self.assertEqual(r.stats["impl"], "c")


if __name__ == "__main__":
    unittest.main()
