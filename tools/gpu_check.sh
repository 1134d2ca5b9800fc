#!/usr/bin/env bash
# The whole GPU check, on a GPU host (H100/H200) where cuDNN and cuBLAS come from the PyTorch environment's
# wheels. Runs from the repository root with a bundle made by tools/gpu_bundle.sh on a build machine:
#   1. `rosetta info`; 2. the CUDA cases of every test binary (the CPU cases run in CI); 3. the three workloads
#   in their configurations, each followed by its PyTorch twin on the same data and initial weights; 4. the Google
#   Benchmark binaries; 5. a short table, printed last. Logs and JSON records go to $OUT (./gpu-check-out).
# Usage: tools/gpu_check.sh [BUNDLE_DIR=gpu-bundle]
# Environment: PHASES (default "tests gru resnet cnn torch bench") picks the parts to run (also: compile, for the
# torch.compile runs of the CNN twin); OUT the log folder.
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
phases=" ${PHASES:-tests gru resnet cnn torch bench} "
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
  # Only the CUDA cases: every CPU case runs in each CI build and would only cost device time here.
  if timeout 300 "$t" --gtest_brief=1 --gtest_filter='*Cuda*:*Device*' > "$out/$name.log" 2>&1; then
    note "test  $name  passed: $(grep -o 'PASSED  \] [0-9]*' "$out/$name.log" | grep -o '[0-9]*$') passed, $(grep -m1 -o 'SKIPPED \] [0-9]*' "$out/$name.log" | grep -o '[0-9]*$' || echo 0) skipped"
  else
    failed_tests=$((failed_tests + 1)); note "test  $name  FAILED (see $name.log)"; grep -E '^\[  FAILED|Failure|error' "$out/$name.log" | head -20
  fi
done


gru_data=$out/imdb-synthetic.npz
if want gru; then
  "$rosetta" train gru --synthetic --export-data "$gru_data" > "$out/export-gru.log" 2>&1
  "$rosetta" train gru --max-steps 0 --save "$out/gru-init.safetensors" >> "$out/export-gru.log" 2>&1
  run_gru() {  # name, flags...
    local name=$1; shift
    timeout 200 "$rosetta" train gru --data "$gru_data" --data-name synthetic --init "$out/gru-init.safetensors" \
      --json "$out/records/rosetta-gru-$name.json" "$@" > "$out/rosetta-gru-$name.log" 2>&1 \
      && note "gru   rosetta $name: $(tail -2 "$out/rosetta-gru-$name.log" | tr '\n' ' ')" \
      || { note "gru   rosetta $name FAILED"; tail -5 "$out/rosetta-gru-$name.log"; }
  }
  run_gru cudnn-tnc-graph-fp32
  run_gru cudnn-tnc-eager-fp32 --graph off
  run_gru cudnn-ntc-graph-fp32 --layout ntc
  run_gru naive-tnc-graph-fp32 --rnn naive
  run_gru cudnn-tnc-graph-tf32 --precision tf32
  if want torch; then
    PYTHONUNBUFFERED=1 timeout 200 $python bench/peers/pytorch/gru.py --data "$gru_data" --data-name synthetic \
      --init "$out/gru-init.safetensors" --json "$out/records/pytorch-gru-eager-fp32.json" > "$out/pytorch-gru-eager-fp32.log" 2>&1 \
      && note "gru   pytorch eager-fp32: $(tail -1 "$out/pytorch-gru-eager-fp32.log")" \
      || { note "gru   pytorch eager-fp32 FAILED"; tail -5 "$out/pytorch-gru-eager-fp32.log"; }
  fi
fi

if want resnet; then
  "$rosetta" extract resnet50 --random-weights --images 32 --save-weights "$out/resnet50-random.safetensors" \
    > "$out/export-resnet.log" 2>&1
  run_resnet() {  # name, flags...
    local name=$1; shift
    timeout 200 "$rosetta" extract resnet50 --weights "$out/resnet50-random.safetensors" \
      --json "$out/records/rosetta-resnet50-$name.json" "$@" > "$out/rosetta-resnet50-$name.log" 2>&1 \
      && note "res50 rosetta $name: $(tail -2 "$out/rosetta-resnet50-$name.log" | tr '\n' ' ')" \
      || { note "res50 rosetta $name FAILED"; tail -5 "$out/rosetta-resnet50-$name.log"; }
  }
  run_resnet fp32 --precision fp32
  run_resnet fp32-unfused --precision fp32 --fuse off
  run_resnet fp32-eager --precision fp32 --graph off
  run_resnet tf32 --precision tf32
  if want torch; then
    for p in fp32 tf32 bf16; do
      PYTHONUNBUFFERED=1 timeout 200 $python bench/peers/pytorch/resnet50.py --weights "$out/resnet50-random.safetensors" \
        --precision $p --channels-last --json "$out/records/pytorch-resnet50-eager-$p.json" > "$out/pytorch-resnet50-$p.log" 2>&1 \
        && note "res50 pytorch eager-$p: $(tail -1 "$out/pytorch-resnet50-$p.log")" \
        || { note "res50 pytorch eager-$p FAILED"; tail -5 "$out/pytorch-resnet50-$p.log"; }
    done
  fi
fi

data=$out/cifar-synthetic
if want cnn || want compile; then
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
  run_rosetta tf32-graph --precision tf32
fi
run_torch() {  # name, flags...
  local name=$1; shift
  PYTHONUNBUFFERED=1 timeout 400 $python bench/peers/pytorch/cnn.py --data "$data" --data-name synthetic --init "$out/cnn-init.safetensors" \
    --json "$out/records/pytorch-cnn-$name.json" "$@" > "$out/pytorch-cnn-$name.log" 2>&1 \
    && note "cnn   pytorch $name: $(tail -1 "$out/pytorch-cnn-$name.log")" || { note "cnn   pytorch $name FAILED"; tail -5 "$out/pytorch-cnn-$name.log"; }
}
if want cnn && want torch; then
  run_torch eager-fp32 --precision fp32 --mode eager
fi
if want compile; then
  run_torch compile-cudagraphs-fp32 --precision fp32 --mode compile-cudagraphs
  run_torch compile-cudagraphs-tf32 --precision tf32 --mode compile-cudagraphs
fi

bench_run() {  # name, filter
  timeout 120 "$bundle/bin/$1" --benchmark_min_time=0.05 --benchmark_filter="$2" --benchmark_out="$out/$1.json" \
    --benchmark_out_format=json > "$out/$1.txt" 2>&1 && note "bench $1  done" || note "bench $1  FAILED"
}
if want bench; then
  bench_run bench_cnn_step gpu
  bench_run bench_gru gpu
  bench_run bench_resnet50 'gpu/.*/batch:32'
fi
$python bench/report/report.py "$out/records" --out-md "$out/results.md" --out-png "$out/results.png" > "$out/report.log" 2>&1 \
  || tail -3 "$out/report.log"
echo; echo "================ summary ================"
cat "$summary"
echo "failed test binaries: $failed_tests"
[ -f "$out/results.md" ] && cat "$out/results.md"
rm -rf "$data" "$gru_data"  # regenerable data: not worth carrying back
exit $((failed_tests > 0))
