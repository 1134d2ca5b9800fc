#!/usr/bin/env bash
# The whole GPU check, on a GPU host (H100/H200) where cuDNN and cuBLAS come from the PyTorch environment's
# wheels. Runs from the repository root with a bundle made by tools/gpu_bundle.sh on a build machine:
#   1. `rosetta info`; 2. every test binary (CUDA cases run here); 3. the Google Benchmark binaries;
#   4. the CNN workload in each configuration, then its PyTorch twin on the same data and initial weights;
#   5. a short table, printed last. Logs and JSON records go to $OUT (default ./gpu-check-out).
# Usage: tools/gpu_check.sh [BUNDLE_DIR=gpu-bundle]
# Environment: PHASES (default "tests bench cnn torch compile") picks the parts to run; OUT the log folder.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=$(realpath "${1:-gpu-bundle}")
out=${OUT:-$PWD/gpu-check-out}
mkdir -p "$out/records"
python=${PYTHON:-python3}

# cuDNN / cuBLAS / CUDA runtime from the Python wheels (site-packages/nvidia/*/lib).
wheel_libs=$($python - <<'PY'
import glob, os, site
paths = []
for root in site.getsitepackages():
    paths += sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib")))
print(":".join(paths))
PY
)
export LD_LIBRARY_PATH="$bundle/lib:$wheel_libs:${LD_LIBRARY_PATH:-}"
export ROSETTA_SOURCE_DIR=$PWD ROSETTA_CLI=$bundle/bin/rosetta
export XDG_CACHE_HOME=$out/cache ROSETTA_PYTHON=$python ROSETTA_COMMIT=$(head -1 "$bundle/COMMIT")
rosetta=$bundle/bin/rosetta
phases=" ${PHASES:-tests bench cnn torch compile} "
want() { [[ "$phases" == *" $1 "* ]]; }
summary=$out/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

if ! "$rosetta" info > "$out/info.txt" 2>&1; then
  # The carried build does not run here (another C library, say): build the CLI here instead. The GPU host has
  # no GoogleTest or Google Benchmark, so only the workloads can run from such a build.
  note "the carried rosetta does not run here ($(head -1 "$out/info.txt")); building the CLI on this host"
  cmake -S . -B "$out/build" -G Ninja -DROSETTA_TESTS=OFF -DROSETTA_BENCHMARKS=OFF -DCMAKE_CUDA_ARCHITECTURES=90-real \
    -DROSETTA_DEPS_DIR="$bundle/deps" -DCUDNN_PYTHON="$(command -v $python)" > "$out/build.log" 2>&1 \
    && cmake --build "$out/build" -j "$(nproc)" >> "$out/build.log" 2>&1 || { note "build failed: $(tail -3 "$out/build.log")"; exit 1; }
  rosetta=$out/build/bench/rosetta ROSETTA_CLI=$rosetta
  phases=${phases/ tests / } phases=${phases/ bench / }
  "$rosetta" info > "$out/info.txt" 2>&1 || { note "rosetta does not run here"; exit 1; }
fi
cat "$out/info.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$out/nvidia-smi.txt"

failed_tests=0
want tests && for t in "$bundle"/bin/test_*; do
  name=$(basename "$t")
  # The PyTorch equivalence test is a CPU test, run by every CI build; it would only cost device time here.
  [ "$name" = test_equivalence_cnn ] && continue
  if timeout 300 "$t" --gtest_brief=1 > "$out/$name.log" 2>&1; then
    note "test  $name  passed: $(grep -o 'PASSED  \] [0-9]*' "$out/$name.log" | grep -o '[0-9]*$') passed, $(grep -m1 -o 'SKIPPED \] [0-9]*' "$out/$name.log" | grep -o '[0-9]*$' || echo 0) skipped"
  else
    failed_tests=$((failed_tests + 1)); note "test  $name  FAILED (see $name.log)"; grep -E '^\[  FAILED|Failure|error' "$out/$name.log" | head -20
  fi
done

want bench && for b in "$bundle"/bin/bench_*; do
  name=$(basename "$b")
  timeout 120 "$b" --benchmark_min_time=0.05 --benchmark_out="$out/$name.json" --benchmark_out_format=json \
    > "$out/$name.txt" 2>&1 && note "bench $name  done" || note "bench $name  FAILED"
done

data=$out/cifar-synthetic
if want cnn || want torch || want compile; then
  "$rosetta" train cnn --synthetic --export-data "$data" > "$out/export.log" 2>&1
  "$rosetta" train cnn --synthetic --max-steps 0 --save "$out/cnn-init.safetensors" >> "$out/export.log" 2>&1
fi
run_rosetta() {  # name, flags...
  local name=$1; shift
  "$rosetta" train cnn --data "$data" --data-name synthetic --init "$out/cnn-init.safetensors" --json "$out/records/rosetta-cnn-$name.json" "$@" \
    > "$out/rosetta-cnn-$name.log" 2>&1 && note "cnn   rosetta $name: $(tail -2 "$out/rosetta-cnn-$name.log" | tr '\n' ' ')" \
    || { note "cnn   rosetta $name FAILED"; tail -5 "$out/rosetta-cnn-$name.log"; }
}
if want cnn; then
  run_rosetta fp32-graph --precision fp32
  run_rosetta fp32-eager --precision fp32 --graph off
  run_rosetta fp32-heuristics --precision fp32 --autotune off
  run_rosetta tf32-graph --precision tf32
fi
run_torch() {  # name, flags...
  local name=$1; shift
  PYTHONUNBUFFERED=1 timeout 400 $python bench/peers/pytorch/cnn.py --data "$data" --data-name synthetic --init "$out/cnn-init.safetensors" \
    --json "$out/records/pytorch-cnn-$name.json" "$@" > "$out/pytorch-cnn-$name.log" 2>&1 \
    && note "cnn   pytorch $name: $(tail -1 "$out/pytorch-cnn-$name.log")" || { note "cnn   pytorch $name FAILED"; tail -5 "$out/pytorch-cnn-$name.log"; }
}
if want torch; then
  run_torch eager-fp32 --precision fp32 --mode eager
  run_torch eager-tf32 --precision tf32 --mode eager
fi
if want compile; then
  run_torch compile-cudagraphs-fp32 --precision fp32 --mode compile-cudagraphs
  run_torch compile-cudagraphs-tf32 --precision tf32 --mode compile-cudagraphs
fi

$python bench/report/report.py "$out/records" --out-md "$out/results.md" --out-png "$out/results.png" > "$out/report.log" 2>&1 \
  || tail -3 "$out/report.log"
echo; echo "================ summary ================"
cat "$summary"
echo "failed test binaries: $failed_tests"
[ -f "$out/results.md" ] && cat "$out/results.md"
rm -rf "$data"  # 180 MB of regenerable data: not worth carrying back
exit $((failed_tests > 0))
