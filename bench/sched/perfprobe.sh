#!/bin/bash
# perfprobe.sh [SERVE FLAGS]: who a Python client waits behind. bin/crunch
# serve (its own session), 8 connections of long jobs on $EXEC (pool or
# subprocess, default pool; pyload.py, its own session) and a Python probe
# (pyping.py, its own session); `perf sched record` for 3 s of it, then
# blame.py on the probe and on the server's threads, the compute threads
# (those below normal class, and every thread of the workers) counted
# apart. Needs perf (apt-get install linux-perf) and /usr/bin/python3 with
# numpy and websockets. E.g.
#   EXEC=subprocess bench/sched/perfprobe.sh --compute-cgroup=off
#   EXEC=subprocess bench/sched/perfprobe.sh        # the default flags
cd "$(dirname "$0")/../.." || exit 1
DIR=bench/sched
OUT=$(mktemp -d)
SRV=""
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$OUT"' EXIT
PORT=$((20000 + RANDOM % 10000)); A=127.0.0.1:$PORT
export PYTHONPATH=$PWD/clients/python
EXEC=${EXEC:-pool}
setsid bin/crunch serve --addr $A --log-level warn "$@" > $OUT/server.log 2>&1 &
SRV=$!
for _ in $(seq 50); do curl -sf http://$A/healthz >/dev/null && break; sleep 0.1; done
setsid /usr/bin/python3 $DIR/pyload.py $A 8 7 1500000000 $EXEC > /dev/null &
L=$!
sleep 0.7
# The compute threads: those below normal class (or in the compute cgroup).
COMPUTE=$(for t in /proc/$SRV/task/*; do
  if [ "$(awk '{print $41}' $t/stat)" != 0 ]; then echo -n "$(basename $t),"; fi; done
  for w in $(cat /proc/$SRV/task/*/children); do for t in /proc/$w/task/*; do echo -n "$(basename $t),"; done; done)
export COMPUTE
TAG=probe setsid /usr/bin/python3 $DIR/pyping.py $A 0.5 5 &
P=$!
sleep 1
perf sched record -o $OUT/perf.data -- sleep 3 >/dev/null 2>&1
wait $P
wait $L
kill $SRV; wait $SRV; PID=$SRV; SRV=""
perf sched timehist -i $OUT/perf.data 2>/dev/null > $OUT/timehist.txt
/usr/bin/python3 $DIR/blame.py $OUT/timehist.txt "python3\[$P\]" "python probe  "
/usr/bin/python3 $DIR/blame.py $OUT/timehist.txt "crunch\[[0-9]+/$PID\]" "server threads"
