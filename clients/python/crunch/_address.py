"""Where a crunch server is, and over which transport to reach it.

connect() and Client() take one string; this module is the only place that
reads it, so that a new transport is a new form here and a new branch where
the connection is opened (_aio.open_websocket), nothing else.

    "127.0.0.1:8080", "[::1]:8080"  TCP, WebSocket at /v1/ws (a bare host: port 80)
    "ws://host:port/path", "wss://..."  TCP (TLS for wss), that exact URL
                                     (host:port is wss:// too when connect() has ssl or cafile)
    "unix:/run/crunch.sock"          the server's Unix socket (crunch serve --unix),
                                     WebSocket at /v1/ws over it
"""

from __future__ import annotations

from typing import NamedTuple, Optional

__all__ = ["Address", "parse_address", "TCP", "UNIX"]

TCP = "tcp"
UNIX = "unix"

# The path of the crunch endpoint on the server (docs/PROTOCOL.md, Transport).
WS_PATH = "/v1/ws"


class Address(NamedTuple):
    """A parsed server address.

    transport is TCP or UNIX; url is the WebSocket URL to request (over a
    Unix socket its host part is only what the Host header says); path is
    the Unix socket's file name for UNIX, else None.
    """

    transport: str
    url: str
    path: Optional[str] = None


def parse_address(addr: str, tls: bool = False) -> Address:
    """Parse a server address (see the module's doc); ValueError if it is
    none of the forms. tls makes a host:port a wss:// URL."""
    if not isinstance(addr, str) or not addr.strip():
        raise ValueError(f"crunch: no server address in {addr!r}")
    addr = addr.strip()
    if addr.startswith("unix:"):
        path = addr[len("unix:"):]
        if not path:
            raise ValueError(f"crunch: {addr!r} names no socket file (unix:/path/to/socket)")
        return Address(UNIX, "ws://localhost" + WS_PATH, path)
    if addr.startswith(("ws://", "wss://")):
        return Address(TCP, addr)
    if "://" in addr:
        raise ValueError(f"crunch: unknown scheme in {addr!r} (host:port, ws://, wss:// or unix:)")
    # host:port, or a bare host (port 80), as WebSocket URLs take them.
    scheme = "wss" if tls else "ws"
    return Address(TCP, f"{scheme}://{addr}{WS_PATH}")
