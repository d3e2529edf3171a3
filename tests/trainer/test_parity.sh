#!/usr/bin/env bash
# Parity of the C trainer with a PyTorch reference: logits, loss, gradients
# and one AdamW step for each architecture case of parity_reference.py.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 cannot import torch (install python3-torch)"
    exit 77
fi
work=$(mktemp -d /tmp/fl_parity.XXXXXX)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 "$here/parity_reference.py" "$work"
status=0
for case_dir in "$work"/*/; do
    "$build/bin/trainer_parity_check" "${case_dir%/}" || status=1
done
exit $status
