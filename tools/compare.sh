#!/usr/bin/env bash
# The cross-framework comparison in one command (docs/comparison.md): writes the shared data and initial weights
# once, runs rosetta, the PyTorch twins and the JAX twins on them for the three workloads in each precision each
# one supports, each profiled (--profile), and joins their records into report.md, report.png and breakdown.png
# (bench/report/report.py).
#   On a GPU host: the workloads at their protocol's sizes (DESIGN.md), PyTorch eager, torch.compile and
#   torch.compile with CUDA graphs at its best settings (channels-last, fused optimizers, BN folded), JAX jit,
#   within BUDGET_S seconds (default 3000): a run that would start after it is skipped and named.
#   Without a GPU: a tiny version of the same pipeline on the CPU (a few hundred examples, two epochs, small
#   images), end to end; it says so, and its figures are the CPU reference paths', not a benchmark.
# Usage: tools/compare.sh [OUT_DIR (default ./compare-out)]
# Environment: ROSETTA (the CLI, default build/bench/rosetta), PYTHON (PyTorch's interpreter, default
# /usr/bin/python3), JAX_PYTHON (default .venv-jax/bin/python), BUDGET_S. Logs: OUT_DIR/logs/<run>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-compare-out}")
rosetta=${ROSETTA:-build/bench/rosetta}
python=${PYTHON:-/usr/bin/python3}
jax_python=${JAX_PYTHON:-.venv-jax/bin/python}
budget=${BUDGET_S:-3000}
started=$SECONDS
[ -x "$rosetta" ] || { echo "compare: $rosetta not found: run tools/setup.sh first (or set ROSETTA)" >&2; exit 2; }
rm -rf "$out/records" "$out/logs"
mkdir -p "$out/records" "$out/logs" "$out/shared"
shared=$out/shared records=$out/records
failed=()

# run NAME COMMAND...: the run's output in logs/NAME.log; its last line, or FAIL and its tail, on the console.
run() {
  local name=$1; shift
  if (( SECONDS - started > budget )); then echo "skip  $name (past the ${budget} s budget)"; failed+=("$name (skipped)"); return; fi
  local t0=$SECONDS
  if PYTHONUNBUFFERED=1 "$@" > "$out/logs/$name.log" 2>&1; then
    echo "ok    $name ($((SECONDS - t0)) s): $(tail -1 "$out/logs/$name.log")"
  else
    echo "FAIL  $name ($((SECONDS - t0)) s): $(tail -2 "$out/logs/$name.log" | tr '\n' ' ')"
    failed+=("$name")
  fi
}
peers=(pytorch)
if "$jax_python" -c "import jax, flax, optax" 2>/dev/null; then peers+=(jax); else echo "compare: no JAX at $jax_python (tools/setup.sh installs it): JAX twins skipped"; fi
twin() { local framework=$1 script=$2; shift 2
  if [ "$framework" = jax ]; then "$jax_python" "bench/peers/jax/$script" "$@"; else "$python" "bench/peers/pytorch/$script" "$@"; fi; }

if "$rosetta" info | grep -q "no CUDA device"; then
  gpu=0 device=cpu jax_device=cpu
  echo "compare: no GPU here: a tiny version on the CPU, end to end (the reference paths; not a benchmark)"
  precisions=(fp32)
  cnn_size=(--train-examples 512 --epochs 2 --test-batches 2)     # 8 steps an epoch at batch 64: 5 windows after the first
  gru_export=(--synthetic-train 640 --synthetic-test 128)
  gru_size=(--epochs 2 --test-batches 2)                          # 10 steps an epoch
  resnet_size=(--images 4 --image-size 64 --batch 2 --repeats 5)
  pytorch_modes=(eager)
  fused=()  # torch.optim's fused kernels are CUDA's
else
  gpu=1 device=cuda jax_device=gpu
  echo "compare: on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), budget ${budget} s"
  precisions=(fp32 tf32)
  cnn_size=() gru_export=() gru_size=() resnet_size=(--repeats 5)
  pytorch_modes=(eager compile compile-cudagraphs)  # gpu_check.sh's compile phase also tries max-autotune
  fused=(--optimizer fused)
fi

# Shared inputs: one data set and one set of initial weights per workload, which every framework reads.
run export-cnn "$rosetta" train cnn --synthetic --export-data "$shared/cifar"
run export-gru "$rosetta" train gru --synthetic "${gru_export[@]}" --export-data "$shared/tokens.npz"
run init-cnn "$rosetta" train cnn --device cpu --max-steps 0 --seed 7 --save "$shared/cnn-init.safetensors"
run init-gru "$rosetta" train gru --device cpu --max-steps 0 --seed 7 --save "$shared/gru-init.safetensors"
run init-resnet50 "$rosetta" extract resnet50 --device cpu --random-weights --images 2 --image-size 32 --batch 2 \
  --repeats 1 --save-weights "$shared/resnet50.safetensors"

cnn=(--data "$shared/cifar" --data-name synthetic --init "$shared/cnn-init.safetensors" "${cnn_size[@]}")
gru=(--data "$shared/tokens.npz" --data-name synthetic --init "$shared/gru-init.safetensors" "${gru_size[@]}")
resnet=(--weights "$shared/resnet50.safetensors" "${resnet_size[@]}")
for precision in "${precisions[@]}"; do
  run "rosetta-cnn-$precision" "$rosetta" train cnn --device $device --precision $precision "${cnn[@]}" \
    --profile --json "$records/rosetta-cnn-$precision.json"
  run "rosetta-gru-$precision" "$rosetta" train gru --device $device --precision $precision "${gru[@]}" \
    --profile --json "$records/rosetta-gru-$precision.json"
  run "rosetta-resnet50-$precision" "$rosetta" extract resnet50 --device $device --precision $precision \
    "${resnet[@]}" --profile --json "$records/rosetta-resnet50-$precision.json"
  for mode in "${pytorch_modes[@]}"; do
    # PyTorch's fastest documented settings: cuDNN autotuning, channels-last memory, fused optimizers, batch norm
    # folded (eager) or frozen into the weights (compiled); the modes: eager, torch.compile, with CUDA graphs.
    run "pytorch-cnn-$precision-$mode" twin pytorch cnn.py --device $device --precision $precision --mode $mode \
      --channels-last "${fused[@]}" "${cnn[@]}" --profile --json "$records/pytorch-cnn-$precision-$mode.json"
    run "pytorch-gru-$precision-$mode" twin pytorch gru.py --device $device --precision $precision --mode $mode \
      "${fused[@]}" "${gru[@]}" --profile --json "$records/pytorch-gru-$precision-$mode.json"
    run "pytorch-resnet50-$precision-$mode" twin pytorch resnet50.py --device $device --precision $precision \
      --mode $mode --channels-last --fold-bn "${resnet[@]}" --profile \
      --json "$records/pytorch-resnet50-$precision-$mode.json"
  done
  if [[ " ${peers[*]} " == *" jax "* ]]; then
    run "jax-cnn-$precision" twin jax cnn.py --device $jax_device --precision $precision "${cnn[@]}" \
      --profile --json "$records/jax-cnn-$precision.json"
    run "jax-gru-$precision" twin jax gru.py --device $jax_device --precision $precision "${gru[@]}" \
      --profile --json "$records/jax-gru-$precision.json"
    run "jax-resnet50-$precision" twin jax resnet50.py --device $jax_device --precision $precision "${resnet[@]}" \
      --profile --json "$records/jax-resnet50-$precision.json"
  fi
done
if (( gpu )); then  # bf16: ResNet-50 in every framework (rosetta needs NHWC), the JAX training twins
  run rosetta-resnet50-bf16 "$rosetta" extract resnet50 --device cuda --precision bf16 --layout nhwc "${resnet[@]}" \
    --profile --json "$records/rosetta-resnet50-bf16.json"
  for mode in "${pytorch_modes[@]}"; do  # bf16 weights and activations, batch norm folded or frozen
    run "pytorch-resnet50-bf16-$mode" twin pytorch resnet50.py --device cuda --precision bf16 --bf16-weights \
      --mode "$mode" --channels-last --fold-bn "${resnet[@]}" --profile --json "$records/pytorch-resnet50-bf16-$mode.json"
  done
  if [[ " ${peers[*]} " == *" jax "* ]]; then
    for workload in cnn gru resnet50; do
      args=("${cnn[@]}"); [ $workload = gru ] && args=("${gru[@]}"); [ $workload = resnet50 ] && args=("${resnet[@]}")
      run "jax-$workload-bf16" twin jax $workload.py --device gpu --precision bf16 "${args[@]}" \
        --profile --json "$records/jax-$workload-bf16.json"
    done
  fi
fi

run validate "$python" bench/report/validate_record.py "$records"/*.json
run report "$python" bench/report/report.py "$records" --out-md "$out/report.md" --out-png "$out/report.png" \
  --out-breakdown-png "$out/breakdown.png"
echo
[ -f "$out/report.md" ] && cat "$out/report.md"
echo
echo "compare: $(ls "$records" | wc -l) records in $records, report in $out/report.md and $out/report.png ($((SECONDS - started)) s)"
if (( ${#failed[@]} )); then echo "compare: not done: ${failed[*]} (logs in $out/logs)"; exit 1; fi
(( gpu )) || echo "compare: this was the CPU version; on a GPU host the same command runs the full comparison"
