#!/usr/bin/env bash
# Installs the build BUILD_DIR into a fresh prefix under WORK_DIR (cmake --install), configures and builds
# tests/install_consumer against it with find_package(rosetta), and runs it. Exit 0 when all of that works.
# Usage: check.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work.install.log" 2>&1 || { cat "$work.install.log"; exit 1; }
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/build"
"$work/build/consumer"
