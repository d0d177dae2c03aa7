#!/bin/bash
# idleprobe.sh MODE [REPS]: the responsive mode's Go and Python probes
# against an unloaded crunch server (crunchbench -only responsive -execs
# none), while two busy loops, which stand for compute threads, run as MODE:
#   none            no loops: the probes' floor
#   idle-cgroup     normal class, in a cpu cgroup with cpu.idle=1 (what
#                   --compute-priority idle makes)
#   least           normal class, in a cpu cgroup of the least weight
#                   (cpu.shares=2)
#   least-batch19   SCHED_BATCH nice 19, in that cgroup (what
#                   --compute-priority low makes)
#   least-idle      SCHED_IDLE, in that cgroup
#   batch19-session SCHED_BATCH nice 19, in a session of its own, no cgroup
# Needs root and cgroup v1's cpu hierarchy at /sys/fs/cgroup/cpu. E.g.
#   for m in none idle-cgroup least-batch19; do bench/sched/idleprobe.sh $m; done
cd "$(dirname "$0")/../.." || exit 1
MODE=$1; REPS=${2:-3}
CG=/sys/fs/cgroup/cpu/crunch-idleprobe-$$
PIDS=""
trap 'kill $PIDS 2>/dev/null; sleep 0.3; rmdir "$CG" 2>/dev/null' EXIT
loop() { setsid "$@" bash -c 'while :; do :; done' & PIDS="$PIDS $!"; }
case $MODE in
  none) ;;
  idle-cgroup) mkdir "$CG" && echo 1 > "$CG/cpu.idle" || exit 1 ;;
  least | least-batch19 | least-idle) mkdir "$CG" && echo 2 > "$CG/cpu.shares" || exit 1 ;;
  batch19-session) ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
for _ in 1 2; do
  case $MODE in
    idle-cgroup | least) loop ;;
    least-batch19 | batch19-session) loop nice -n 19 chrt -b 0 ;;
    least-idle) loop chrt -i 0 ;;
  esac
done
if [ -d "$CG" ]; then sleep 0.2; for p in $PIDS; do echo "$p" > "$CG/tasks"; done; fi
go build -o /tmp/crunchbench-idleprobe ./bench/cmd/crunchbench || exit 1
echo "# $MODE: two busy loops$( [ -d "$CG" ] && echo " in $CG ($(cat "$CG/cpu.idle" 2>/dev/null | sed 's/^/cpu.idle=/'), cpu.shares=$(cat "$CG/cpu.shares"))")"
/tmp/crunchbench-idleprobe -only responsive -execs none -priorities idle -reps "$REPS" -duration 3s 2>&1 |
  grep -E '^\| (exec|none) '
