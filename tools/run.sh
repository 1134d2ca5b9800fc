#!/usr/bin/env bash
# The main job: sets up and builds rosetta (tools/setup.sh), then runs the workloads on the best device present.
# With a GPU: each workload by the full protocol of DESIGN.md, on the real data when given, otherwise on the
# learnable synthetic data of the same shapes. Without a GPU: a short CPU run of each, and it says so.
# Usage: tools/run.sh [--cifar DIR] [--out DIR]      (result records go to DIR, default ./results)
set -euo pipefail
cd "$(dirname "$0")/.."
cifar="" out=results
while [ $# -gt 0 ]; do
  case "$1" in
    --cifar) cifar=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: tools/run.sh [--cifar DIR] [--out DIR]" >&2; exit 2 ;;
  esac
done
tools/setup.sh
mkdir -p "$out"
rosetta=build/bench/rosetta
"$rosetta" info

cnn_data=(--synthetic)
[ -n "$cifar" ] && cnn_data=(--data "$cifar")

if "$rosetta" info | grep -q "no CUDA device"; then
  echo
  echo "No GPU here: running a short CPU version of each workload (the reference path, not a benchmark)."
  "$rosetta" train cnn --device cpu "${cnn_data[@]}" --epochs 1 --max-steps 40 --batch 16 \
    --synthetic-train 2000 --synthetic-test 400 --json "$out/rosetta-cnn-cpu.json"
else
  "$rosetta" train cnn --device cuda "${cnn_data[@]}" --json "$out/rosetta-cnn.json"
fi
echo "result records in $out/"
