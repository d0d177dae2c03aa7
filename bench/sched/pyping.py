"""pyping.py ADDR DELAY SECONDS: after DELAY s, pings every 10 ms for
SECONDS with the crunch package's AsyncClient, and prints the round trip's
p50/p99/max in ms, split at the reply's server_time_ns into up (client to
the server's handling of the ping) and down (from there back to the
client); both clocks are this machine's CLOCK_REALTIME."""
import asyncio
import os
import sys
import time

import crunch


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


async def main():
    addr, delay, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    rtts, up, down = [], [], []
    async with crunch.connect(addr) as c:
        await asyncio.sleep(delay)
        until = time.monotonic() + secs
        due = time.monotonic()
        while time.monotonic() < until:
            t0, p0 = time.time_ns(), time.perf_counter()
            r = await c.call("ping")
            p1, t1 = time.perf_counter(), time.time_ns()
            rtts.append((p1 - p0) * 1e3)
            up.append((r["server_time_ns"] - t0) / 1e6)
            down.append((t1 - r["server_time_ns"]) / 1e6)
            due += 0.01
            await asyncio.sleep(max(0, due - time.monotonic()))
    ag = open("/proc/self/autogroup").read().strip() if os.path.exists("/proc/self/autogroup") else "-"
    print(f"{os.environ.get('TAG', 'ping')}: n={len(rtts)} rtt p50 {q(rtts, .5):.2f} p99 {q(rtts, .99):.2f} "
          f"max {max(rtts):.2f} | up p50 {q(up, .5):.2f} p99 {q(up, .99):.2f} | "
          f"down p50 {q(down, .5):.2f} p99 {q(down, .99):.2f} ms ({ag})")


asyncio.run(main())
