#!/usr/bin/env bash
# Sets up and builds rosetta (tools/setup.sh), then runs the whole test suite with ctest. CUDA cases skip, with
# the reason, on a machine without a GPU. Exit status: ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
