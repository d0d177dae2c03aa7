"""Round trips of small calls from Python: the blocking client beside the
async one, on one server.

For calls this small what a round trip costs is the client's and the
server's fixed costs (wake-ups, framing, Python), not the kernel's. Each
round times every case --calls times back to back on a warm connection of
each client, the clients alternating: the blocking client from a plain
script, the async one, and the blocking one again from a thread whose
event loop runs (a Jupyter cell's); the figure is the median of the
rounds' medians, in microseconds.

    bin/crunch serve --addr 127.0.0.1:18080 --unix /tmp/crunch-bench.sock &
    PYTHONPATH=clients/python /usr/bin/python3 clients/python/bench_small.py \\
        --addr unix:/tmp/crunch-bench.sock

docs/PERFORMANCE.md has its figures ("The blocking client runs its loop
on the caller's thread").
"""

import argparse
import asyncio
import statistics
import time

import numpy as np

import crunch

X = np.ones(1000)

# (name, call): call(client) is one round trip, awaited or not.
CASES = [
    ("ping", lambda c: c.ping()),
    ("stats f64 1000", lambda c: c.stats(X)),
    ("modsum 1000", lambda c: c.modsum(3, 1000)),
]


def time_blocking(c, call, n):
    """The median of n round trips through the blocking client, in µs."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call(c)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


async def time_async(c, call, n):
    """The median of n round trips through the async client, in µs."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await call(c)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


async def in_a_running_loop(c, call, n):
    """time_blocking from a thread whose event loop runs, as a Jupyter
    cell's does: the client's own thread runs its loop for the call."""
    return time_blocking(c, call, n)


def measure(addr, rounds, calls, warm):
    got = {}  # (case, client) -> the rounds' medians
    loop = asyncio.new_event_loop()  # the async client's, run only while it is timed
    blocking = crunch.Client(addr)
    aio = loop.run_until_complete(crunch.connect(addr))
    clients = [
        ("blocking", lambda call, n: time_blocking(blocking, call, n)),
        ("async", lambda call, n: loop.run_until_complete(time_async(aio, call, n))),
        ("blocking, in a running loop",
         lambda call, n: loop.run_until_complete(in_a_running_loop(blocking, call, n))),
    ]
    try:
        for _ in range(rounds):
            for name, call in CASES:
                for client, timed in clients:
                    timed(call, warm)
                    got.setdefault((name, client), []).append(timed(call, calls))
    finally:
        blocking.close()
        loop.run_until_complete(aio.close())
        loop.close()
    print(f"{'call':16} {'client':28} {'median µs':>10}  rounds")
    for (name, client), medians in got.items():
        rounds_text = " ".join(f"{m:.0f}" for m in medians)
        print(f"{name:16} {client:28} {statistics.median(medians):10.1f}  {rounds_text}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--addr", default="127.0.0.1:8080", help="the server (host:port or unix:PATH)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--calls", type=int, default=200, help="timed round trips per case and round")
    p.add_argument("--warm", type=int, default=30, help="untimed round trips before them")
    a = p.parse_args()
    measure(a.addr, a.rounds, a.calls, a.warm)


if __name__ == "__main__":
    main()
