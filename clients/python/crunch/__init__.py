"""crunch: the Python client of the crunch compute service.

NumPy arrays go to the server in binary WebSocket messages and come back
as NumPy arrays; a failed call raises CrunchError carrying the protocol's
error code. Depends only on numpy and websockets (Debian: python3-numpy,
python3-websockets). The protocol is docs/PROTOCOL.md in the crunch
repository.

In scripts and notebooks (Jupyter too), the blocking Client:

    import numpy as np, crunch

    with crunch.Client("127.0.0.1:8080") as c:
        a = np.random.rand(256, 256)
        prod = c.gemm(a, a)                           # np.ndarray
        s = c.stats(a, ddof=1)                        # dict: count, sum, mean, ...

With asyncio, connect() gives an AsyncClient with the same methods as
coroutines, and many calls in flight on one connection:

    import asyncio, numpy as np, crunch

    async def main():
        async with crunch.connect("127.0.0.1:8080") as c:
            a = np.random.rand(256, 256)
            prod = await c.gemm(a, a)                 # np.ndarray
            many = await asyncio.gather(*(c.modsum(n) for n in range(8)))
            s = await c.stats(a, ddof=1)              # dict: count, sum, mean, ...

    asyncio.run(main())

On the server's own machine, over its Unix socket ("unix:/path/to/socket",
crunch serve --unix), arrays of 64 KiB or more travel through shared
memory, results come back as views of it, and c.empty(shape, dtype) /
c.zeros(...) allocate arrays there that are sent without any copy:

    with crunch.Client("unix:/tmp/crunch.sock") as c:
        a = c.empty((2048, 2048))
        a[:] = np.random.rand(2048, 2048)
        prod = c.gemm(a, a)                           # a view of shared memory
"""

from ._aio import AsyncClient, Pending, connect
from ._blocking import Client, PendingCall
from ._reply import CrunchError, Result

__version__ = "0.1.0"

__all__ = ["Client", "PendingCall", "connect", "AsyncClient", "Pending", "CrunchError", "Result"]