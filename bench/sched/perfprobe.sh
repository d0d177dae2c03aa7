#!/bin/bash
# perfprobe.sh [SERVE FLAGS]: who a Python client waits behind. bin/crunch
# serve (its own session, --workers 0), 8 connections of long pool jobs
# (pyload.py, its own session) and a Python probe (pyping.py, its own
# session); `perf sched record` for 3 s of it, then blame.py on the probe
# and on the server's threads. Needs perf (apt-get install linux-perf) and
# /usr/bin/python3 with numpy and websockets. E.g.
#   bench/sched/perfprobe.sh --compute-cgroup=off    # as before it existed
#   bench/sched/perfprobe.sh                         # the default
cd "$(dirname "$0")/../.." || exit 1
DIR=bench/sched
OUT=$(mktemp -d)
SRV=""
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$OUT"' EXIT
PORT=$((20000 + RANDOM % 10000)); A=127.0.0.1:$PORT
export PYTHONPATH=$PWD/clients/python
setsid bin/crunch serve --addr $A --workers 0 --log-level warn "$@" > $OUT/server.log 2>&1 &
SRV=$!
for _ in $(seq 50); do curl -sf http://$A/healthz >/dev/null && break; sleep 0.1; done
setsid /usr/bin/python3 $DIR/pyload.py $A 8 7 1500000000 > /dev/null &
L=$!
sleep 0.7
# The compute threads: those below normal class (or in the compute cgroup).
COMPUTE=$(for t in /proc/$SRV/task/*; do
  if [ "$(awk '{print $41}' $t/stat)" != 0 ] || grep -q crunch-compute $t/cgroup; then echo -n "$(basename $t),"; fi; done)
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
