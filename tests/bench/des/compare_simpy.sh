#!/usr/bin/env bash
# The simulation engine against the same queueing model in SimPy, in one run:
# simulated requests per CPU second of each, and the ratio (goal >= 100x).
#
#   tests/bench/des/compare_simpy.sh [RATE] [SECONDS] [INSTANCES] [SLOTS] [BENCH]
#
# RATE/s Poisson arrivals for SECONDS of virtual time on INSTANCES servers,
# lognormal service time (p50 2 ms, p99 20 ms), one 40 us hop each way;
# SLOTS > 0: at most SLOTS in service per instance, the rest queue (M/G/c).
# SimPy is slow, so it simulates SECONDS/10 (at least 1 s): both figures are
# rates (requests per CPU second), which do not depend on the run length.
# BENCH: the des_sim_bench binary (default build/release/tests/bench/des_sim_bench;
# configure with -DCUTOVER_BENCH=ON). Needs python3-simpy (apt-get install python3-simpy).
set -euo pipefail
cd "$(dirname "$0")/../../.."
RATE=${1:-50000}
SECONDS_=${2:-20}
INSTANCES=${3:-20}
SLOTS=${4:-16}
BENCH=${5:-build/release/tests/bench/des_sim_bench}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if [ ! -x "$BENCH" ]; then echo "no $BENCH: build des_sim_bench (CUTOVER_BENCH=ON, release)" >&2; exit 2; fi
if ! "$PY" -c 'import SimPy' 2>/dev/null && ! "$PY" -c 'import simpy' 2>/dev/null; then
  echo "SimPy missing: apt-get install python3-simpy" >&2; exit 2
fi
PY_SECONDS=$(( SECONDS_ / 10 > 1 ? SECONDS_ / 10 : 1 ))
echo "model: poisson ${RATE}/s, ${INSTANCES} instances x ${SLOTS} slots (0: unlimited), lognormal p50 2ms p99 20ms"
des_line=$("$BENCH" "$RATE" "$SECONDS_" "$INSTANCES" 3 "$SLOTS" | grep '^des ')
py_line=$("$PY" tests/bench/des/simpy_model.py "$RATE" "$PY_SECONDS" "$INSTANCES" "$SLOTS" 1)
echo "cutover des (${SECONDS_} s virtual, best of 3): $des_line"
echo "SimPy (${PY_SECONDS} s virtual):                $py_line"
des_rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$des_line")
py_rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$py_line")
awk -v a="$des_rate" -v b="$py_rate" 'BEGIN {
  printf "requests per CPU second: des %.2f M, SimPy %.3f M, ratio %.0fx (goal >= 100x)\n", a / 1e6, b / 1e6, a / b }'
