#!/usr/bin/env bash
# Maximum throughput of one fake service beside nginx `return 200`, with wrk
# on loopback in the same run (issue 4 goal: fake service >= 0.8x nginx).
#
#   tests/bench/fake_service_wrk.sh [SECONDS] [CONNECTIONS] [RUNS]
#
# - CUTOVER=path/to/cutover (default build/release/sim/cli/cutover; built in
#   build/bench-fake-service when missing)
# - one fake service: latency fixed 0, 2-byte body, no lifecycle log
# - nginx: worker_processes 1, master_process off, temp config on a free high
#   loopback port, `return 200 "ok"`, keep-alive unlimited, access log off
# - wrk -t1 -cC -dS against each, RUNS times interleaved; prints each run,
#   the medians and the ratio fake/nginx. Both children are killed on exit.
# Needs nginx, wrk, python3 (for a free port).
set -euo pipefail
SECONDS_RUN=${1:-5}
CONNS=${2:-32}
RUNS=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CUTOVER=${CUTOVER:-$ROOT/build/release/sim/cli/cutover}
TMP=$(mktemp -d)
NGINX_PID=
FAKE_PID=
cleanup() {
  for pid in "$NGINX_PID" "$FAKE_PID"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

if [[ ! -x "$CUTOVER" ]]; then
  BUILD=$ROOT/build/bench-fake-service
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUTOVER_BENCH=OFF >/dev/null
  cmake --build "$BUILD" --target cutover -j2 >/dev/null
  CUTOVER=$BUILD/sim/cli/cutover
fi


# --- nginx ---------------------------------------------------------------------
start_nginx_return200

# --- fake service ----------------------------------------------------------------
"$CUTOVER" fake-service --instance bench-1 --port 0 \
  --spec-json '{"latency":{"distribution":"fixed","value":0},"response_bytes":2}' \
  >"$TMP/fake.out" 2>"$TMP/fake.err" &
FAKE_PID=$!
for _ in $(seq 1 200); do
  grep -q '^port=' "$TMP/fake.out" 2>/dev/null && break
  sleep 0.05
done
FAKE_PORT=$(sed -n 's/^port=//p' "$TMP/fake.out")
[[ -n "$FAKE_PORT" ]] || { echo "fake service did not report a port" >&2; cat "$TMP/fake.err" >&2; exit 1; }
wait_port "$FAKE_PORT"

rps() {  # wrk's Requests/sec for one run; fails on socket errors or non-2xx
  local out
  out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" "http://127.0.0.1:$1/")
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then echo "$out" >&2; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "wrk -t1 -c$CONNS -d${SECONDS_RUN}s, $RUNS runs each, interleaved; cutover: $CUTOVER"
NGINX_RUNS=()
FAKE_RUNS=()
for i in $(seq 1 "$RUNS"); do
  n=$(rps "$NGINX_PORT"); NGINX_RUNS+=("$n")
  f=$(rps "$FAKE_PORT"); FAKE_RUNS+=("$f")
  echo "run $i: nginx $n req/s, fake-service $f req/s"
done
N=$(median "${NGINX_RUNS[@]}")
F=$(median "${FAKE_RUNS[@]}")
echo "median: nginx $N req/s, fake-service $F req/s"
awk -v f="$F" -v n="$N" 'BEGIN { printf "ratio fake-service/nginx: %.2f (goal >= 0.80)\n", f / n }'
