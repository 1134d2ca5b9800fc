#!/usr/bin/env bash
# The main job: sets up and builds rosetta (tools/setup.sh), then runs the workloads on the best device present.
# With a GPU: each workload by the full protocol of DESIGN.md, on the real data when given, otherwise on the
# learnable synthetic data of the same shapes. Without a GPU: a short CPU run of each, and it says so.
# Usage: tools/run.sh [--cifar DIR] [--imdb FILE.npz] [--resnet50 FILE.safetensors] [--out DIR]
# (result records go to DIR, default ./results)
set -euo pipefail
cd "$(dirname "$0")/.."
cifar="" imdb="" resnet50="" out=results
while [ $# -gt 0 ]; do
  case "$1" in
    --cifar) cifar=$2; shift 2 ;;
    --imdb) imdb=$2; shift 2 ;;
    --resnet50) resnet50=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: tools/run.sh [--cifar DIR] [--imdb FILE.npz] [--resnet50 FILE.safetensors] [--out DIR]" >&2; exit 2 ;;
  esac
done
tools/setup.sh
mkdir -p "$out"
rosetta=build/bench/rosetta
"$rosetta" info

cnn_data=(--synthetic)
[ -n "$cifar" ] && cnn_data=(--data "$cifar")
gru_data=(--synthetic)
[ -n "$imdb" ] && gru_data=(--data "$imdb")
resnet_weights=(--random-weights)
[ -n "$resnet50" ] && resnet_weights=(--weights "$resnet50")

if "$rosetta" info | grep -q "no CUDA device"; then
  echo
  echo "No GPU here: running a short CPU version of each workload (the reference path, not a benchmark)."
  echo "Sized so the loss visibly falls in a few minutes on two cores; the table at the end says what ran."
  cpu=1
  # 2048 training examples: the synthetic set's size, or the first 2048 of the real data.
  cnn_small=(--synthetic-train 2048 --synthetic-test 512)
  [ -n "$cifar" ] && cnn_small=(--train-examples 2048)
  # The synthetic reviews with one strong signal word in every long review: learnable in 100 steps at lr 0.003.
  gru_small=(--synthetic-train 2048 --synthetic-test 640 --synthetic-signal-words 1 --synthetic-min-length 145 --lr 0.003)
  [ -n "$imdb" ] && gru_small=(--train-examples 2048)
  "$rosetta" train cnn --device cpu "${cnn_data[@]}" "${cnn_small[@]}" --epochs 2 --batch 32 --test-batches 16 \
    --log-steps "$out/rosetta-cnn-cpu.steps" --json "$out/rosetta-cnn-cpu.json"
  "$rosetta" extract resnet50 --device cpu "${resnet_weights[@]}" --batch 2 --images 4 \
    --json "$out/rosetta-resnet50-cpu.json"
  "$rosetta" train gru --device cpu "${gru_data[@]}" "${gru_small[@]}" --epochs 3 --test-batches 10 \
    --log-steps "$out/rosetta-gru-cpu.steps" --json "$out/rosetta-gru-cpu.json"
  records=("$out/rosetta-cnn-cpu.json" "$out/rosetta-resnet50-cpu.json" "$out/rosetta-gru-cpu.json")
else
  cpu=0
  "$rosetta" train cnn --device cuda "${cnn_data[@]}" --log-steps "$out/rosetta-cnn.steps" --json "$out/rosetta-cnn.json"
  "$rosetta" extract resnet50 --device cuda "${resnet_weights[@]}" --json "$out/rosetta-resnet50.json"
  "$rosetta" train gru --device cuda "${gru_data[@]}" --log-steps "$out/rosetta-gru.steps" --json "$out/rosetta-gru.json"
  records=("$out/rosetta-cnn.json" "$out/rosetta-resnet50.json" "$out/rosetta-gru.json")
fi

# What ran, and what to conclude from it: one row per workload from its record (and step log).
echo
/usr/bin/python3 - "$cpu" "${records[@]}" <<'PY'
import json, os, sys
cpu, paths = sys.argv[1] == "1", sys.argv[2:]
print("%-9s %-6s %-9s %7s %-17s %-10s %s" % ("workload", "device", "precision", "steps", "loss first -> last",
                                             "accuracy", "throughput (median of the steady state)"))
for path in paths:
    r = json.load(open(path))
    steps_log = path[:-len(".json")] + ".steps"
    losses = [float(line.split()[1]) for line in open(steps_log)] if os.path.exists(steps_log) else []
    loss = "%.3f -> %.3f" % (losses[0], losses[-1]) if losses else "-"
    accuracy = "%.1f %%" % (100 * r["test_accuracy"]) if r.get("test_accuracy") is not None else "-"
    rate = r.get("images_per_second") or r.get("sequences_per_second")
    unit = "sequences/s" if r["workload"] == "gru" else "images/s"
    steady = r.get("steady")
    spread = " (%d x %s)" % (steady["repetitions"], steady["unit"]) if steady else ""
    print("%-9s %-6s %-9s %7s %-17s %-10s %s" % (r["workload"], "cpu" if r["device"] == "cpu" else "gpu",
          r["precision"], r.get("steps", "-"), loss, accuracy, "%.4g %s%s" % (rate, unit, spread) if rate else "-"))
print()
if cpu:
    print("Conclude: the build works and the CPU reference paths learn (the training losses fall from ln(10) = 2.303 "
          "and ln(2) = 0.693, the accuracies rise above chance, 10 % and 50 %). These CPU figures are not a "
          "benchmark: on a GPU host the same command runs the full workloads; tools/compare.sh sets the "
          "frameworks side by side.")
else:
    print("Conclude: these are rosetta's baseline figures on this card; tools/compare.sh runs the PyTorch and JAX "
          "twins on the same data and weights and reports each against them, with their spread.")
PY
echo "result records in $out/"
