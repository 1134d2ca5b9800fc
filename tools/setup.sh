#!/usr/bin/env bash
# Sets up a fresh Debian machine with the CUDA toolkit for rosetta and builds it into ./build.
# Installs (only what is missing) the Debian packages rosetta builds and tests with (clang and its libFuzzer
# runtime for tools/fuzz.sh), the JAX peers' pinned environment (tools/requirements-jax.txt) into .venv-jax with
# Debian's python3, then configures and builds with every core. Idempotent: a second run installs nothing and only
# rebuilds what changed.
# Usage: tools/setup.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
# Data parallelism (docs/distributed.md): Open MPI launches the ranks and sums the CPU path's gradients.
distributed_packages=(openmpi-bin libopenmpi-dev python3-pip)

packages=(cmake ninja-build g++ libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
          python3-numpy python3-torch python3-torchvision python3-venv python3-jsonschema python3-matplotlib
          clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}" "${distributed_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "rosetta setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The JAX peers' venv (bench/peers/jax; the equivalence tests run them with .venv-jax/bin/python). Rebuilt from
# scratch when tools/requirements-jax.txt changes; the copy of the requirements inside it, written last, marks a
# complete install, so an interrupted one is redone.
venv=.venv-jax
if ! cmp -s tools/requirements-jax.txt "$venv/requirements-jax.txt"; then
  echo "rosetta setup: installing the JAX peers' environment into $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r tools/requirements-jax.txt
  cp tools/requirements-jax.txt "$venv/requirements-jax.txt"
fi

# nvcc is found through PATH or the toolkit's usual home.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi

# NCCL (the GPU all-reduce) from its pinned PyPI wheel into .deps/nccl, where CMake looks first (ROSETTA_NCCL_DIR).
# The pin is NCCL for CUDA 13 as the CUDA toolkit's own; the copy of it inside, written last, marks a complete install.
nccl_pin=nvidia-nccl-cu13==2.28.9
if [ "$(cat .deps/nccl/PIN 2>/dev/null)" != "$nccl_pin" ]; then
  echo "rosetta setup: installing $nccl_pin into .deps/nccl"
  rm -rf .deps/nccl
  /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
    --target .deps/nccl "$nccl_pin"
  echo "$nccl_pin" > .deps/nccl/PIN
fi

cmake -S . -B build -G Ninja "$@" >/dev/null
cmake --build build -j "$(nproc)"
