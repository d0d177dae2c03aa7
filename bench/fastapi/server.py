"""The FastAPI + asyncio comparison server of crunch's benchmark: a FastAPI
WebSocket server whose modsum is a plain Python loop.

This is the usual FastAPI design, written the idiomatic
FastAPI way, so that `make bench` can measure crunch side by side with it
under the same load and probe. It speaks the part of docs/PROTOCOL.md that
the benchmark's Go client (service/client) and load generator
(bench/load) use:

- GET /healthz answers 200;
- WebSocket /v1/ws takes text (JSON) and binary ("CRN1" frame, no
  buffers) requests and answers each in the form the protocol says;
- op "ping" is answered at once with {"server_time_ns": ...};
- op "modsum" (args n, iters) returns {"total": sum over i < iters of
  (i*n) mod 97} with stats, computed in pure Python in one of three modes:
    inline   the loop runs in the async handler itself, blocking the event
             loop (the naive version);
    thread   await asyncio.to_thread(modsum, ...);
    process  await loop.run_in_executor(ProcessPoolExecutor(W), modsum, ...);
- anything else gets a failure reply in crunch's format: an unknown op
  (cancel and info included: that design has neither) is not_found, a
  malformed message invalid_argument.

Like crunch, it runs many requests at once per connection (a task per
request), so replies may come out of order. Unlike crunch, it ignores
timeout_ms and progress, and takes crunch's exec and impl names without
acting on them (another name is not_found, as in crunch): that design has
one implementation and no deadlines, and the benchmark drives it with the
same requests as crunch.

Run it (Debian: python3-fastapi, python3-uvicorn, python3-websockets;
`make bench-deps` installs them):

    python3 bench/fastapi/server.py --port 8000 --mode thread
    python3 bench/fastapi/server.py --port 8000 --mode process --workers 4
"""

import argparse
import asyncio
import json
import os
import struct
import time
from concurrent.futures import ProcessPoolExecutor

import uvicorn
from fastapi import FastAPI, WebSocket
from fastapi.responses import PlainTextResponse
from websockets.exceptions import ConnectionClosed

MODES = ("inline", "thread", "process")
EXECS = ("auto", "direct", "pool", "subprocess")
IMPLS = ("auto", "c", "gonum", "go")
REPLY_FORMS = ("binary", "text")
MAX_ID = 2**53 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAGIC = b"CRN1"

# Set by main() from the command line, before the server starts.
MODE = "inline"
POOL = None  # the ProcessPoolExecutor of process mode

app = FastAPI()


def modsum(n: int, iters: int) -> int:
    """The reference CPU-heavy loop: sum over i < iters of (i*n) mod 97."""
    total = 0
    for i in range(iters):
        total += (i * n) % 97
    return total


def timed_modsum(n: int, iters: int):
    """modsum, with when it started and ended (for the reply's stats).

    time.monotonic_ns reads CLOCK_MONOTONIC, which every process of the
    machine shares: a pool worker's readings compare with the server's.
    """
    start = time.monotonic_ns()
    total = modsum(n, iters)
    return total, start, time.monotonic_ns()


class ProtocolError(Exception):
    """A request that gets a failure reply with this code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> ProtocolError:
    """A malformed request's error."""
    return ProtocolError("invalid_argument", message)


def reject_constant(name: str):
    """Refuses NaN and Infinity, which json.loads takes by default."""
    raise ValueError(f"{name} is not JSON")


def decode(binary: bool, data) -> dict:
    """The request object of a text or binary message."""
    if binary:
        if len(data) < 8 or data[:4] != MAGIC:
            raise invalid("binary message: does not start with the magic "
                          "'CRN1' and a header length")
        (length,) = struct.unpack_from("<I", data, 4)
        if length > len(data) - 8:
            raise invalid(f"binary message: header length {length} exceeds "
                          f"the {len(data) - 8} bytes after the preamble")
        data = data[8:8 + length]
    try:
        obj = json.loads(data, parse_constant=reject_constant)
    except ValueError as e:
        raise invalid(f"not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise invalid("a message must be a JSON object")
    return obj


def as_int(value, what: str, low: int, high: int) -> int:
    """A JSON number whose value is an integer in [low, high] (7.0 is 7)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{what} must be an integer, got {json.dumps(value)}")
    if not low <= value <= high:
        raise invalid(f"{what} must be from {low} to {high}, got {value}")
    return value


def request_id(obj: dict) -> int:
    """The request's id; 0 (which no request uses) when it cannot be read."""
    try:
        return as_int(obj.get("id"), '"id"', 1, MAX_ID)
    except ProtocolError:
        return 0


def check_request(obj: dict) -> str:
    """Checks the members every request may have and returns its op."""
    op = obj.get("op")
    if not isinstance(op, str) or not op:
        raise invalid('"op" must be a non-empty string')
    for name, choices in (("exec", EXECS), ("impl", IMPLS)):
        value = obj.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise invalid(f'"{name}" must be a string, got {json.dumps(value)}')
        if value not in choices:
            raise ProtocolError("not_found", f'{name} {json.dumps(value)} is not available '
                                f'on this server (has {", ".join(choices)})')
    value = obj.get("reply")
    if value is not None and value not in REPLY_FORMS:
        raise invalid(f'"reply" must be one of {", ".join(REPLY_FORMS)}, '
                      f"got {json.dumps(value)}")
    return op


def modsum_args(obj: dict):
    """modsum's n and iters, checked as crunch checks them."""
    args = obj.get("args") or {}
    if not isinstance(args, dict):
        raise invalid('"args" must be an object')
    for name in args:
        if name not in ("n", "iters"):
            raise invalid(f'modsum: unknown argument "{name}"')
    if args.get("n") is None:
        raise invalid('modsum: argument "n" is required')
    n = as_int(args["n"], 'modsum: argument "n"', INT64_MIN, INT64_MAX)
    iters = args.get("iters")
    if iters is None:
        iters = 10_000_000
    iters = as_int(iters, 'modsum: argument "iters"', 0, INT64_MAX)
    return n, iters


def encode(reply: dict, binary: bool):
    """A reply as a text message (str) or a binary one (bytes)."""
    if binary:
        # A binary reply without tensors: the header alone, with the
        # "buffers" list that the crunch encoder always writes last.
        header = json.dumps({**reply, "buffers": []},
                            separators=(",", ":")).encode()
        return MAGIC + struct.pack("<I", len(header)) + header
    return json.dumps(reply, separators=(",", ":"))


async def send(websocket: WebSocket, reply: dict, binary: bool):
    """Sends a reply; a reply to a client that has gone is dropped."""
    msg = encode(reply, binary)
    try:
        if binary:
            await websocket.send_bytes(msg)
        else:
            await websocket.send_text(msg)
    except ConnectionClosed:
        pass  # the reader gets the disconnect next and ends the session


def error_reply(rid: int, err: ProtocolError) -> dict:
    """A failure reply in crunch's format."""
    return {"id": rid, "ok": False,
            "error": {"code": err.code, "message": err.message}}


async def run_modsum(n: int, iters: int):
    """modsum the FastAPI way, in the mode chosen at start-up."""
    if MODE == "inline":
        # Runs right here: nothing else on the event loop moves until it
        # ends, pings included.
        return timed_modsum(n, iters)
    if MODE == "thread":
        # The loop stays free, but the thread holds the GIL most of the time.
        return await asyncio.to_thread(timed_modsum, n, iters)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(POOL, timed_modsum, n, iters)


async def handle_modsum(websocket: WebSocket, obj: dict, rid: int,
                        binary: bool, received: int, inflight: set):
    """Runs one modsum request and sends its reply."""
    try:
        n, iters = modsum_args(obj)
        total, start, end = await run_modsum(n, iters)
        reply = {"id": rid, "ok": True, "result": {"total": total},
                 "stats": {"exec": MODE, "impl": "python",
                           "queue_us": (start - received) // 1000,
                           "run_us": (end - start) // 1000}}
    except ProtocolError as e:
        reply = error_reply(rid, e)
    finally:
        inflight.discard(rid)
    await send(websocket, reply, binary)


@app.get("/healthz", response_class=PlainTextResponse)
async def healthz():
    """What the benchmark's launcher waits for."""
    return "ok\n"


@app.websocket("/v1/ws")
async def ws_endpoint(websocket: WebSocket):
    """One connection: reads requests, answers ping at once, and starts a
    task for every modsum."""
    await websocket.accept()
    inflight = set()  # ids of this connection's requests still running
    tasks = set()  # keeps the running tasks referenced until they end
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            received = time.monotonic_ns()
            binary = message.get("bytes") is not None
            rid = 0
            try:
                obj = decode(binary, message["bytes"] if binary
                             else message["text"])
                rid = request_id(obj)
                if rid == 0:
                    raise invalid('"id" must be an integer from 1 to 2^53-1')
                op = check_request(obj)
                if obj.get("reply") is not None:
                    binary = obj["reply"] == "binary"
                if op == "ping":
                    await send(websocket, {
                        "id": rid, "ok": True,
                        "result": {"server_time_ns": time.time_ns()}}, binary)
                    continue
                if op != "modsum":
                    raise ProtocolError(
                        "not_found",
                        f'unknown op "{op}": this server has ping and modsum')
                if rid in inflight:
                    raise invalid(f"id {rid} is already in flight on this "
                                  "connection")
                inflight.add(rid)
            except ProtocolError as e:
                await send(websocket, error_reply(rid, e), binary)
                continue
            # One task per request, so that a connection has many in flight.
            task = asyncio.create_task(handle_modsum(
                websocket, obj, rid, binary, received, inflight))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        # Stops waiting for the results; the computations themselves go on
        # (a thread or a pool worker cannot be interrupted).
        for task in tasks:
            task.cancel()


@app.on_event("shutdown")
def shutdown_pool():
    """Drops the pool's queued jobs on SIGTERM; running ones finish."""
    if POOL is not None:
        POOL.shutdown(wait=False, cancel_futures=True)


def main():
    """Reads the command line and serves until SIGTERM or Ctrl-C."""
    global MODE, POOL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count(),
                        help="process mode: pool size (default: CPUs)")
    opts = parser.parse_args()
    MODE = opts.mode
    if MODE == "process":
        POOL = ProcessPoolExecutor(max_workers=opts.workers)
    uvicorn.run(app, host="127.0.0.1", port=opts.port, ws="websockets",
                log_level="warning")


if __name__ == "__main__":
    main()
