"""blame.py TIMEHIST PATTERN LABEL: from `perf sched timehist` output, the
scheduling delay of the tasks whose name matches PATTERN (a regular
expression, e.g. 'python3\\[1234\\]'), and who ran on their CPU while they
waited 0.5 ms or more, by command. Threads whose ids are in the environment
variable COMPUTE (comma-separated) are counted as "SERVER COMPUTE"."""
import collections
import os
import re
import sys

rows = []
for line in open(sys.argv[1]):
    m = re.match(r'\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$', line)
    if m:
        t, cpu, task, _, delay, run = m.groups()
        rows.append((float(t), int(cpu), task.strip(), float(delay), float(run)))
pat = re.compile(sys.argv[2])
compute = set(filter(None, os.environ.get("COMPUTE", "").split(",")))
by_cpu = collections.defaultdict(list)
for r in rows:
    by_cpu[r[1]].append(r)
blame, delays = collections.Counter(), []
for end, cpu, task, delay, run in rows:
    if not pat.search(task):
        continue
    delays.append(delay)
    if delay < 0.5:
        continue
    start = end - run / 1e3
    ready = start - delay / 1e3
    for x_end, _, x_task, _, x_run in by_cpu[cpu]:
        x_start = x_end - x_run / 1e3
        if x_end > ready and x_start < start:
            m = re.search(r'\[(\d+)', x_task)
            name = "SERVER COMPUTE" if m and m.group(1) in compute else re.sub(r'\[.*', '', x_task)
            blame[name] += 1e3 * (min(x_end, start) - max(x_start, ready))
delays.sort()
p99 = delays[int(len(delays) * .99)] if delays else 0
print(f"{sys.argv[3]}: {len(delays)} runs, sched delay p99 {p99:.2f} ms, max {max(delays, default=0):.2f}; "
      "waited >= 0.5 ms behind (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in blame.most_common(6)))
