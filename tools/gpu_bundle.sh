#!/usr/bin/env bash
# Builds what the GPU check needs, on a build machine WITHOUT a GPU, into one small folder to carry to a GPU
# host (which has no GoogleTest, Google Benchmark or package manager): sm_90 only, stripped test and
# benchmark binaries, the `rosetta` CLI, and the shared libraries the GPU host lacks (Google Benchmark).
# Usage: tools/gpu_bundle.sh [BUNDLE_DIR=gpu-bundle]
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-gpu-bundle}
build=build-gpu
# Without MPI: the GPU host has no Open MPI to load, and its one-rank NCCL path needs none (docs/distributed.md).
cmake -S . -B "$build" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90-real -DROSETTA_BENCHMARKS=ON -DROSETTA_MPI=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
rm -rf "$bundle" && mkdir -p "$bundle/bin" "$bundle/lib"
find "$build/bench" "$build/tests" -maxdepth 1 -type f -executable \( -name rosetta -o -name 'bench_*' -o -name 'test_*' \) \
  -exec cp {} "$bundle/bin/" \;
strip "$bundle"/bin/*
# Shared libraries the GPU host may lack: Google Benchmark and GCC's OpenMP runtime.
cp -L /usr/lib/x86_64-linux-gnu/libbenchmark.so.1debian "$(gcc -print-file-name=libgomp.so.1)" "$bundle/lib/"
# Header-only dependencies, for the fallback build on the GPU host (tools/gpu_check.sh).
mkdir -p "$bundle/deps/include" && cp -r /usr/include/nlohmann /usr/include/CLI "$bundle/deps/include/"
git rev-parse --short=12 HEAD > "$bundle/COMMIT"
git diff --quiet || echo "dirty" >> "$bundle/COMMIT"
du -sh "$bundle"
