"""The WebSocket connection under the client, moving arrays at memory speed.

websockets' legacy client protocol (websockets.legacy.client: what
websockets.connect is in websockets 10 to 13, and still there in later
versions) is correct but, for messages of many megabytes, slow in three
places. This module's Protocol subclasses it and replaces exactly those,
for connections without extensions (crunch asks for none: compression is
off), leaving the handshake, pings, closing and flow control to websockets:

- Sending (write_frame_sync): websockets masks each frame's payload into a
  new object (in pure Python unless its C extension is built, see
  _masking.py), copies that into a BytesIO with the header and hands the
  result to the transport. Here the frame is assembled once, in a new
  buffer: header, key, and the payload masked by NumPy straight from the
  caller's memory (for crunch, the arrays themselves).
- Receiving (read_frame): websockets reads a frame's payload with
  StreamReader.readexactly: each chunk from the socket is a new bytes
  object, appended to the reader's buffer, which grows to the whole frame
  and is then copied out into new bytes. Here the transport reads the
  socket into buffers that the protocol chooses (asyncio.BufferedProtocol),
  and while a large payload is expected that buffer is the payload's own
  array: the kernel copies the bytes straight to where they stay.
- Reassembling (read_message): websockets joins a fragmented message into
  one new bytes object, a copy of it all. Here a binary message in several
  frames is returned as their payloads, a Fragments tuple, which the codec
  reads in place.
- Delivering: websockets' reading task queues each message for recv(),
  which another task awaits. With on_message set, the reading task hands
  each message to it at once (the client's reply routing), a task switch
  fewer per reply.

On this machine a new 80 MB bytes object costs about 0.25 s in page faults
alone (4 KiB pages, each zeroed), so the objects not made matter as much as
the copies not done. A large message goes out in frames of FRAME bytes
(fragments()), which keeps every buffer on the way to the socket small and
reused, where one frame would make the transport copy most of a large
message into a buffer of its own.

Over the server's Unix socket (open_unix) the protocol can also send a frame
with file descriptors attached (send_with_fds), which is how shared memory
is handed to the server: that frame must reach the socket whole and between
two messages, never inside a fragmented one nor behind bytes the transport
still holds, and send_with_fds waits until both are true.

The overridden methods keep websockets' contracts (tested by test_wire.py
against websockets' own serializer and parser, and by every call in the
other tests).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.frames import OP_BINARY, OP_CONT, OP_TEXT, Opcode
from websockets.frames import apply_mask  # websockets' choice: C speedups or pure Python
from websockets.legacy.client import WebSocketClientProtocol
from websockets.legacy.client import connect as legacy_connect
from websockets.legacy.framing import Frame
from websockets.legacy.protocol import State

from ._codec import Buffer
from ._masking import mask_into

__all__ = ["Fragments", "Protocol", "open_tcp", "open_unix", "one_frame", "fragments",
           "client_frame", "FRAME"]

# Payload bytes per frame of a large message that we send: small enough for
# the buffers on the way to the socket to be reused (and stay in cache),
# large enough for the per-frame cost (a few µs of Python) not to count.
FRAME = 1 << 20

# A received payload this large is read straight into a NumPy buffer of
# its own; smaller ones are read as websockets reads them (bytes).
LARGE = 1 << 16

# A frame's payload up to this size is masked by websockets' own
# apply_mask (its C extension's where built, else plain Python, which is
# fast on a few KiB): what NumPy saves on the bytes it loses per call.
SMALL = 1 << 10

# The buffer the socket is read into when no large payload is expected
# (asyncio's selector transport reads at most this much at once too).
SCRATCH = 1 << 18

# How long send_with_fds sleeps between looks at a transport that still
# holds bytes to send (seconds). Rare: over the Unix socket large arrays go
# through shared memory, so the transport's buffer is nearly always empty.
FLUSH_POLL = 0.0005


class Fragments(Tuple[Buffer, ...]):
    """A binary message that came in several frames: their payloads in
    order (bytes, or uint8 NumPy arrays for large ones), not joined."""


async def open_tcp(url: str, **kwargs: Any) -> WebSocketClientProtocol:
    """websockets' legacy connect, with this module's Protocol, no
    compression and no message size limit unless kwargs say otherwise."""
    options: Dict[str, Any] = {"create_protocol": Protocol, "compression": None,
                               "max_size": None, **kwargs}
    return await legacy_connect(url, **options)


async def open_unix(path: str, url: str, **kwargs: Any) -> WebSocketClientProtocol:
    """open_tcp over the Unix socket at path: the connection's socket is
    our own, so that the protocol can send descriptors on it
    (send_with_fds; asyncio's transport does not lend its socket out).
    With a protocol of the caller's (create_protocol) it cannot, and
    arrays travel in messages."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, path)
        ws = await open_tcp(url, sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise
    if isinstance(ws, Protocol):
        ws.unix_socket = sock
    return ws


def one_frame(parts: Sequence[Buffer]) -> Optional[Buffer]:
    """The message made of parts, joined, if it is small enough to go in
    one frame (FRAME bytes at most); else None: send fragments(parts)."""
    if sum(_nbytes(p) for p in parts) > FRAME:
        return None
    return b"".join(parts) if len(parts) != 1 else parts[0]


def fragments(parts: Iterable[Buffer]) -> Iterator[Buffer]:
    """The fragments of a large message made of parts, for websockets'
    send (which sends an iterable as a fragmented message): each large part
    in slices of FRAME bytes cut where it lies, runs of small parts (a
    header, padding) joined into one."""
    small: List[Buffer] = []
    for p in parts:
        view = memoryview(p).cast("B") if not isinstance(p, (bytes, bytearray)) else p
        if len(view) < LARGE:
            small.append(view)
            continue
        if small:
            yield b"".join(small)
            small = []
        for start in range(0, len(view), FRAME):
            yield view[start:start + FRAME]
    if small:
        yield b"".join(small)


def client_frame(fin: bool, opcode: int, payload: Buffer, key: Optional[bytes] = None) -> memoryview:
    """One masked client frame (RFC 6455 section 5.2) in a new buffer:
    header, masking key (4 random bytes unless given), payload XOR key, with
    the payload 8-byte aligned in memory for the XOR's sake."""
    if key is None:
        key = secrets.token_bytes(4)
    n = _nbytes(payload)
    b0 = (0x80 if fin else 0) | int(opcode)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    head += key
    if n <= SMALL:
        # NumPy's fixed cost per call would be most of the work here.
        return memoryview(head + apply_mask(bytes(payload), key))
    h = len(head)
    buf = np.empty(h + n + 8, np.uint8)
    start = -(buf.ctypes.data + h) % 8
    frame = buf[start:start + h + n]
    frame[:h] = np.frombuffer(head, np.uint8)
    mask_into(frame[h:], payload, key)
    return frame.data  # a memoryview, as transports take


class Protocol(WebSocketClientProtocol, asyncio.BufferedProtocol):
    """websockets' legacy client protocol, with frames written and large
    frames read by NumPy (see the module's doc). With an extension
    negotiated it behaves exactly as websockets' own.

    It is also an asyncio.BufferedProtocol: the transport asks it where to
    put what it reads from the socket (get_buffer) and tells it how much
    came (buffer_updated). Normally that is a scratch buffer, whose bytes go
    to websockets' StreamReader as data_received would have given them;
    while a large payload is being read, it is the rest of the payload's own
    array, so the kernel copies the bytes straight to where they end up.
    """

    # The connection's socket when it is a Unix socket (open_unix), for
    # send_with_fds; None over TCP.
    unix_socket: Optional[socket.socket] = None

    # When set, each data message goes to on_message as soon as it is read,
    # on websockets' reading task, instead of into its queue for recv():
    # a reply then wakes its caller with one task switch fewer (about 25
    # µs less per round trip and 15% less of the client's CPU per ping).
    # recv() then sees only the connection's end.
    on_message: Optional[Callable[[Any], None]] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scratch = memoryview(bytearray(SCRATCH))
        # While a large payload is read: the part of its array still to
        # fill, and the future that _read_payload waits on.
        self._sink: Optional[memoryview] = None
        self._sink_done: Optional["asyncio.Future[None]"] = None

    # -- reading from the socket (asyncio.BufferedProtocol) --------------

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._sink if self._sink is not None else self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        if self._sink is None:
            self.data_received(self._scratch[:nbytes])  # to the StreamReader (it copies)
            return
        self._sink = self._sink[nbytes:]
        if not len(self._sink):
            self._end_sink(None)

    def eof_received(self) -> None:
        self._end_sink(asyncio.IncompleteReadError(b"", None))
        super().eof_received()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._end_sink(exc or asyncio.IncompleteReadError(b"", None))
        super().connection_lost(exc)

    def _end_sink(self, exc: Optional[BaseException]) -> None:
        done, self._sink, self._sink_done = self._sink_done, None, None
        if done is not None and not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    async def _read_payload(self, n: int) -> np.ndarray:
        """The next n bytes of the connection in a new uint8 array: what
        the StreamReader holds already, then the rest straight from the
        socket."""
        out = np.empty(n, np.uint8)
        reader = self.reader
        held = getattr(reader, "_buffer", None)  # asyncio.StreamReader's, a bytearray
        if not isinstance(held, bytearray):
            return await _read_payload_slowly(reader, out)
        pos = 0
        while pos < n and held:
            # Returns at once (the reader holds data), so nothing arrives
            # between the last of these and installing the sink below.
            chunk = await reader.read(min(n - pos, len(held)))
            out[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
            pos += len(chunk)
        if pos < n:
            exc = reader.exception()
            if exc is not None:
                raise exc
            if reader.at_eof():
                raise asyncio.IncompleteReadError(b"", n)
            self._sink = out.data[pos:]
            self._sink_done = asyncio.get_running_loop().create_future()
            try:
                await self._sink_done
            finally:
                self._sink = self._sink_done = None
        return out

    # -- sending --------------------------------------------------------

    def writes_at_once(self) -> bool:
        """Whether send() of a one-frame message now writes its frame
        before it first yields to the event loop: the connection is open
        and no fragmented message is on its way (websockets' send waits for
        one to end, and writes nothing before). So a caller cancelled
        during such a send knows that its message went out."""
        return (self.state is State.OPEN and self._fragmented_message_waiter is None
                and not self.transfer_data_task.done())

    async def send_with_fds(self, frame: Buffer, fds: List[int]) -> None:
        """Send frame, one whole WebSocket frame built by client_frame,
        with the descriptors fds attached (SCM_RIGHTS), over the Unix
        socket.

        The frame goes out by one sendmsg straight on the socket, past the
        transport, so it waits until that keeps the stream intact: no
        fragmented message in progress (the frame would land inside it)
        and nothing in the transport's buffer (the frame would overtake
        it). Between that check and the sendmsg nothing yields to the event
        loop, so no other frame can come between. If the socket takes only
        part of the frame, the transport sends the rest, in order.
        """
        sock = self.unix_socket
        if sock is None:
            raise ConnectionError("crunch: descriptors go only over a Unix socket")
        data = bytes(frame)
        while True:
            await self.ensure_open()  # returns at once while open
            waiter = self._fragmented_message_waiter
            if waiter is not None:
                await asyncio.shield(waiter)
                continue
            if self.transport.get_write_buffer_size():
                await asyncio.sleep(FLUSH_POLL)
                continue
            try:
                sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                              struct.pack(f"{len(fds)}i", *fds))])
            except (BlockingIOError, InterruptedError):
                await asyncio.sleep(FLUSH_POLL)  # the socket's own buffer is full
                continue
            break
        if sent < len(data):
            self.transport.write(data[sent:])  # the descriptors went with the first byte
        await self.drain()

    # -- frames and messages -------------------------------------------

    def write_frame_sync(self, fin: bool, opcode: int, data: Any) -> None:
        if self.extensions:
            return super().write_frame_sync(fin, opcode, data)
        frame = Frame(fin, Opcode(opcode), data)
        frame.check()
        if self.debug:
            self.logger.debug("> %s", frame)
        self.transport.write(client_frame(fin, opcode, data))

    async def read_frame(self, max_size: Optional[int]) -> Frame:
        if self.extensions:
            return await super().read_frame(max_size)
        readexactly = self.reader.readexactly
        head1, head2 = await readexactly(2)
        try:
            opcode = Opcode(head1 & 0x0F)
        except ValueError as exc:
            raise ProtocolError("invalid opcode") from exc
        if head2 & 0x80:
            raise ProtocolError("incorrect masking")  # a server's frames are not masked
        length = head2 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await readexactly(8))
        if max_size is not None and length > max_size:
            raise PayloadTooBig(f"over size limit ({length} > {max_size} bytes)")
        if length >= LARGE:
            data: Any = await self._read_payload(length)
        else:
            data = await readexactly(length)
        frame = Frame(bool(head1 & 0x80), opcode, data,
                      bool(head1 & 0x40), bool(head1 & 0x20), bool(head1 & 0x10))
        frame.check()
        if self.debug:
            self.logger.debug("< %s", frame)
        return frame

    async def read_message(self) -> Optional[Any]:
        if self.extensions:
            return await super().read_message()
        while True:
            msg = await self._read_one_message()
            if msg is None or self.on_message is None:
                return msg  # None: a close frame came
            self.on_message(msg)

    async def _read_one_message(self) -> Optional[Any]:
        """The next data message, or None when a close frame came."""
        frame = await self.read_data_frame(max_size=self.max_size)
        if frame is None:
            return None  # a close frame came
        if frame.opcode == OP_TEXT:
            text = True
        elif frame.opcode == OP_BINARY:
            text = False
        else:
            raise ProtocolError("unexpected opcode")
        fragments = [frame.data]
        max_size = self.max_size
        while not frame.fin:
            if max_size is not None:
                max_size -= len(frame.data)
            frame = await self.read_data_frame(max_size=max_size)
            if frame is None:
                raise ProtocolError("incomplete fragmented message")
            if frame.opcode != OP_CONT:
                raise ProtocolError("unexpected opcode")
            fragments.append(frame.data)
        if text:
            return b"".join(fragments).decode("utf-8")
        return fragments[0] if len(fragments) == 1 else Fragments(fragments)


async def _read_payload_slowly(reader: asyncio.StreamReader, out: np.ndarray) -> np.ndarray:
    """Fill out from reader as the data arrives (StreamReader.read returns
    what is buffered, up to what is asked): the path for a StreamReader
    whose buffer this module cannot see."""
    n, pos = out.size, 0
    while pos < n:
        chunk = await reader.read(n - pos)
        if not chunk:
            raise asyncio.IncompleteReadError(b"", n)  # as readexactly: the peer went away
        out[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
        pos += len(chunk)
    return out


def _nbytes(p: Buffer) -> int:
    return p.nbytes if isinstance(p, (memoryview, np.ndarray)) else len(p)
