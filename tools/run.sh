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
  "$rosetta" train cnn --device cpu "${cnn_data[@]}" --epochs 1 --max-steps 40 --batch 16 \
    --synthetic-train 2000 --synthetic-test 400 --test-batches 10 --json "$out/rosetta-cnn-cpu.json"
  "$rosetta" extract resnet50 --device cpu "${resnet_weights[@]}" --batch 2 --images 4 \
    --json "$out/rosetta-resnet50-cpu.json"
  "$rosetta" train gru --device cpu "${gru_data[@]}" --epochs 1 --max-steps 40 \
    --synthetic-train 4000 --synthetic-test 640 --test-batches 10 --json "$out/rosetta-gru-cpu.json"
else
  "$rosetta" train cnn --device cuda "${cnn_data[@]}" --json "$out/rosetta-cnn.json"
  "$rosetta" extract resnet50 --device cuda "${resnet_weights[@]}" --json "$out/rosetta-resnet50.json"
  "$rosetta" train gru --device cuda "${gru_data[@]}" --json "$out/rosetta-gru.json"
fi
echo "result records in $out/"
