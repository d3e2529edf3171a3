#!/usr/bin/env bash
# PEFT interoperability: the C trainer's exported adapter has PEFT's keys,
# shapes and config and reproduces its loss in PyTorch; an adapter written
# by PyTorch in PEFT naming is read back with the same loss.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 cannot import torch (install python3-torch)"
    exit 77
fi
work=$(mktemp -d /tmp/fl_peft.XXXXXX)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 "$here/peft_reference.py" model "$work"
"$build/bin/trainer_peft_roundtrip" export "$work"
/usr/bin/python3 "$here/peft_reference.py" check "$work"
"$build/bin/trainer_peft_roundtrip" import "$work"
