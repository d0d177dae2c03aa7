#!/bin/bash
# stall.sh: stalls of a thread spinning alone on CPU 1 for 4 s, under
# `perf sched record` (CLOCK_MONOTONIC, the clock stall.py reads): the
# gaps over 0.5 ms when another task ran on the CPU (the guest's
# scheduler) and those when none did (interrupts, or the host descheduling
# the vCPU).
cd "$(dirname "$0")" || exit 1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
perf sched record -k CLOCK_MONOTONIC -o "$OUT/perf.data" -- /usr/bin/python3 stall.py 4 "$OUT/gaps.json" >/dev/null 2>&1
perf sched timehist -i "$OUT/perf.data" 2>/dev/null > "$OUT/timehist.txt"
/usr/bin/python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
gaps = json.load(open(f"{out}/gaps.json"))
segs = []
for line in open(f"{out}/timehist.txt"):
    m = re.match(r'\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$', line)
    if m and int(m.group(2)) == 1:
        t, run = float(m.group(1)), float(m.group(6)) / 1e3
        segs.append((t - run, t, m.group(3)))
def other_ran(a, b):
    return any(s[1] > a and s[0] < b and "python3" not in s[2] for s in segs)
guest = [(a, b) for a, b in gaps if other_ran(a, b)]
rest = [(b - a) * 1e3 for a, b in gaps if not other_ran(a, b)]
print(f"gaps > 0.5 ms: {len(gaps)}; another task ran: {len(guest)}; none did: {len(rest)}"
      + (f", {min(rest):.2f}–{max(rest):.2f} ms" if rest else ""))
PY
