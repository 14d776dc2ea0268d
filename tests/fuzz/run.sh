#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build/fuzz and runs each one
# bounded, from its committed seed corpus (docs/fuzzing.md).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# New interesting inputs go to build/fuzz/corpus/<target>/ (not committed);
# a crash, leak or timeout writes build/fuzz/artifacts/<target>/crash-* and
# makes the script exit 1. Replay one: build/fuzz/tests/fuzz/<target> FILE
set -euo pipefail

seconds=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build/fuzz"
all_targets=(fuzz_scenario_loader fuzz_control_command fuzz_admin_handler)
targets=("$@")

command -v clang++ >/dev/null || { echo "clang++ missing: apt-get install clang libclang-rt-14-dev" >&2; exit 2; }

# Until the top-level CMakeLists.txt has `if(CUTOVER_FUZZ) add_subdirectory(tests/fuzz)`,
# configure a shadow tree: the same sources (symlinks) and that one line added.
src="$root"
if ! grep -q 'tests/fuzz' "$root/CMakeLists.txt"; then
  src="$build/shadow-src"
  mkdir -p "$src"
  for entry in "$root"/*; do
    name=$(basename "$entry")
    [[ $name == build || $name == CMakeLists.txt ]] && continue
    ln -sfn "$entry" "$src/$name"
  done
  { cat "$root/CMakeLists.txt"; echo 'if(CUTOVER_FUZZ)'; echo '  add_subdirectory(tests/fuzz)'; echo 'endif()'; } \
    > "$src/CMakeLists.txt.new"
  cmp -s "$src/CMakeLists.txt.new" "$src/CMakeLists.txt" 2>/dev/null || mv "$src/CMakeLists.txt.new" "$src/CMakeLists.txt"
  rm -f "$src/CMakeLists.txt.new"
fi

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCUTOVER_FUZZ=ON -DCUTOVER_WERROR=OFF -DBUILD_TESTING=OFF -DCUTOVER_BENCH=OFF >/dev/null
if [[ ${#targets[@]} -eq 0 ]]; then
  known=$(ninja -C "$build" -t targets all 2>/dev/null || true)
  for t in "${all_targets[@]}"; do
    # fuzz_admin_handler exists once the admin API does.
    if grep -q "^$t:" <<<"$known"; then targets+=("$t"); fi
  done
fi
cmake --build "$build" -j2 --target "${targets[@]}"

failed=0
for t in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  dict=()
  [[ -f "$root/tests/fuzz/$t.dict" ]] && dict=(-dict="$root/tests/fuzz/$t.dict")
  echo "== $t: ${seconds} s"
  if ! "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$work" "$seeds" \
      2>"$build/$t.log"; then
    echo "!! $t failed: see $build/$t.log and $artifacts/" >&2
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$build/$t.log" | head -5 >&2 || true
    failed=1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE" "$build/$t.log" || true
done
exit $failed
