"""stall.py SECONDS OUT: spin on CPU 1 (pinned) reading the clock, and
write to OUT (JSON) every gap of more than 0.5 ms between two reads, as
[start, end] in CLOCK_MONOTONIC seconds. stall.sh sorts the gaps into those
when another task ran on the CPU and those when none did."""
import json
import os
import sys
import time

os.sched_setaffinity(0, {1})
secs, out = float(sys.argv[1]), sys.argv[2]
gaps = []
end = time.perf_counter() + secs
last = time.perf_counter()
while last < end:
    now = time.perf_counter()
    if now - last > 0.0005:
        gaps.append((last, now))
    last = now
json.dump(gaps, open(out, "w"))
