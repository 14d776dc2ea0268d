#!/usr/bin/env bash
# Throughput and latency of cutover's switcher beside nginx and HAProxy as
# reverse proxies, with wrk on loopback in the same run (issue 3 goal: our
# req/s >= nginx's and our p99 no worse).
#
#   tests/bench/proxy_wrk.sh [SECONDS] [CONNECTIONS] [RUNS]
#
# - backend: nginx `return 200 "ok"` (worker_processes 1), shared by all
# - direct:  wrk straight at the backend
# - nginx:   a second nginx, worker_processes 1, proxy_pass to an upstream
#            with keepalive 64 (HTTP/1.1, Connection "")
# - haproxy: nbthread 1, mode http, http-reuse always
# - cutover: `cutover switcher --config FILE` (one I/O thread), pool blue =
#            the backend, active blue, quiet
# - wrk -t1 -cC -dS --latency against each, RUNS times interleaved; prints
#   each run, then a table of medians (req/s, p50, p99) and the ratios.
# CUTOVER=path/to/cutover (default build/release/sim/cli/cutover; built in
# build/bench-proxy when missing or without the `switcher` subcommand).
# Needs nginx, haproxy, wrk, python3 (for free ports). Every child is killed on exit.
set -euo pipefail
SECONDS_RUN=${1:-5}
CONNS=${2:-32}
RUNS=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CUTOVER=${CUTOVER:-$ROOT/build/release/sim/cli/cutover}
TMP=$(mktemp -d)
NGINX_PID=
PROXY_NGINX_PID=
HAPROXY_PID=
SWITCHER_PID=
cleanup() {
  for pid in "$SWITCHER_PID" "$HAPROXY_PID" "$PROXY_NGINX_PID" "$NGINX_PID"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

if [[ ! -x "$CUTOVER" ]] || ! "$CUTOVER" switcher --help >/dev/null 2>&1; then
  BUILD=$ROOT/build/bench-proxy
  echo "building cutover (release) in $BUILD" >&2
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUTOVER_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$BUILD" --target cutover -j2 >/dev/null
  CUTOVER=$BUILD/sim/cli/cutover
fi

# --- backend: nginx return 200 (sets NGINX_PORT, NGINX_PID) -----------------------------
start_nginx_return200
BACKEND_PORT=$NGINX_PORT

# --- nginx as a reverse proxy ------------------------------------------------------------
NGINX_PROXY_PORT=$(free_port)
mkdir -p "$TMP/nginxproxy"
cat >"$TMP/nginxproxy.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $TMP/nginxproxy.pid;
error_log $TMP/nginxproxy/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginxproxy; proxy_temp_path $TMP/nginxproxy; fastcgi_temp_path $TMP/nginxproxy;
  uwsgi_temp_path $TMP/nginxproxy; scgi_temp_path $TMP/nginxproxy;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$NGINX_PROXY_PORT;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -p "$TMP" -c "$TMP/nginxproxy.conf" &
PROXY_NGINX_PID=$!
wait_port "$NGINX_PROXY_PORT"

# --- HAProxy -------------------------------------------------------------------------------
HAPROXY_PORT=$(free_port)
cat >"$TMP/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND_PORT
CONF
haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
wait_port "$HAPROXY_PORT"

# --- cutover's switcher --------------------------------------------------------------------
cat >"$TMP/switcher.yaml" <<CONF
listen: 127.0.0.1:0
admin: 127.0.0.1:0
active: blue
pools:
  blue: [127.0.0.1:$BACKEND_PORT]
CONF
"$CUTOVER" switcher --config "$TMP/switcher.yaml" --quiet 2>"$TMP/switcher.err" &
SWITCHER_PID=$!
SWITCHER_PORT=
for _ in $(seq 1 200); do
  SWITCHER_PORT=$(sed -n 's/^switcher port \([0-9]*\).*/\1/p' "$TMP/switcher.err" 2>/dev/null || true)
  [[ -n "$SWITCHER_PORT" ]] && break
  sleep 0.05
done
[[ -n "$SWITCHER_PORT" ]] || { echo "switcher did not report a port" >&2; cat "$TMP/switcher.err" >&2; exit 1; }
wait_port "$SWITCHER_PORT"

# --- measure ---------------------------------------------------------------------------------
# One wrk run: "rps p50_ms p99_ms"; socket errors or non-2xx answers are shown.
measure() {
  local out
  out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency "http://127.0.0.1:$1/")
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then echo "$out" >&2; fi
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v
    }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%s %.3f %.3f\n", rps, p50, p99 }' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

NAMES=(direct nginx haproxy cutover)
PORTS=("$BACKEND_PORT" "$NGINX_PROXY_PORT" "$HAPROXY_PORT" "$SWITCHER_PORT")
declare -A RPS P50 P99
echo "wrk -t1 -c$CONNS -d${SECONDS_RUN}s --latency, $RUNS runs each, interleaved; cutover: $CUTOVER"
for i in $(seq 1 "$RUNS"); do
  line="run $i:"
  for k in "${!NAMES[@]}"; do
    read -r r p5 p9 < <(measure "${PORTS[$k]}")
    RPS[${NAMES[$k]}]+="$r "
    P50[${NAMES[$k]}]+="$p5 "
    P99[${NAMES[$k]}]+="$p9 "
    line+=" ${NAMES[$k]} $r req/s p99 $p9 ms;"
  done
  echo "$line"
done

# shellcheck disable=SC2086  # word splitting of the collected runs is intended
{
  printf '\n| target | req/s | p50 ms | p99 ms | req/s vs direct | req/s vs nginx | p99 vs nginx |\n'
  printf '|---|---|---|---|---|---|---|\n'
  D=$(median ${RPS[direct]})
  N=$(median ${RPS[nginx]})
  N99=$(median ${P99[nginx]})
  for name in "${NAMES[@]}"; do
    r=$(median ${RPS[$name]}); p5=$(median ${P50[$name]}); p9=$(median ${P99[$name]})
    awk -v n="$name" -v r="$r" -v p5="$p5" -v p9="$p9" -v d="$D" -v ng="$N" -v n99="$N99" \
      'BEGIN { printf "| %s | %.0f | %.3f | %.3f | %.2fx | %.2fx | %.2fx |\n", n, r, p5, p9, r / d, r / ng, p9 / n99 }'
  done
}
echo
echo "goal (issue 3): cutover req/s >= nginx (>= 1.00x) and cutover p99 <= nginx (<= 1.00x); noise ~15%"
