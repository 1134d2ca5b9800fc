#!/usr/bin/env bash
# Sets up a fresh Debian machine with the CUDA toolkit for rosetta and builds it into ./build.
# Installs (only what is missing) the Debian packages rosetta builds and tests with (clang and its libFuzzer
# runtime for tools/fuzz.sh), then configures and builds with every core. Idempotent: a second run only rebuilds
# what changed.
# Usage: tools/setup.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
          python3-numpy python3-torch python3-torchvision clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "rosetta setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# nvcc is found through PATH or the toolkit's usual home.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi

cmake -S . -B build -G Ninja "$@" >/dev/null
cmake --build build -j "$(nproc)"
