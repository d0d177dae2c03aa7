"""Tests of the token and TLS options against a server started with
--auth-token-file and --tls-cert (CRUNCH_AUTH_ADDR, its host:port;
CRUNCH_TOKEN, the token; CRUNCH_CAFILE, its self-signed certificate).
Skipped when CRUNCH_AUTH_ADDR is not set.

`go test ./clients/python` starts such a server and runs this file.
"""

import os
import ssl
import unittest

import crunch

ADDR = os.environ.get("CRUNCH_AUTH_ADDR", "")
TOKEN = os.environ.get("CRUNCH_TOKEN", "")
CAFILE = os.environ.get("CRUNCH_CAFILE", "")


@unittest.skipUnless(ADDR, "CRUNCH_AUTH_ADDR is not set")
class AuthTest(unittest.IsolatedAsyncioTestCase):
    async def test_token_over_wss(self):
        async with crunch.connect(ADDR, token=TOKEN, cafile=CAFILE) as c:
            self.assertIsInstance(await c.modsum(7, 1000), int)
        url = f"wss://{ADDR}/v1/ws"
        async with crunch.connect(url, token=TOKEN, ssl=ssl.create_default_context(cafile=CAFILE)) as c:
            self.assertIsInstance(await c.ping(), float)

    async def test_no_token_or_a_wrong_one_is_refused(self):
        for token in (None, TOKEN + "x"):
            with self.assertRaises(PermissionError):
                await crunch.connect(ADDR, token=token, cafile=CAFILE)

    async def test_untrusted_certificate_is_refused(self):
        with self.assertRaises(ssl.SSLError):
            await crunch.connect(f"wss://{ADDR}/v1/ws", token=TOKEN)

    def test_blocking_client(self):
        with crunch.Client(ADDR, token=TOKEN, cafile=CAFILE) as c:
            self.assertIsInstance(c.modsum(7, 1000), int)


if __name__ == "__main__":
    unittest.main()
