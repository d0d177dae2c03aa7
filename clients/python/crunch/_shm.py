"""Shared memory with a crunch server on the same machine: a connection's
pool of regions.

Over the server's Unix socket (docs/PROTOCOL.md, "Shared memory on the same
machine") an array can lie in memory that both processes map: a memfd the
client creates, seals against shrinking and growing (so that the server may
map it without fear of it shrinking under a running kernel), and hands over
with SCM_RIGHTS. Then the request names the array's place instead of
carrying its bytes, and the server writes results into a window of such
memory instead of sending them.

Creating, registering and first touching a region costs far more than
using one (a 128 MiB region is 32768 page faults, here and in the server),
so regions are blocks of power-of-two sizes from MIN_BLOCK, kept registered
and reused from call to call, a few of each size kept free.

Who may use a block is decided by a Lease: every array that lies in a block
(an argument copied there, a result the server wrote there, an array from
AsyncClient.empty) is a view whose .base chain keeps the block's Lease
alive, and a request in flight holds the Leases of the blocks it uses. When
the last of them is garbage, the Lease's finalizer gives the block back to
the pool. So a result stays valid as long as the array does, and a block is
never handed out again while the server may still read or write it.

Everything here runs on the connection's event loop except the finalizer,
which may run in any thread (the blocking Client's caller drops results
in its own, whether or not it runs the loop then) and therefore only
schedules the return of the block on the loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import math
import mmap
import os
import weakref
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["MIN_BLOCK", "THRESHOLD", "Block", "Lease", "Pool", "create_memfd", "block_size"]

# Arrays from this size travel through shared memory; smaller ones cost
# less in the message than a block's bookkeeping (the Go client agrees).
THRESHOLD = 64 << 10

# The smallest block, and the unit of the power-of-two sizes.
MIN_BLOCK = 64 << 10

# Free blocks kept registered for later calls: at most KEEP_FREE of one
# size and FREE_BYTES in all; blocks given back beyond that are
# unregistered and unmapped.
KEEP_FREE = 4
FREE_BYTES = 1 << 30

# The seals a region needs (docs/PROTOCOL.md); F_SEAL_SEAL too, so that
# nothing can change them later. Python names them from 3.8 on Linux.
SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL

Register = Callable[[int], Awaitable[Tuple[int, int]]]  # memfd -> (region, size)
Unregister = Callable[[int], Awaitable[None]]  # region -> None


def block_size(nbytes: int) -> int:
    """The block size that holds nbytes: a power of two, MIN_BLOCK at least."""
    return max(MIN_BLOCK, 1 << max(nbytes - 1, 0).bit_length())


def create_memfd(size: int, name: str = "crunch") -> int:
    """A new memfd of size bytes, sealed against shrinking and growing, as
    a server maps one. The caller owns (and closes) the descriptor."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Block:
    """One region: size bytes of a memfd mapped here (MAP_SHARED) and
    registered with the server as region. lease is a weak reference to the
    Lease that holds it, None while it is free."""

    __slots__ = ("region", "size", "address", "lease", "_mm", "_mem")

    def __init__(self, fd: int, size: int) -> None:
        self._mm: Optional[mmap.mmap] = mmap.mmap(fd, size)  # shared, read-write
        # The mapping's one export: where its bytes are, for the views
        # Leases make (which point to memory, not to the mmap object).
        self._mem: Optional[np.ndarray] = np.frombuffer(self._mm, np.uint8)
        self.address = int(self._mem.ctypes.data)
        self.size = size
        self.region = 0
        self.lease: "Optional[weakref.ReferenceType[Lease]]" = None

    def holds(self, address: int, nbytes: int) -> bool:
        """Whether [address, address+nbytes) lies inside this block."""
        return self.address <= address and address + nbytes <= self.address + self.size

    def close(self) -> None:
        """Unmap the block here; nothing may use its memory afterwards."""
        self._mem = None
        if self._mm is not None:
            self._mm.close()
            self._mm = None


class Lease:
    """The right to use one block, until this object is garbage.

    It exposes the whole block through __array_interface__, so that
    np.asarray(lease) is a uint8 array whose base is the lease: every view
    made from it (see view) keeps the lease alive, and with it the block
    out of the pool."""

    __slots__ = ("block", "__array_interface__", "__weakref__")

    def __init__(self, block: Block) -> None:
        self.block = block
        self.__array_interface__ = {"version": 3, "shape": (block.size,), "typestr": "|u1",
                                    "data": (block.address, False)}

    @property
    def region(self) -> int:
        return self.block.region

    @property
    def size(self) -> int:
        return self.block.size

    def view(self, offset: int, dtype: np.dtype, shape: Tuple[int, ...]) -> np.ndarray:
        """The array of dtype and shape at offset in the block (C order),
        writable, a view that keeps this lease alive."""
        n = math.prod(shape) * dtype.itemsize
        if offset < 0 or n < 0 or offset + n > self.block.size:
            raise ValueError(f"crunch: bytes [{offset}, {offset}+{n}) lie outside region "
                             f"{self.block.region} of {self.block.size} bytes")
        return np.asarray(self)[offset:offset + n].view(dtype).reshape(shape)


class Pool:
    """A connection's regions: blocks registered with the server, leased
    to requests and arrays, given back when their Lease is garbage.

    register sends a memfd to the server as a new region (raising the
    server's CrunchError when refused); unregister tells it to forget one.
    max_regions and max_bytes are the server's limits for the connection
    (info's "shm"); the pool stays within them, evicting free blocks to
    make room, and leases nothing when it cannot (the caller then sends the
    array in the message).
    """

    def __init__(self, register: Register, unregister: Unregister,
                 max_regions: int, max_bytes: int) -> None:
        self._register, self._unregister = register, unregister
        self.max_regions, self.max_bytes = max_regions, max_bytes
        self._loop = asyncio.get_running_loop()
        self._blocks: Dict[int, Block] = {}  # registered, by region
        self._free: Dict[int, List[Block]] = {}  # by size, most recently freed last
        self._free_bytes = 0
        self._regions = 0  # registered or being registered
        self._bytes = 0
        self._closed = False
        self._broken: Optional[BaseException] = None  # why shared memory cannot work here
        self._background: "set[asyncio.Task[None]]" = set()
        self._self_ref = weakref.ref(self)

    @property
    def usable(self) -> bool:
        """False once closed, or once shared memory turned out not to work
        on this machine or connection (then every array goes in messages)."""
        return not self._closed and self._broken is None

    def stats(self) -> Dict[str, int]:
        """Blocks registered, free, and bytes registered: for tests and
        curiosity."""
        return {"regions": len(self._blocks), "free": sum(len(f) for f in self._free.values()),
                "bytes": sum(b.size for b in self._blocks.values())}

    async def lease(self, nbytes: int) -> Optional[Lease]:
        """A lease on a block of at least nbytes: a free one, or a new one
        registered now. None when the server's limits (or a refusal, or
        this machine) leave none to have."""
        if not self.usable:
            return None
        size = block_size(nbytes)
        for attempt in range(2):
            free = self._free.get(size)
            if free:
                self._free_bytes -= size
                return self._lease(free.pop())
            if attempt == 0:
                # A block whose last array just went (a result dropped right
                # before this call) comes back through the loop: let it, as
                # a new block costs a registration and all its page faults.
                await asyncio.sleep(0)
        if not self.usable or size > self.max_bytes:
            return None  # (rather than evict every free block in vain)
        if not await self._make_room(size):
            return None
        self._regions += 1
        self._bytes += size
        task = asyncio.ensure_future(self._new_block(size))
        try:
            block = await asyncio.shield(task)
        except asyncio.CancelledError:
            # The registration goes on: its block, if any, is the pool's.
            task.add_done_callback(self._adopt)
            raise
        return None if block is None else self._lease(block)

    def find(self, a: np.ndarray) -> Optional[Tuple[Lease, int]]:
        """The lease and offset of the block that holds a's bytes, if they
        lie in one of this pool's leased blocks (an array from empty(), a
        result, or a view of one)."""
        if not self._blocks or a.nbytes == 0:
            return None
        address = int(a.__array_interface__["data"][0])
        for block in self._blocks.values():
            if block.holds(address, a.nbytes) and block.lease is not None:
                lease = block.lease()
                if lease is not None:
                    return lease, address - block.address
        return None

    def resolve(self, region: int, offset: int, dtype: np.dtype, shape: Tuple[int, ...]) -> np.ndarray:
        """A result tensor the server wrote at offset in region: a view that
        keeps the block's lease (the request's window) alive."""
        block = self._blocks.get(region)
        lease = block.lease() if block is not None and block.lease is not None else None
        if lease is None:
            raise ValueError(f"crunch: a result in region {region}, which no request of this "
                             "connection holds")
        return lease.view(offset, dtype, shape)

    def close(self) -> None:
        """Unmap every free block (the server unmaps its side when the
        connection ends). Leased blocks are unmapped when their leases
        end: results and arrays from empty() stay valid after close."""
        self._closed = True
        for free in self._free.values():
            for block in free:
                self._blocks.pop(block.region, None)
                block.close()
        self._free.clear()
        self._free_bytes = 0

    # -- inside ---------------------------------------------------------

    def _lease(self, block: Block) -> Lease:
        lease = Lease(block)
        block.lease = weakref.ref(lease)
        fin = weakref.finalize(lease, _released, self._loop, self._self_ref, block)
        fin.atexit = False  # at exit the process takes the memory with it
        return lease

    async def _new_block(self, size: int) -> Optional[Block]:
        """Create, map and register a block of size bytes (counted in
        _regions and _bytes already); None if that failed."""
        try:
            fd = create_memfd(size)
        except OSError:  # no memfd here (an old kernel, a sandbox), or no memory
            self._uncount(size)
            return None
        try:
            try:
                block = Block(fd, size)
            except OSError:
                self._uncount(size)
                return None
            try:
                region, _ = await self._register(fd)
            except BaseException as exc:
                self._uncount(size)
                block.close()
                code = getattr(exc, "code", None)  # a CrunchError's
                if code == "too_large":
                    return None  # the server's limits: this call goes in the message
                if code is not None:
                    self._broken = exc  # refused for good (invalid_argument)
                    return None
                raise  # the connection failed, or a cancel: the call fails too
        finally:
            os.close(fd)  # the mappings, here and in the server, keep the memory
        block.region = region
        self._blocks[region] = block
        if self._closed:
            self._discard(block)
            return None
        return block

    def _adopt(self, task: "asyncio.Future[Optional[Block]]") -> None:
        """A registration whose caller went away ended: its block is free."""
        if not task.cancelled() and task.exception() is None:
            block = task.result()
            if block is not None:
                self._put(block)

    async def _make_room(self, size: int) -> bool:
        """Unregister free blocks until one more of size fits the server's
        limits; False if even that is not enough."""
        while self._regions + 1 > self.max_regions or self._bytes + size > self.max_bytes:
            victim = self._largest_free()
            if victim is None:
                return False
            # Awaited, so that the server has forgotten it before the
            # registration that needs the room arrives.
            await self._forget(victim)
        return True

    def _largest_free(self) -> Optional[Block]:
        for size in sorted(self._free, reverse=True):
            if self._free[size]:
                self._free_bytes -= size
                return self._free[size].pop(0)  # the least recently used
        return None

    def _put(self, block: Block) -> None:
        """block is no longer leased: keep it free, or let it go."""
        block.lease = None
        if self._closed:
            self._blocks.pop(block.region, None)
            block.close()
            return
        free = self._free.setdefault(block.size, [])
        if len(free) < KEEP_FREE and self._free_bytes + block.size <= FREE_BYTES:
            free.append(block)
            self._free_bytes += block.size
            return
        self._discard(block)

    def _discard(self, block: Block) -> None:
        """Unregister and unmap block, from a task of its own (its reply
        does not matter)."""
        task = asyncio.ensure_future(self._forget(block))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _forget(self, block: Block) -> None:
        self._blocks.pop(block.region, None)
        self._uncount(block.size)
        block.close()
        try:
            await self._unregister(block.region)
        except Exception:
            pass  # the connection is gone: the server forgets everything then

    def _uncount(self, size: int) -> None:
        self._regions -= 1
        self._bytes -= size


def _released(loop: asyncio.AbstractEventLoop,
              pool_ref: "weakref.ReferenceType[Pool]", block: Block) -> None:
    """A Lease became garbage (in any thread, amid any code): give its block
    back on the pool's loop, soon (never here: the pool may be in the middle
    of something); with the loop gone, unmap it here."""
    def put() -> None:
        pool = pool_ref()
        if pool is None:
            block.close()
        else:
            pool._put(block)
    try:
        if asyncio._get_running_loop() is loop:
            loop.call_soon(put)  # (no need to wake the loop: this thread runs it)
        else:
            loop.call_soon_threadsafe(put)
    except RuntimeError:  # the loop is closed: so is the connection
        block.close()
