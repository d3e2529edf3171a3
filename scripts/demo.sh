#!/usr/bin/env bash
# Installs the missing Debian packages, builds fedlora and runs the demo.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$FEDLORA_ROOT"

fl_install_packages
fl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo

bin=build/bin
echo
echo "== The three programs =="
"$bin/fedlora" --version
"$bin/fedlora-coordinator" --version
"$bin/fedlora-agent" --version
echo
"$bin/fedlora" --help
echo
# TODO: the federated demo job (synthetic sites, rounds, export, report) needs the
# coordinator and agent services; until they exist the demo shows the tools.
echo "Demo finished: the programs are in $FEDLORA_ROOT/$bin."
