#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build (release),
# and run the quickstart scenario end to end. Its report lands in
# reports/out/quickstart/. Extra arguments go to `cutover run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target cutover
exec build/release/sim/cli/cutover run scenarios/quickstart.yaml "$@"
