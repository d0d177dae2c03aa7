"""Tests of the crunch package that need no server: the address parser,
the wire codec, the WebSocket framing (masking by NumPy, frames as
websockets itself writes and parses them), the sizes of op results, and
shared-memory blocks and their leases.

    /usr/bin/python3 -m unittest -v test_wire

`go test ./clients/python` runs this file too.
"""

import fcntl
import gc
import json
import os
import struct
import unittest
import weakref
from unittest import mock

import numpy as np
import websockets.frames
import websockets.streams
import websockets.utils

from crunch import _codec, _ops, _shm, _websocket
from crunch._address import TCP, UNIX, parse_address
from crunch._masking import apply_mask, mask_into

# Lengths that end inside an 8-byte word, on one, and just past one, and
# sizes around the WebSocket length encodings (126, 65536).
AWKWARD = (0, 1, 3, 4, 5, 7, 8, 9, 125, 126, 1023, 65535, 65536, 65537)


class AddressTest(unittest.TestCase):
    def test_forms(self):
        for addr, want in (
            ("127.0.0.1:8080", (TCP, "ws://127.0.0.1:8080/v1/ws", None)),
            ("[::1]:9000", (TCP, "ws://[::1]:9000/v1/ws", None)),
            ("crunch.example", (TCP, "ws://crunch.example/v1/ws", None)),
            ("ws://h:1/other", (TCP, "ws://h:1/other", None)),
            ("wss://h/v1/ws", (TCP, "wss://h/v1/ws", None)),
            ("unix:/run/crunch.sock", (UNIX, "ws://localhost/v1/ws", "/run/crunch.sock")),
        ):
            self.assertEqual(tuple(parse_address(addr)), want, addr)

    def test_refused(self):
        for addr in ("", "  ", "unix:", "http://h:1/v1/ws", None):
            with self.assertRaises(ValueError, msg=repr(addr)):
                parse_address(addr)


class MaskingTest(unittest.TestCase):
    """mask_into against websockets' own pure-Python apply_mask."""

    def test_matches_websockets(self):
        for n in AWKWARD:
            data, key = os.urandom(n), os.urandom(4)
            want = websockets.utils.apply_mask(data, key)
            self.assertEqual(apply_mask(data, key), want, n)
            for form in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
                self.assertEqual(apply_mask(form, key), want, (n, type(form)))

    def test_pieces_and_misalignment(self):
        # A payload masked in pieces from any offset, read from memory at
        # any alignment and written to memory at any alignment, is the
        # payload masked at once.
        data, key = os.urandom(70000), os.urandom(4)
        want = np.frombuffer(websockets.utils.apply_mask(data, key), np.uint8)
        backing = np.zeros(len(data) + 16, np.uint8)
        for src_shift in range(8):
            src = np.zeros(len(data) + 8, np.uint8)[src_shift:src_shift + len(data)]
            src[:] = np.frombuffer(data, np.uint8)
            for out_shift in (0, 1, 3, 5):
                out = backing[out_shift:out_shift + len(data)]
                for cut in (0, 1, 6, 9, 65537):
                    mask_into(out[:cut], src[:cut], key, 0)
                    mask_into(out[cut:], src[cut:], key, cut)
                    np.testing.assert_array_equal(out, want, err_msg=f"{src_shift} {out_shift} {cut}")

    def test_refuses(self):
        with self.assertRaises(ValueError):
            mask_into(np.empty(3, np.uint8), b"abc", b"key")
        with self.assertRaises(ValueError):
            mask_into(np.empty(4, np.uint8), b"abc", b"keys")


def parse(frame):
    """A client frame as a server parses it, with websockets' parser."""
    reader = websockets.streams.StreamReader()
    reader.feed_data(bytes(frame))
    parser = websockets.frames.Frame.parse(reader.read_exact, mask=True)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("websockets wanted more bytes than the frame has")


class FrameTest(unittest.TestCase):
    def test_as_websockets_writes_them(self):
        # Byte for byte what websockets' own serialize writes, given the
        # same masking key; and websockets' parser reads them back.
        ops = (websockets.frames.OP_BINARY, websockets.frames.OP_TEXT,
               websockets.frames.OP_CONT, websockets.frames.OP_CLOSE)
        for n in AWKWARD + (1 << 20,):
            data, key = os.urandom(n), os.urandom(4)
            for fin in (True, False):
                # Control frames (close) are short and never fragmented.
                for op in ops if n <= 125 and fin else ops[:3]:
                    got = bytes(_websocket.client_frame(fin, op, data, key))
                    with mock.patch("websockets.frames.secrets.token_bytes", return_value=key):
                        want = websockets.frames.Frame(op, data, fin).serialize(mask=True)
                    self.assertEqual(got, want, (n, fin, op))
                    back = parse(got)
                    self.assertEqual((back.fin, back.opcode, back.data), (fin, op, data))

    def test_fresh_keys(self):
        a = bytes(_websocket.client_frame(True, websockets.frames.OP_BINARY, b"x" * 300))
        b = bytes(_websocket.client_frame(True, websockets.frames.OP_BINARY, b"x" * 300))
        self.assertNotEqual(a[4:8], b[4:8])  # a new random key each frame

    def test_stream_reader_buffer_is_visible(self):
        # Protocol._read_payload reads a large payload straight from the
        # socket only if it can see what asyncio's StreamReader holds
        # already (else it takes the slow path, correct but copying).
        import asyncio
        loop = asyncio.new_event_loop()  # (whatever tests ran before left none current)
        try:
            reader = asyncio.StreamReader(loop=loop)
        finally:
            loop.close()
        self.assertIsInstance(getattr(reader, "_buffer", None), bytearray)

    def test_fragments_of_a_large_message(self):
        big = np.arange(3 * _websocket.FRAME // 8 + 5, dtype=np.float64)
        parts = [b"head", bytes(60), memoryview(big).cast("B"), bytes(3), b"tail"]
        frames = list(_websocket.fragments(parts))
        self.assertEqual(b"".join(bytes(f) for f in frames), b"".join(bytes(p) for p in parts))
        self.assertTrue(all(len(f) <= _websocket.FRAME for f in frames))
        self.assertEqual(len(frames), 1 + 4 + 1)  # head+pad, 4 slices of big, pad+tail
        # The slices of the array are views of it, not copies.
        self.assertTrue(np.shares_memory(np.frombuffer(frames[1], np.uint8), big))


def reply(result_arrays, other=None):
    """A binary reply holding result_arrays (name -> array), each at a
    64-aligned offset: built independently of the codec, to test it."""
    header = {"id": 3, "ok": True, "result": dict(other or {})}
    bufs, pos = [], 0
    for name, a in result_arrays.items():
        header["result"][name] = {"dtype": _codec.NAMES[(a.dtype.kind, a.dtype.itemsize)],
                                  "shape": list(a.shape), "buffer": len(bufs)}
        bufs.append(a)
    header["buffers"] = [[0, 0]] * len(bufs)
    text = json.dumps(header)
    pos = -(-(8 + len(text) + 200) // 64) * 64  # room for the offsets' digits
    for i, a in enumerate(bufs):
        header["buffers"][i] = [pos, a.nbytes]
        pos = -(-(pos + a.nbytes) // 64) * 64
    text = json.dumps(header).encode()
    msg = bytearray(pos)
    msg[:8 + len(text)] = b"CRN1" + struct.pack("<I", len(text)) + text
    for (off, n), a in zip(header["buffers"], bufs):
        msg[off:off + n] = a.tobytes()
    return bytes(msg)


class CodecTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(3)

    def test_protocol_worked_example(self):
        # docs/PROTOCOL.md, "Worked example: a binary gemm request".
        parts = _codec.encode({"id": 7, "op": "gemm", "args": {
            "a": np.array([[1.0, 2], [3, 4]]), "b": np.array([[5.0, 6], [7, 8]])}})
        msg = b"".join(parts)
        header = (b'{"id":7,"op":"gemm","args":{"a":{"dtype":"f64","shape":[2,2],"buffer":0},'
                  b'"b":{"dtype":"f64","shape":[2,2],"buffer":1}},"buffers":[[192,32],[256,32]]}')
        self.assertEqual(len(header), 149)
        want = (b"CRN1" + struct.pack("<I", 149) + header + bytes(35)
                + np.arange(1.0, 5).tobytes() + bytes(32) + np.arange(5.0, 9).tobytes())
        self.assertEqual(msg, want)

    def test_encode_reads_arrays_in_place(self):
        a = self.rng.standard_normal((300, 7))
        b = self.rng.integers(0, 9, 1000).astype(np.int32)
        parts = _codec.encode({"id": 1, "op": "x", "args": {"a": a, "b": b, "n": np.int64(4)}})
        self.assertTrue(any(np.shares_memory(np.frombuffer(p, np.uint8), a) for p in parts[1:]))
        self.assertTrue(any(np.shares_memory(np.frombuffer(p, np.uint8), b) for p in parts[1:]))
        msg = b"".join(bytes(p) for p in parts)
        (hlen,) = struct.unpack_from("<I", msg, 4)
        header = json.loads(msg[8:8 + hlen])
        self.assertEqual(header["args"]["n"], 4)
        for name, arr in (("a", a), ("b", b)):
            off, n = header["buffers"][header["args"][name]["buffer"]]
            self.assertEqual(off % 64, 0)
            self.assertEqual(msg[off:off + n], arr.tobytes())
        # A non-contiguous or big-endian array is converted (so copied).
        parts = _codec.encode({"id": 2, "op": "x", "args": {"t": a.T, "e": a.astype(">f8")}})
        self.assertEqual(b"".join(bytes(p) for p in parts).count(a.T.copy().tobytes()), 1)
        self.assertEqual(_codec.encode({"id": 3, "op": "ping"}, binary=False), '{"id":3,"op":"ping"}')

    def test_decode_views_copies_and_fragments(self):
        arrays = {"x": self.rng.standard_normal(1000),
                  "y": (self.rng.standard_normal((20, 30)) + 1j).astype(np.complex64),
                  "z": self.rng.integers(0, 1 << 30, 77).astype(np.uint32),
                  "empty": np.zeros((0, 3))}
        msg = reply(arrays, {"count": 5})

        def check(decoded, views_of=None):
            res = decoded["result"]
            self.assertEqual(res["count"], 5)
            for name, a in arrays.items():
                np.testing.assert_array_equal(res[name], a)
                self.assertEqual((res[name].dtype, res[name].shape), (a.dtype, a.shape))
                self.assertTrue(res[name].flags.writeable and res[name].flags.aligned, name)
                if views_of is not None and a.size:
                    self.assertTrue(np.shares_memory(res[name], views_of), name)

        check(_codec.decode(msg))  # bytes: copied, writable
        as_array = np.frombuffer(msg, np.uint8).copy()  # the client's own buffer: views
        check(_codec.decode(as_array), views_of=as_array)
        # Misaligned in memory: copied, still right.
        shifted = np.zeros(len(msg) + 3, np.uint8)[3:]
        shifted[:] = as_array
        check(_codec.decode(shifted))
        # In fragments, cut anywhere (inside the header, inside tensors).
        for cuts in ((5,), (100, 4000), tuple(range(7, len(msg), 997))):
            edges = (0,) + cuts + (len(msg),)
            pieces = [as_array[i:j] if k % 2 else msg[i:j] for k, (i, j) in enumerate(zip(edges, edges[1:]))]
            check(_codec.decode(_websocket.Fragments(pieces)))

    def test_decode_text_and_refusals(self):
        got = _codec.decode('{"id":1,"ok":true,"result":{"y":{"dtype":"c128","shape":[2],"data":[1,2,3,4]}}}')
        np.testing.assert_array_equal(got["result"]["y"], [1 + 2j, 3 + 4j])
        with self.assertRaises(ValueError):
            _codec.decode(b"CRN2" + bytes(8))
        with self.assertRaises(ValueError):
            _codec.decode(b"CRN1" + struct.pack("<I", 100) + b"{}")
        msg = reply({"x": np.arange(4.0)})
        (hlen,) = struct.unpack_from("<I", msg, 4)
        off, n = json.loads(msg[8:8 + hlen])["buffers"][0]
        with self.assertRaises(ValueError):
            _codec.decode(msg[:off + n - 1])  # the buffer runs past the end

    def test_shm_tensors(self):
        # An argument in shared memory names its place and adds no buffer;
        # a result there is what the resolver makes of it.
        parts = _codec.encode({"id": 4, "op": "sort", "args": {
            "x": _codec.ShmTensor("f64", (3, 5), 2, 4096), "d": True}, "shm_out": [3, 0, 65536]})
        msg = b"".join(bytes(p) for p in parts)
        (hlen,) = struct.unpack_from("<I", msg, 4)
        self.assertEqual(json.loads(msg[8:8 + hlen]), {
            "id": 4, "op": "sort", "args": {"x": {"dtype": "f64", "shape": [3, 5], "shm": [2, 4096]},
                                            "d": True},
            "shm_out": [3, 0, 65536], "buffers": []})
        self.assertEqual(len(msg), 8 + hlen)
        text = _codec.encode({"id": 5, "op": "sort", "args": {"x": _codec.ShmTensor("u32", (0,), 1, 0)}},
                             binary=False)
        self.assertEqual(json.loads(text)["args"]["x"], {"dtype": "u32", "shape": [0], "shm": [1, 0]})

        memory = np.arange(64.0)
        asked = []

        def resolve(region, offset, dt, shape):
            asked.append((region, offset, dt, shape))
            return memory[offset // 8:offset // 8 + int(np.prod(shape))].view(dt).reshape(shape)

        r = '{"id":5,"ok":true,"result":{"x":{"dtype":"f64","shape":[2,3],"shm":[7,64]},"n":2}}'
        got = _codec.decode(r, resolve)
        np.testing.assert_array_equal(got["result"]["x"], memory[8:14].reshape(2, 3))
        self.assertTrue(np.shares_memory(got["result"]["x"], memory))
        self.assertEqual(asked, [(7, 64, np.dtype("<f8"), (2, 3))])
        self.assertEqual(got["result"]["n"], 2)
        # Binary too, and beside a tensor that came in the message.
        msg = reply({"y": np.arange(3, dtype=np.int32)}, {"x": {"dtype": "f64", "shape": [4], "shm": [7, 0]}})
        got = _codec.decode(msg, resolve)["result"]
        np.testing.assert_array_equal(got["x"], memory[:4])
        np.testing.assert_array_equal(got["y"], [0, 1, 2])
        with self.assertRaises(ValueError):
            _codec.decode(r)  # no shared memory on this connection
        self.assertEqual(_codec.reply_id(r), 5)
        self.assertEqual(_codec.reply_id(msg), 3)
        self.assertIsNone(_codec.reply_id(b"CRN1"))

    def test_protocol_dtype(self):
        self.assertEqual(_codec.protocol_dtype(np.dtype(">f8")), "f64")
        self.assertEqual(_codec.protocol_dtype(np.dtype(np.complex64)), "c64")
        for bad in (np.bool_, np.float16, np.int8, object):
            with self.assertRaises(TypeError):
                _codec.protocol_dtype(np.dtype(bad))


class OutSizeTest(unittest.TestCase):
    """The window a request offers for its results: each op's result
    shape and dtype, per docs/PROTOCOL.md's table of operations."""

    def test_ops(self):
        f64, f32 = np.zeros((30, 40)), np.zeros((30, 40), np.float32)
        for op, args, want in (
            ("gemm", {"a": f64, "b": np.zeros((40, 7))}, 30 * 7 * 8),
            ("gemm", {"a": f32, "b": np.zeros((30, 7), np.float32), "trans_a": True}, 40 * 7 * 4),
            ("gemm", {"a": f64, "b": np.zeros((9, 40)), "trans_b": True}, 30 * 9 * 8),
            ("fft", {"x": np.zeros(1000)}, 16000),
            ("fft", {"x": np.zeros((3, 10), np.float32)}, 240),
            ("fft", {"x": np.zeros(5, np.complex64)}, 40),
            ("conv2d", {"image": f64, "kernel": np.zeros((3, 5))}, 30 * 40 * 8),
            ("conv2d", {"image": f64, "kernel": np.zeros((3, 5)), "mode": "full"}, 32 * 44 * 8),
            ("conv2d", {"image": f32, "kernel": np.zeros((3, 5), np.float32), "mode": "valid"}, 28 * 36 * 4),
            ("conv2d", {"image": f64, "kernel": np.zeros((31, 5)), "mode": "valid"}, 0),
            ("sort", {"x": np.zeros(77, np.uint32)}, 308),
            ("solve", {"a": np.eye(6), "b": np.zeros((6, 2))}, 96),
            ("mandelbrot", {"width": 640, "height": 480}, 640 * 480 * 4),
            ("stats", {"x": f64}, 0),
            ("modsum", {"n": 3}, 0),
            ("gemm", {"a": np.zeros(3), "b": np.zeros(3)}, 0),  # refused by the server anyway
        ):
            self.assertEqual(_ops.result_bytes(op, args), want, (op, args.keys()))
        self.assertIsNone(_ops.result_bytes("no_such_op", {"x": f64}))


class SharedMemoryTest(unittest.TestCase):
    """Blocks and leases without a server (the pool with one is tested in
    test_shm.py)."""

    def test_block_sizes(self):
        for n, want in ((0, 64 << 10), (1, 64 << 10), (64 << 10, 64 << 10), ((64 << 10) + 1, 128 << 10),
                        (80_000_000, 128 << 20), (1 << 30, 1 << 30)):
            self.assertEqual(_shm.block_size(n), want, n)

    def test_memfd_is_sealed(self):
        fd = _shm.create_memfd(1 << 16)
        try:
            seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
            want = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
            self.assertEqual(seals & want, want)
            self.assertEqual(os.fstat(fd).st_size, 1 << 16)
            with self.assertRaises(OSError):
                os.ftruncate(fd, 1 << 12)  # it cannot shrink under a server's kernel
        finally:
            os.close(fd)

    def test_lease_lives_as_long_as_its_views(self):
        fd = _shm.create_memfd(1 << 16)
        block = _shm.Block(fd, 1 << 16)
        os.close(fd)  # the mapping keeps the memory
        lease = _shm.Lease(block)
        gone = []
        weakref.finalize(lease, gone.append, True)
        a = lease.view(64, np.dtype("<f8"), (10, 20))
        b = a[3:5, ::2].T  # a view of a view
        c = lease.view(0, np.dtype("<u4"), (16,))
        self.assertEqual(a.ctypes.data, block.address + 64)
        self.assertTrue(a.flags.writeable and a.flags.c_contiguous)
        a[:] = 1.5
        self.assertEqual(float(b.sum()), 1.5 * b.size)
        with self.assertRaises(ValueError):
            lease.view((1 << 16) - 8, np.dtype("<f8"), (2,))  # past the block's end
        del lease, a, c
        gc.collect()
        self.assertEqual(gone, [])  # b still holds it
        del b
        self.assertEqual(gone, [True])  # at once, without the cycle collector
        block.close()


if __name__ == "__main__":
    unittest.main()
