"""Tests of the crunch package that need no server: the address parser
and the masking of WebSocket frames by NumPy.

    /usr/bin/python3 -m unittest -v test_wire

`go test ./clients/python` runs this file too.
"""

import os
import unittest

import numpy as np
import websockets.utils

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


if __name__ == "__main__":
    unittest.main()
