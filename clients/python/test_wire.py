"""Tests of the crunch package that need no server: the address parser and
the wire codec.

    /usr/bin/python3 -m unittest -v test_wire

`go test ./clients/python` runs this file too.
"""

import unittest

from crunch._address import TCP, UNIX, parse_address


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


if __name__ == "__main__":
    unittest.main()
