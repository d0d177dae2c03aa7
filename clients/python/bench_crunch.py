"""Time large calls from Python over TCP: what a NumPy user of crunch sees.

One warm connection; for each call the best of --reps round trips, next to
the server's own run time of the kernel (the reply's stats.run_us), so that
what the client and the wire add is plain. Run against a server started
apart (it is the client that is measured):

    bin/crunch serve --addr 127.0.0.1:18080 &
    PYTHONPATH=clients/python /usr/bin/python3 clients/python/bench_crunch.py \\
        --addr 127.0.0.1:18080

By default it uses only the async API, which every version of the client
has, so that the same script measures before and after a change to the
client; --blocking measures crunch.Client. docs/PERFORMANCE.md ("From
Python over TCP") has its figures.
"""

import argparse
import asyncio
import time

import numpy as np

import crunch


def cases(rng):
    """(name, op, args, MB sent, MB received) for each measured call."""
    x7 = rng.standard_normal(10**7)
    a = rng.standard_normal((1024, 1024))
    b = rng.standard_normal((1024, 1024))
    f = rng.standard_normal(2**20)
    return [
        ("stats f64 10^7", "stats", {"x": x7}, 80, 0),
        ("gemm f64 1024x1024", "gemm", {"a": a, "b": b}, 16, 8),
        ("sort f64 10^7", "sort", {"x": x7}, 80, 80),
        ("fft 2^20 real f64", "fft", {"x": f}, 8, 16),
    ]


def measure(call, reps):
    """Print the table's rows. A generator, so that the async and the
    blocking client share it: it yields call(op, args) for each call, and
    is sent back that call's Result (awaited first, for the async client)."""
    rng = np.random.default_rng(1)
    print("| call | MB out / in | best ms | kernel ms (run_us) | best / kernel |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, op, args, out_mb, in_mb in cases(rng):
        yield call(op, args)  # warm: the server's pages, the client's buffers
        best, run_us = float("inf"), 0
        for _ in range(reps):
            start = time.perf_counter()
            r = yield call(op, args)
            took = time.perf_counter() - start
            if took < best:
                best, run_us = took, r.stats["run_us"]
        print(f"| {name} | {out_mb} / {in_mb} | {best * 1e3:.1f} | "
              f"{run_us / 1e3:.1f} | {best * 1e6 / max(run_us, 1):.2f} |")


async def run_async(addr, reps):
    async with crunch.connect(addr) as c:
        steps = measure(c.call, reps)
        try:
            pending = next(steps)
            while True:
                pending = steps.send(await pending)
        except StopIteration:
            pass


def run_blocking(addr, reps):
    with crunch.Client(addr) as c:
        steps = measure(c.call, reps)
        try:
            result = next(steps)
            while True:
                result = steps.send(result)
        except StopIteration:
            pass


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="127.0.0.1:8080")
    p.add_argument("--reps", type=int, default=3, help="round trips per call; the best counts")
    p.add_argument("--blocking", action="store_true",
                   help="use the blocking crunch.Client instead of the async client")
    args = p.parse_args()
    print(f"crunch client: {crunch.__file__}, {'blocking' if args.blocking else 'async'}")
    if args.blocking:
        run_blocking(args.addr, args.reps)
    else:
        asyncio.run(run_async(args.addr, args.reps))
