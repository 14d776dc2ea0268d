#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing, build and
# run every test under the `dev` preset (debug, warnings as errors) and then
# under `asan` (AddressSanitizer + UndefinedBehaviorSanitizer) and `tsan`
# (ThreadSanitizer).
# PRESETS="dev" scripts/test.sh runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache hits across checkouts in different directories (CI clones anew).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
# Test-only peers: report schema checks (python3-jsonschema, python3-yaml), the
# HTML report in a real browser (chromium), real switchers (nginx, haproxy),
# a real Prometheus server.
scripts/deps.sh python3 python3-jsonschema python3-yaml chromium nginx haproxy prometheus \
  clang libclang-rt-14-dev
for preset in ${PRESETS:-dev asan tsan}; do
  echo "== preset $preset (at ${SECONDS} s)" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== preset $preset built (at ${SECONDS} s)" >&2
  ctest --preset "$preset" -j2
done
# libFuzzer targets (clang), each bounded from its committed seed corpus.
if [[ -z "${PRESETS:-}" || "${FUZZ:-}" == 1 ]]; then
  echo "== fuzz (${FUZZ_SECONDS:-60} s per target)" >&2
  tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
fi
echo "== all tests passed in ${SECONDS} s" >&2
