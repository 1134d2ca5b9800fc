#!/usr/bin/env bash
# Per-kernel GPU time of one workload command under Nsight Compute, grouped into the profile classes
# (bench/report/ncu_summary.py; docs/comparison.md "Where the time goes").
# Usage: tools/ncu_measure.sh NAME OUT_DIR -- COMMAND...
# Runs COMMAND under `ncu --clock-control none` (the card's own clocks, as the timed runs see them) and writes
# OUT_DIR/NAME.csv (ncu's CSV: every launch's time and FLOP counters), OUT_DIR/NAME.log (the command's output),
# OUT_DIR/NAME.md and OUT_DIR/NAME.json (the summary, also printed; its last line says the largest class).
# What is measured: by default only what COMMAND brackets with cudaProfilerStart/Stop (ncu --profile-from-start
# off): rosetta's --profile does, around its profiled steps, which run eagerly (a CUDA graph's kernels cannot be
# replayed one by one). A command that brackets nothing: NCU_FROM_START=1 with NCU_LAUNCH_SKIP (default 0). At most
# NCU_LAUNCH_COUNT launches (default 300): ncu replays each kernel alone, at some milliseconds a launch.
# Do not run a framework's own profiler (torch.profiler, jax.profiler) under ncu: both want the GPU's counters.
# NCU_PER="N UNIT" (e.g. "20 step": the range held 20 profiled steps) has the summary give every figure per UNIT.
# Environment: NCU (default ncu), PYTHON (default python3). Exit: COMMAND's failure, or the summary's (2: no data).
set -uo pipefail
cd "$(dirname "$0")/.."
if (( $# < 4 )) || [ "$3" != "--" ]; then
  echo "usage: tools/ncu_measure.sh NAME OUT_DIR -- COMMAND..." >&2
  exit 2
fi
name=$1 out=$2
shift 3
ncu=${NCU:-ncu} python=${PYTHON:-python3}
command -v "$ncu" > /dev/null || { echo "ncu_measure: $ncu not found (Nsight Compute's CLI)" >&2; exit 2; }
mkdir -p "$out"
metrics=$("$python" -c 'import sys; sys.path.insert(0, "bench/report"); import ncu_summary; print(",".join(ncu_summary.METRICS))') \
  || { echo "ncu_measure: cannot read the metric list from bench/report/ncu_summary.py" >&2; exit 2; }
if [ "${NCU_FROM_START:-0}" = 1 ]; then range=(--launch-skip "${NCU_LAUNCH_SKIP:-0}"); else range=(--profile-from-start off); fi
"$ncu" --clock-control none "${range[@]}" --launch-count "${NCU_LAUNCH_COUNT:-300}" --csv --print-units base \
  --metrics "$metrics" --log-file "$out/$name.csv" "$@" > "$out/$name.log" 2>&1
status=$?
if (( status != 0 )); then
  echo "ncu_measure: $name: the command under ncu failed (exit $status): $(tail -2 "$out/$name.log" | tr '\n' ' ')" >&2
  exit "$status"
fi
per=()
if [ -n "${NCU_PER:-}" ]; then read -r count unit <<< "$NCU_PER"; per=(--per "$count" --unit "${unit:-step}"); fi
"$python" bench/report/ncu_summary.py "$out/$name.csv" --title "$name" --json "$out/$name.json" "${per[@]}" \
  | tee "$out/$name.md"
exit "${PIPESTATUS[0]}"
