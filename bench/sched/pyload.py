"""pyload.py ADDR CONNS SECONDS ITERS [EXEC]: CONNS connections, each
keeping one modsum job of ITERS iterations in flight on EXEC (default pool)
for SECONDS (a load generator in a process and, started with setsid, a
session of its own)."""
import asyncio
import sys
import time

import crunch


async def worker(addr, until, iters, exec_):
    async with crunch.connect(addr) as c:
        while time.monotonic() < until:
            await c.modsum(1_000_003, iters, exec=exec_, impl="c", timeout_ms=60000)


async def main():
    addr, conns, secs, iters = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    exec_ = sys.argv[5] if len(sys.argv) > 5 else "pool"
    until = time.monotonic() + secs
    await asyncio.gather(*(worker(addr, until, iters, exec_) for _ in range(conns)))


asyncio.run(main())
