#!/usr/bin/env bash
# Builds the fuzz targets (CMakePresets.json's "fuzz": clang, libFuzzer, ASan, UBSan, CPU-only) into ./build-fuzz,
# writes their seed corpora, and runs every fuzz_* target for a bounded time, one after another. Exit status 0
# when no target found anything; a finding's input is kept in build-fuzz/findings/<target>/ (make it a
# regression test, docs/reliability.md).
# Usage: tools/fuzz.sh [SECONDS_PER_TARGET (default 25)] [extra libFuzzer flags, e.g. -runs=1000000]
# The per-input limits state the promise: -timeout (no input takes 10 s) and -malloc_limit_mb (no allocation
# passes 512 MB: every reader's cap is lower); -rss_limit_mb leaves room for ASan's shadow memory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-25}
shift || true
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
out=build-fuzz
rm -rf "$out/seeds"
"$out/fuzz/rosetta_fuzz_seeds" "$out/seeds"
status=0
for target in "$out"/fuzz/fuzz_*; do
  name=$(basename "$target" | sed 's/^fuzz_//')
  corpus="$out/corpus/$name" findings="$out/findings/$name"
  mkdir -p "$corpus" "$findings"
  echo "== fuzz $name: ${seconds} s"
  if ! "$target" "$corpus" "$out/seeds/$name" -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=512 \
      -rss_limit_mb=4096 -artifact_prefix="$findings/" -print_final_stats=1 "$@" 2> "$out/fuzz-$name.log"; then
    echo "fuzz $name: FINDING (input in $findings/, log in $out/fuzz-$name.log)"
    tail -n 40 "$out/fuzz-$name.log"
    status=1
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ *DONE" "$out/fuzz-$name.log" || true
done
exit $status
