"""RFC 6455 masking by NumPy, straight into the buffer that is sent.

A WebSocket client must XOR every byte it sends with a fresh 4-byte key
(RFC 6455 section 5.3). websockets 10.4 masks a client frame in
websockets.frames.Frame.serialize, which the legacy client protocol that
websockets.connect uses reaches through websockets.legacy.framing.Frame.write
(from WebSocketCommonProtocol.write_frame_sync); serialize calls
websockets.frames.apply_mask, which is websockets.speedups.apply_mask when
that C extension is built and otherwise websockets.utils.apply_mask, pure
Python. Debian's python3-websockets ships without the extension: its
apply_mask turns the data into a big integer, builds the repeated key as
large as the data and turns the XOR back into bytes, four new objects the
size of the message, at about 230 MB/s here (each new object of that size
also costs its page faults).

mask_into does the same XOR with NumPy on 8-byte words, reading the data
where it lies and writing the result where the frame is assembled: one pass,
no intermediate object, whether or not the C extension exists. The
connection's protocol (_websocket.py) calls it for every frame it sends.
apply_mask is the drop-in form of websockets' function, for comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mask_into", "apply_mask"]


def mask_into(out: np.ndarray, data: Any, key: bytes, phase: int = 0) -> None:
    """Write data XOR the masking key into out.

    out is a uint8 array of data's length in bytes; data is any bytes-like
    object (bytes, bytearray, memoryview, a contiguous NumPy array), read in
    place. Byte i of data is XORed with key[(phase + i) % 4]: phase is the
    position of data's first byte in the frame's payload, so that a payload
    may be masked in pieces.
    """
    if len(key) != 4:
        raise ValueError("crunch: a masking key is 4 bytes")
    src = _bytes_view(data)
    n = src.size
    if out.dtype != np.uint8 or out.size != n:
        raise ValueError(f"crunch: mask_into needs a uint8 array of {n} bytes")
    r = phase % 4
    key8 = (key[r:] + key[:r]) * 2  # the key as it falls on each 8-byte word
    words = n // 8 * 8
    if words:
        np.bitwise_xor(src[:words].view(np.uint64), np.frombuffer(key8, np.uint64)[0],
                       out=out[:words].view(np.uint64))
    if words < n:
        np.bitwise_xor(src[words:], np.frombuffer(key8[:n - words], np.uint8), out=out[words:])


def apply_mask(data: Any, mask: bytes) -> bytes:
    """data XOR mask, as new bytes: websockets.utils.apply_mask's contract."""
    out = np.empty(_bytes_view(data).size, np.uint8)
    mask_into(out, data, mask)
    return out.tobytes()


def _bytes_view(data: Any) -> np.ndarray:
    """data's bytes as a flat uint8 array, without a copy."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    return np.frombuffer(data, np.uint8)
