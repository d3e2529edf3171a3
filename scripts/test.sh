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

echo "== Fuzzing (build-fuzz/, clang + libFuzzer + AddressSanitizer) =="
# Each target runs for FEDLORA_FUZZ_SECONDS (default 30) on a copy of its
# committed corpus; a crash keeps the input under build-fuzz/crashes/.
targets=()
for corpus in tests/fuzz/corpus/*/; do
    targets+=("$(basename "$corpus")")
done
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFEDLORA_FUZZ=ON >build-fuzz.configure.log 2>&1 || {
    cat build-fuzz.configure.log >&2
    exit 1
}
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"
mkdir -p build-fuzz/crashes
for target in "${targets[@]}"; do
    work=$(mktemp -d)
    cp "tests/fuzz/corpus/$target"/* "$work/"
    echo "-- $target: ${FEDLORA_FUZZ_SECONDS:-30} s"
    if ! "build-fuzz/bin/$target" -max_total_time="${FEDLORA_FUZZ_SECONDS:-30}" \
        -artifact_prefix="build-fuzz/crashes/$target-" -print_final_stats=0 "$work" \
        >"build-fuzz/$target.log" 2>&1; then
        tail -40 "build-fuzz/$target.log"
        echo "error: $target found a crash; the input is in build-fuzz/crashes/" >&2
        rm -rf "$work"
        exit 1
    fi
    grep -E "^Done [0-9]+ runs" "build-fuzz/$target.log" || true
    rm -rf "$work"
done
echo "fuzzing: ${#targets[@]} targets ran without a crash"
