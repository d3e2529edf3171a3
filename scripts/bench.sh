#!/usr/bin/env bash
# Runs one benchmark from bench/: ./scripts/bench.sh NAME
# A benchmark prints a table and ends with one JSON line naming itself and its
# figures, with its reference measured in the same run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$FEDLORA_ROOT"

list_benchmarks() {
    local dir
    for dir in bench/*/; do
        [ -f "$dir/CMakeLists.txt" ] && basename "$dir"
    done
}

if [ $# -ne 1 ] || [ "$1" = "--help" ]; then
    echo "Usage: ./scripts/bench.sh NAME"
    echo "Benchmarks: $(list_benchmarks | tr '\n' ' ')"
    [ $# -eq 1 ] && exit 0
    exit 2
fi
name=$1
if [ ! -f "bench/$name/CMakeLists.txt" ]; then
    echo "error: no benchmark named '$name'; choose one of: $(list_benchmarks | tr '\n' ' ')" >&2
    exit 2
fi

fl_install_packages
fl_build build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null

# A benchmark with a run.sh drives its own programs; otherwise run its binary.
if [ -x "bench/$name/run.sh" ]; then
    exec "bench/$name/run.sh" "$FEDLORA_ROOT/build-bench"
fi
exec "build-bench/bin/bench_$name"
