#!/usr/bin/env bash
# Soak test of the live harness (issue 10): RATE requests/s for SECONDS with a
# switch every 2 s between two live pools; zero dropped, runner RSS and open
# fds sampled from outside (start, warm, end), no fd leak. Figures on stdout
# and in reports/out/soak/soak.json. See docs/reliability.md.
#
#   scripts/soak.sh [SECONDS] [RATE]      default: 60 3000
#
# Uses $CUTOVER_BINARY if set, else build/release/sim/cli/cutover (built with
# the release preset when missing). Exit 0 when the soak held, 1 when not.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
rate="${2:-3000}"
binary="${CUTOVER_BINARY:-build/release/sim/cli/cutover}"
if [[ ! -x "$binary" ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target cutover
fi
exec python3 tests/soak/soak.py --binary "$binary" --seconds "$seconds" --rate "$rate" --out reports/out/soak
