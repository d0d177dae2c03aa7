"""What a reply becomes on the client: a Result, or a CrunchError raised.

Both clients (async and blocking) return and raise these same types, so
that code written against one works with the other.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = ["CrunchError", "Result"]


class CrunchError(Exception):
    """A failure reply from the server.

    code is the protocol's error code (invalid_argument, not_found,
    too_large, overloaded, deadline_exceeded, canceled, numerical,
    worker_failed, internal; an unknown code is to be treated like
    internal); message is the server's explanation; retry_after_ms is set
    with overloaded only (milliseconds to wait before trying again).
    """

    def __init__(self, code: str, message: str, retry_after_ms: Optional[int] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


class Result(Dict[str, Any]):
    """An op's result values by name (NumPy arrays, numbers, plain JSON).

    stats holds the reply's stats: where and how the request ran (exec,
    impl, queue_us, run_us, maybe worker); None if the reply had none.
    """

    stats: Optional[Dict[str, Any]] = None
