#!/usr/bin/env bash
# LoadClient vs wrk against nginx `return 200` on loopback, one thread each.
#
#   tests/bench/loadgen_vs_wrk.sh [SECONDS] [CONNECTIONS] [ROUNDS]
#
# 1. builds the release libraries in build/bench-loadgen and tests/bench/loadgen_pacing.cpp
# 2. starts nginx (worker_processes 1, temp config, a free high loopback port) as a child
# 3. max rate, closed loop, CONNECTIONS connections each, interleaved ROUNDS times:
#    wrk -t1 -cC -dS, then loadgen_pacing closed (C workers, no think time,
#    every request recorded); prints each and the medians and their ratio
# 4. pacing: loadgen_pacing at 5000/s, ROUNDS times (achieved rate error,
#    send lateness p50/p99, sends later than 10 ms, the client's CPU): medians
# 5. RATES="10000 20000" also steps the open loop through those rates
# 6. MEMORY_SECONDS=600 also runs one open loop at 5000/s that long and prints
#    the client's peak RSS (the goal: a 10-minute run at 5k/s under 200 MB)
# nginx is killed on exit, whatever happens. Needs nginx, wrk, cmake, ninja.
set -euo pipefail
SECONDS_RUN=${1:-5}
CONNS=${2:-32}
ROUNDS=${3:-3}
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

median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

echo "== max rate, closed loop, one thread, $CONNS connections, ${SECONDS_RUN}s, $ROUNDS rounds (nginx return 200 on 127.0.0.1:$PORT)"
: >"$TMP/wrk" ; : >"$TMP/lg"
for i in $(seq 1 "$ROUNDS"); do
  w=$(wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
  line=$("$TMP/loadgen_pacing" "$PORT" closed "$SECONDS_RUN" "$CONNS")
  l=$(echo "$line" | field completed_per_s)
  echo "round $i: wrk=$w/s loadgen=$l/s (dropped=$(echo "$line" | field dropped) cpu_pct=$(echo "$line" | field client_thread_cpu_pct) latency_p99_ms=$(echo "$line" | field latency_p99_ms))"
  echo "$w" >>"$TMP/wrk"; echo "$l" >>"$TMP/lg"
done
W=$(median <"$TMP/wrk"); L=$(median <"$TMP/lg")
echo "median: wrk=$W/s loadgen=$L/s ratio=$(awk -v l="$L" -v w="$W" 'BEGIN {printf "%.2f", l / w}')x"

if [[ -n "${RATES:-}" ]]; then
  for RATE in $RATES; do
    echo "== loadgen_pacing open loop at $RATE/s, $CONNS connections"
    "$TMP/loadgen_pacing" "$PORT" "$RATE" "$SECONDS_RUN" "$CONNS" | tr ' ' '\n' |
      grep -E "completed_per_s|^sent=|dropped|late_10ms|lateness_p99|cpu_|rss|record"
  done
fi

echo "== pacing, open loop at 5000/s, $CONNS connections, ${SECONDS_RUN}s, $ROUNDS rounds"
for k in rate_error_pct lateness_p50_ms lateness_p99_ms late_10ms client_thread_cpu_pct; do : >"$TMP/$k"; done
for i in $(seq 1 "$ROUNDS"); do
  line=$("$TMP/loadgen_pacing" "$PORT" 5000 "$SECONDS_RUN" "$CONNS")
  echo -n "round $i (load $(cut -d' ' -f1 /proc/loadavg)):"
  for k in rate_error_pct lateness_p50_ms lateness_p99_ms late_10ms client_thread_cpu_pct; do
    v=$(echo "$line" | field "$k"); echo -n " $k=$v"; echo "$v" >>"$TMP/$k"
  done
  echo
done
echo -n "median:"
for k in rate_error_pct lateness_p50_ms lateness_p99_ms late_10ms client_thread_cpu_pct; do echo -n " $k=$(median <"$TMP/$k")"; done
echo
echo "== record size: $("$TMP/loadgen_pacing" "$PORT" 5000 1 "$CONNS" | tr ' ' '\n' | grep -E '^record_bytes|capacity_bytes' | tr '\n' ' ')"
if [[ -n "${MEMORY_SECONDS:-}" ]]; then
  echo "== memory, open loop at 5000/s for ${MEMORY_SECONDS}s"
  "$TMP/loadgen_pacing" "$PORT" 5000 "$MEMORY_SECONDS" "$CONNS" | tr ' ' '\n' |
    grep -E '^(intended|dropped|rate_error_pct|lateness_p99_ms|peak_rss_mb|record_bytes|records_capacity_bytes_per_record)=' | tr '\n' ' '
  echo
fi
