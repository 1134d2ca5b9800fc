#!/usr/bin/env bash
# rosetta's CPU twins against PyTorch's CPU build on the same machine and thread count: one CNN training step at
# batch 64, one GRU training step at batch 64 (150 tokens), and a ResNet-50 forward at batch 1 and 8 (224x224).
# rosetta's figures are the Google Benchmark medians of the benchmarks' registered repetitions (bench_cnn_step,
# bench_gru, bench_resnet50); PyTorch's come
# from bench/peers/pytorch/cpu_steps.py (Debian's python3-torch). Both run with THREADS threads (default: the
# machine's core count) one after the other, never together, so neither disturbs the other; run it on a quiet
# machine. Prints one table: unit, rosetta ms, PyTorch ms, the ratio.
# Usage: tools/cpu_step_benchmark.sh [BUILD_DIR=build]   (after tools/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads
python=${PYTHON:-/usr/bin/python3}

# The median real time in ms of the benchmark whose name matches $2 in binary $1.
median_ms() {
  "$build/bench/$1" --benchmark_filter="$2" --benchmark_format=json --benchmark_report_aggregates_only=true \
      2>/dev/null |
    "$python" -c 'import json, sys
runs = [b for b in json.load(sys.stdin)["benchmarks"] if b.get("aggregate_name") == "median"]
unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[runs[0]["time_unit"]]
print("%.1f %d" % (runs[0]["real_time"] * unit, runs[0]["repetitions"]))'
}

cnn=$(median_ms bench_cnn_step 'cnn_step/cpu/fp32/batch64')
gru=$(median_ms bench_gru 'gru_step/cpu/fp32/batch64/T150')
resnet1=$(median_ms bench_resnet50 'cpu/fp32/nchw/batch:1/224x224')
resnet8=$(median_ms bench_resnet50 'cpu/fp32/nchw/batch:8/224x224')
torch_json=$("$python" bench/peers/pytorch/cpu_steps.py --threads "$threads" --reps 7)

"$python" - "$threads" "$cnn" "$gru" "$resnet1" "$resnet8" <<PY
import json, sys
threads, figures = sys.argv[1], sys.argv[2:]
keys = ["cnn_step/64", "gru_step/64", "resnet50_forward/1", "resnet50_forward/8"]
ours = {key: (float(f.split()[0]), int(f.split()[1])) for key, f in zip(keys, figures)}
theirs = {}
for line in """$torch_json""".splitlines():
    r = json.loads(line)
    theirs["%s/%d" % (r["unit"], r["batch"])] = r
torch = next(iter(theirs.values()))["torch"]
print("CPU step benchmark, %s threads; rosetta: Google Benchmark median of its repetitions; PyTorch %s: median of 7"
      % (threads, torch))
print("| unit | batch | rosetta ms (repetitions) | PyTorch ms (min-max) | rosetta / PyTorch |")
print("|---|---|---|---|---|")
for key, (ms, reps) in ours.items():
    unit, batch = key.split("/")
    t = theirs[key]
    print("| %s | %s | %.1f (%d) | %.1f (%.1f-%.1f) | %.2f |" % (unit, batch, ms, reps, t["median_ms"], t["min_ms"],
                                                                  t["max_ms"], ms / t["median_ms"]))
PY
