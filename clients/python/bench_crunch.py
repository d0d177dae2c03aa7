"""Time large calls from Python, beside NumPy doing the same in-process.

What a NumPy user of crunch sees: for each call, NumPy's own function timed
right before it in this process, then the call over each --addr (a warm
connection each), best of --reps each, every timing after a short pause
(so that memory the server just gave back does not slow NumPy's threads,
and OpenBLAS's threads, which spin after a call, do not take the CPUs
from the server's); beside every
round trip the server's own run time of the kernel (the reply's
stats.run_us), and the allowance "run_us + 0.5 ms + one memcpy of the
call's inputs" (the memcpy timed here, np.copyto into memory already
touched), which a call over the Unix socket should stay within. Over a
"unix:PATH" address it also times the call with its inputs allocated in
shared memory up front (AsyncClient.empty), which needs no copy at all.

    bin/crunch serve --addr 127.0.0.1:18080 --unix /tmp/crunch-bench.sock &
    PYTHONPATH=clients/python /usr/bin/python3 clients/python/bench_crunch.py \\
        --addr unix:/tmp/crunch-bench.sock --addr 127.0.0.1:18080

--blocking uses crunch.Client instead of the async client. With one
--addr host:port it measures what the first version of this script did.
docs/PERFORMANCE.md has its figures ("From Python over TCP"; "From Python
on the same machine: shared memory, beside NumPy").
"""

import argparse
import asyncio
import os
import time

import numpy as np

import crunch


def cases(rng):
    """(name, op, args, NumPy's equivalent, target over a Unix socket:
    crunch / NumPy at most, target over TCP: (took_ms, run_ms) -> the
    target's text when missed, else "")."""
    x7 = rng.standard_normal(10**7)
    a = rng.standard_normal((1024, 1024))
    f = rng.standard_normal(2**20)
    return [
        ("stats f64 10^7", "stats", {"x": x7},
         lambda: (x7.mean(), x7.std(), x7.min(), x7.max()), 1.0,
         lambda took, run: "" if took <= 200 else " (TCP target ≤ 200 ms)"),
        ("sort f64 10^7", "sort", {"x": x7}, lambda: np.sort(x7), 0.5, None),
        ("fft 2^20 real f64", "fft", {"x": f}, lambda: np.fft.fft(f), 1.0, None),
        ("gemm f64 1024", "gemm", {"a": a, "b": a}, lambda: a @ a, 2.2,
         lambda took, run: "" if took <= 2 * run else " (TCP target ≤ 2 × kernel)"),
    ]


class Conn:
    """One warm connection, through the async client or the blocking one,
    as coroutines either way (the blocking client's calls simply block)."""

    def __init__(self, addr, blocking):
        self.addr, self.blocking, self.c = addr, blocking, None

    async def open(self):
        self.c = crunch.Client(self.addr) if self.blocking else await crunch.connect(self.addr)
        return self

    async def call(self, op, args):
        return self.c.call(op, args) if self.blocking else await self.c.call(op, args)

    async def empty(self, shape, dtype):
        return self.c.empty(shape, dtype) if self.blocking else await self.c.empty(shape, dtype)

    def shares(self, a):
        return self.c.shares(a)

    async def close(self):
        if self.blocking:
            self.c.close()
        else:
            await self.c.close()


def memcpy_ms(args):
    """One copy of the arrays in args, into memory already touched: the
    best of five, in ms."""
    dsts = {k: np.empty_like(v) for k, v in args.items()}
    for k, v in args.items():
        np.copyto(dsts[k], v)  # touch
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for k, v in args.items():
            np.copyto(dsts[k], v)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def openblas():
    """Which BLAS NumPy runs: the OpenBLAS kernel, as threadpoolctl reports
    it, or else the BLAS libraries this process has loaded (Debian's numpy
    runs the reference BLAS when no OpenBLAS is installed)."""
    np.ones((2, 2)) @ np.ones((2, 2))  # load it
    try:
        from threadpoolctl import threadpool_info
        libs = [f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
                f"{i.get('num_threads')} threads" for i in threadpool_info()
                if i.get("user_api") == "blas"]
    except ImportError:
        libs = ["threadpoolctl not installed: kernel not reported"]
    if libs:
        return "; ".join(libs)
    with open("/proc/self/maps") as maps:
        loaded = sorted({line.split()[-1] for line in maps if "blas" in line})
    return "threadpoolctl finds none; loaded: " + ", ".join(loaded)


async def measure(addrs, reps, blocking, pause):
    rng = np.random.default_rng(1)
    conns = [await Conn(a, blocking).open() for a in addrs]
    try:
        print(f"| call | via | best ms | / NumPy | kernel ms (run_us) | best − kernel ms "
              f"| allowance ms | within |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for name, op, args, numpy_fn, target, tcp_target in cases(rng):
            # Ways to call: each address with the arrays as they are, and
            # over a Unix socket with the inputs in shared memory as well.
            ways = []
            for conn in conns:
                ways.append((conn.addr, conn, args))
                if conn.addr.startswith("unix:"):
                    shared = {}
                    for k, v in args.items():
                        shared[k] = await conn.empty(v.shape, v.dtype)
                        shared[k][...] = v
                    if all(conn.shares(v) for v in shared.values()):
                        ways.append((conn.addr + ", inputs in shm", conn, shared))
            allowance = memcpy_ms(args) + 0.5
            for _, conn, a in ways:
                await conn.call(op, a)  # warm: the server's pages, the client's blocks
            numpy_best = float("inf")
            best = {w[0]: (float("inf"), 0) for w in ways}
            for _ in range(reps):
                time.sleep(pause)
                start = time.perf_counter()
                numpy_fn()
                numpy_best = min(numpy_best, time.perf_counter() - start)
                for label, conn, a in ways:
                    # OpenBLAS's threads spin for a while after a call, at
                    # normal priority: the server's compute threads (below
                    # normal by default) would get what they leave.
                    time.sleep(pause)
                    start = time.perf_counter()
                    r = await conn.call(op, a)
                    took = time.perf_counter() - start
                    if took < best[label][0]:
                        best[label] = (took, r.stats["run_us"])
                    del r  # its blocks back to the pool before the next call
            print(f"| {name} | NumPy in-process | {numpy_best * 1e3:.1f} | 1 | | | | |")
            for label, _, _ in ways:
                took, run_us = best[label]
                over = took * 1e3 - run_us / 1e3
                within = "yes" if over <= allowance else "no"
                ratio = took / numpy_best
                # The NumPy ratios are targets for the same machine's Unix
                # socket; over TCP the targets are of other kinds, or none.
                if label.startswith("unix:"):
                    mark = "" if ratio <= target else " (target ≤ %.1f)" % target
                else:
                    mark = tcp_target(took * 1e3, run_us / 1e3) if tcp_target else ""
                print(f"| {name} | {label} | {took * 1e3:.1f} | {ratio:.2f}{mark} | "
                      f"{run_us / 1e3:.1f} | {over:.1f} | {allowance:.1f} | {within} |")
    finally:
        for conn in conns:
            await conn.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", action="append",
                   help="a server: host:port or unix:PATH; repeat to compare (default 127.0.0.1:8080)")
    p.add_argument("--reps", type=int, default=3, help="round trips per call; the best counts")
    p.add_argument("--pause", type=float, default=0.2,
                   help="seconds to wait before each timing")
    p.add_argument("--blocking", action="store_true",
                   help="use the blocking crunch.Client instead of the async client")
    args = p.parse_args()
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    print(f"crunch client: {crunch.__file__}, {'blocking' if args.blocking else 'async'}; "
          f"NumPy {np.__version__}; load average {os.getloadavg()[0]:.1f}")
    print(f"OpenBLAS: {openblas()}; environment: {env or 'no OPENBLAS_* variables'}")
    asyncio.run(measure(args.addr or ["127.0.0.1:8080"], args.reps, args.blocking, args.pause))
