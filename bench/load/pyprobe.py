"""The probe in Python: pings a crunch server with the Python client's
AsyncClient.ping(), as a Python user's program would, and reports to the
program that started it (crunchbench, through package bench/load).

It speaks the probe process protocol of bench/load/probe_process.go: one
JSON line on stdin configures it ({"Addr": "host:port", "Interval": ns,
"Timeout": ns}); it dials and answers {"ready": true} (or {"error": ...});
the next line is the schedule ({"FromNS", "UntilNS", "Windows"}, Unix
nanoseconds). It pings every Interval from FromNS until UntilNS, each ping
on schedule whether or not the previous ones were answered, reports
{"progress": [sent, answered, lost]} every 250 ms, and last
{"pings": {"fates": [...], "abnormal_closes": n, "conn_errors": [...]}}:
the parent sums the fates up with the same code as its own probe's, so that
both probes' percentiles mean the same. Closing stdin stops it.

Needs numpy and websockets, and the crunch package on sys.path
(PYTHONPATH=clients/python).
"""

import asyncio
import json
import sys
import time


def report(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


try:
    from websockets.exceptions import ConnectionClosed

    import crunch
except Exception as e:  # what is missing goes to the parent, not a traceback
    report({"error": f"pyprobe: {type(e).__name__}: {e}"})
    sys.exit(1)


class Probe:
    """One connection that carries nothing but pings."""

    def __init__(self, addr, timeout):
        self.addr, self.timeout = addr, timeout
        self.client = None
        self.fates = []
        self.sent = self.answered = self.lost = 0
        self.abnormal_closes = 0
        self.errors = {}  # message -> count
        self.redial = None  # the task dialling again after a failure

    async def dial(self):
        self.client = await crunch.connect(self.addr)

    def error(self, msg):
        self.errors[msg] = self.errors.get(msg, 0) + 1

    async def ping(self, due_ns):
        """One ping, due at due_ns (Unix ns): its fate goes to fates."""
        self.sent += 1
        fate = {"sent_ns": due_ns}
        client = self.client
        try:
            if client is None:
                raise ConnectionError("not connected")
            async with asyncio.timeout(self.timeout):
                rtt = await client.ping()
            fate["rtt_ns"] = int(rtt * 1e9)
            self.answered += 1
        except TimeoutError:
            fate["lost"] = True
        except crunch.CrunchError as e:
            fate["lost"], fate["code"] = True, e.code
        except asyncio.CancelledError:
            self.sent -= 1  # stopped: not the server's fault
            raise
        except (ConnectionClosed, ConnectionError, OSError) as e:
            fate["lost"] = True
            self.failed(client, e)
        if fate.get("lost"):
            self.lost += 1
        self.fates.append(fate)

    def failed(self, client, e):
        """The connection broke: count it once, and dial again."""
        if client is not None and client is self.client:
            self.abnormal_closes += 1
            self.error(f"{type(e).__name__}: {e}")
            self.client = None
        if self.client is None and (self.redial is None or self.redial.done()):
            self.redial = asyncio.ensure_future(self.dial_again())

    async def dial_again(self):
        try:
            await self.dial()
        except Exception as e:
            self.error(f"dialling again: {type(e).__name__}: {e}")

    def result(self):
        return {
            "fates": self.fates,
            "abnormal_closes": self.abnormal_closes,
            "conn_errors": [{"message": m, "count": n} for m, n in self.errors.items()],
        }


async def main():
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        cfg = json.loads(await stdin.readline())
    except ValueError as e:
        report({"error": f"pyprobe: reading the configuration: {e}"})
        return 1
    interval_ns = cfg.get("Interval") or 10_000_000
    timeout = (cfg.get("Timeout") or 1_000_000_000) / 1e9
    probe = Probe(cfg["Addr"], timeout)
    try:
        await probe.dial()
    except Exception as e:
        report({"error": f"pyprobe: dialling {cfg['Addr']}: {type(e).__name__}: {e}"})
        return 1
    report({"ready": True})
    try:
        sched = json.loads(await stdin.readline())
    except ValueError as e:
        report({"error": f"pyprobe: reading the schedule: {e}"})
        return 1

    stop = asyncio.Event()

    async def watch_stdin():  # the parent closes stdin to stop the probe
        while await stdin.read(4096):
            pass
        stop.set()

    async def progress():
        while True:
            await asyncio.sleep(0.25)
            report({"progress": [probe.sent, probe.answered, probe.lost]})

    watcher = asyncio.ensure_future(watch_stdin())
    reporter = asyncio.ensure_future(progress())
    from_ns, until_ns = sched["FromNS"], sched["UntilNS"]
    # The schedule is in wall-clock time; the loop sleeps by its monotonic
    # clock: start is FromNS on the latter.
    start = loop.time() + (from_ns - time.time_ns()) / 1e9
    pings = set()
    k = 0
    while not stop.is_set():
        due = start + k * interval_ns / 1e9
        if from_ns + k * interval_ns >= until_ns:
            break
        await asyncio.sleep(max(due - loop.time(), 0))
        if stop.is_set():
            break
        # Late by more than an interval: skip the pings missed, as Go's
        # ticker drops ticks.
        k = max(k, int((loop.time() - start) * 1e9 // interval_ns))
        t = asyncio.ensure_future(probe.ping(from_ns + k * interval_ns))
        pings.add(t)
        t.add_done_callback(pings.discard)
        k += 1
    if pings:
        if stop.is_set():
            for t in pings:
                t.cancel()
        await asyncio.gather(*pings, return_exceptions=True)
    reporter.cancel()
    report({"pings": probe.result()})
    if probe.client is not None:
        await probe.client.close()
    watcher.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
