#!/usr/bin/env bash
# Builds rosetta and its CPU test suite with AddressSanitizer and UndefinedBehaviorSanitizer (CMakePresets.json's
# "asan": gcc, CPU-only, RelWithDebInfo) into ./build-asan and runs every C++ test under them. Any ASan, UBSan or
# LeakSanitizer report fails its test. The twins' self-tests (no rosetta code) and the install check (a separate
# project) are left out; CI also leaves out the long trainings of tools/sanitize-ci-exclude.txt.
# Usage: tools/sanitize.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan -j "$(nproc)" "$@"
