#!/bin/bash
# wake.sh MODE: wake.py beside a busy loop pinned to CPU 1, the loop being
#   none                 no loop
#   idle-same            SCHED_IDLE, in this shell's session (scheduling group)
#   idle-other           SCHED_IDLE, in a session of its own (setsid)
#   idle-other-nice19    the same, its autogroup at nice 19
#   batch19-other        SCHED_BATCH nice 19, in a session of its own
#   normal-other         normal, in a session of its own
#   idle-cgroup          normal class, in a cpu cgroup with cpu.idle=1 (root, cgroup v1)
# e.g.  for m in none idle-same idle-other idle-other-nice19 idle-cgroup; do bench/sched/wake.sh $m; done
set -e
MODE=$1
DIR=$(dirname "$0")
LOOP=(timeout 6 /usr/bin/python3 -c 'while 1: pass')
L=""
case $MODE in
  none) ;;
  idle-same) taskset -c 1 chrt -i 0 "${LOOP[@]}" & L=$! ;;
  idle-other) setsid taskset -c 1 chrt -i 0 "${LOOP[@]}" & L=$! ;;
  idle-other-nice19) setsid taskset -c 1 chrt -i 0 "${LOOP[@]}" & L=$!; sleep 0.1; echo 19 > /proc/$L/autogroup ;;
  batch19-other) setsid taskset -c 1 chrt -b 0 nice -n 19 "${LOOP[@]}" & L=$! ;;
  normal-other) setsid taskset -c 1 "${LOOP[@]}" & L=$! ;;
  idle-cgroup)
    CG=/sys/fs/cgroup/cpu/crunch-wake-$$
    mkdir "$CG"; echo 1 > "$CG/cpu.idle"
    trap 'sleep 0.3; rmdir "$CG"' EXIT
    setsid taskset -c 1 "${LOOP[@]}" & L=$!
    sleep 0.2
    for p in $L $(pgrep -P $L); do echo $p > "$CG/cgroup.procs"; done ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
sleep 0.3
TAG=$MODE /usr/bin/python3 "$DIR/wake.py" 800
if [ -n "$L" ]; then wait $L || true; fi
