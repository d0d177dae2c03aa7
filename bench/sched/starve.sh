#!/bin/bash
# starve.sh LOOPS [SERVE FLAGS]: does a busy machine, which starves the
# server's compute threads in their cgroup, stall the server? bin/crunch
# serve (its own session), LOOPS busy loops (each in a session of its own,
# normal priority), and starve (main.go: 4 connections sorting 10^7 doubles
# on the pool, a probe pinging every 10 ms) for 10 s. E.g.
#   bench/sched/starve.sh 4                          # kernels on shadows in the compute cgroup
#   bench/sched/starve.sh 4 --compute-cgroup off     # kernels on the pool's own threads
cd "$(dirname "$0")/../.." || exit 1
LOOPS=${1:-4}; shift
OUT=$(mktemp -d)
SRV=""; PIDS=""
trap 'kill $PIDS $SRV 2>/dev/null; rm -rf "$OUT"' EXIT
go build -o $OUT/starve ./bench/sched/starve || exit 1
PORT=$((20000 + RANDOM % 10000)); A=127.0.0.1:$PORT
setsid bin/crunch serve --addr $A --log-level warn "$@" > $OUT/server.log 2>&1 &
SRV=$!
for _ in $(seq 50); do curl -sf http://$A/healthz >/dev/null && break; sleep 0.1; done
for _ in $(seq $LOOPS); do setsid bash -c 'while :; do :; done' & PIDS="$PIDS $!"; done
$OUT/starve $A 4 10
