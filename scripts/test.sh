#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing, build and
# run every test under the `dev` preset (debug, warnings as errors) and then
# under `asan` (AddressSanitizer + UndefinedBehaviorSanitizer) and `tsan`
# (ThreadSanitizer).
# PRESETS="dev" scripts/test.sh runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
for preset in ${PRESETS:-dev asan tsan}; do
  echo "== preset $preset" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset" -j2
done
