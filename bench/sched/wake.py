"""Wake-up latency across CPUs: a waker pinned to CPU 0 writes its clock to a
pipe every 5 ms; a sleeper pinned to CPU 1 reads it. Prints p50/p99/max of
write-to-read in ms. Run it beside a busy loop on CPU 1 (wake.sh) to see
whether the loop yields at once to the woken thread.

    /usr/bin/python3 bench/sched/wake.py [N]
"""
import os
import struct
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 800
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.sched_setaffinity(0, {0})
    for _ in range(n):
        time.sleep(0.005)
        os.write(w, struct.pack("d", time.perf_counter()))
    os._exit(0)
os.close(w)
os.sched_setaffinity(0, {1})
lat = []
while True:
    b = os.read(r, 8)
    if not b:
        break
    lat.append((time.perf_counter() - struct.unpack("d", b)[0]) * 1e3)
os.waitpid(pid, 0)
lat.sort()
print(f"{os.environ.get('TAG', '')}: wake-up p50 {lat[len(lat) // 2]:.3f} "
      f"p99 {lat[int(len(lat) * .99)]:.3f} max {lat[-1]:.3f} ms ({len(lat)})")
