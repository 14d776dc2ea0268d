#!/usr/bin/env bash
# LoadClient vs wrk against nginx `return 200` on loopback, one thread each.
#
#   tests/bench/loadgen_vs_wrk.sh [SECONDS] [CONNECTIONS]
#
# 1. builds the release libraries in build/bench-loadgen and tests/bench/loadgen_pacing.cpp
# 2. starts nginx (worker_processes 1, temp config, a free high loopback port) as a child
# 3. max rate: wrk -t1 -cC -dS, then loadgen_pacing at an unreachable open-loop rate
#    (so it sends as fast as it can: completed/s is its max rate)
# 4. pacing: loadgen_pacing at 5000/s (achieved rate error, send lateness p99)
# nginx is killed on exit, whatever happens. Needs nginx, wrk, cmake, ninja.
set -euo pipefail
SECONDS_RUN=${1:-5}
CONNS=${2:-32}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build/bench-loadgen
TMP=$(mktemp -d)
NGINX_PID=
cleanup() {
  if [[ -n "$NGINX_PID" ]]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUTOVER_BENCH=OFF >/dev/null
cmake --build "$BUILD" --target cutover_loadgen_live cutover_metrics cutover_core -j2 >/dev/null
g++ -std=c++20 -O2 -DNDEBUG -I"$ROOT" "$ROOT/tests/bench/loadgen_pacing.cpp" \
  "$BUILD/sim/loadgen/libcutover_loadgen_live.a" "$BUILD/sim/loadgen/libcutover_loadgen_model.a" \
  "$BUILD/metrics/libcutover_metrics.a" "$BUILD/sim/core/libcutover_core.a" -lpthread -o "$TMP/loadgen_pacing"

start_nginx_return200
PORT=$NGINX_PORT

echo "== wrk -t1 -c$CONNS -d${SECONDS_RUN}s (nginx return 200 on 127.0.0.1:$PORT)"
wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" "http://127.0.0.1:$PORT/" | grep -E "Requests/sec|Latency|requests in|errors"
# The client is open loop: past its capacity requests queue and time out from
# their intended time. Its max rate is the highest open-loop rate it keeps
# (no drop, < 1% sends later than 10 ms); step through rates.
for RATE in ${RATES:-10000 20000 30000 40000}; do
  echo "== loadgen_pacing open loop at $RATE/s, $CONNS connections"
  "$TMP/loadgen_pacing" "$PORT" "$RATE" "$SECONDS_RUN" "$CONNS" | tr ' ' '\n' |
    grep -E "completed_per_s|^sent=|dropped|late_10ms|lateness_p99|cpu_|rss|record"
done
echo "== loadgen_pacing at 5000/s for ${SECONDS_RUN}s"
"$TMP/loadgen_pacing" "$PORT" 5000 "$SECONDS_RUN" "$CONNS" | tr ' ' '\n'
