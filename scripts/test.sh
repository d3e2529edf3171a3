#!/usr/bin/env bash
# Installs the missing Debian packages, builds fedlora twice (optimised, and
# with AddressSanitizer + UndefinedBehaviorSanitizer) and runs the test suite
# in both builds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$FEDLORA_ROOT"

fl_install_packages
fl_npm_ci tests/tokenizer/node

echo "== Release build (build/) =="
fl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
(cd build && ctest --output-on-failure -j "$(nproc)")

echo "== Sanitizer build (build-asan/) =="
fl_build build-asan -DCMAKE_BUILD_TYPE=Debug -DFEDLORA_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$(nproc)" -LE no-sanitizer)
