#!/usr/bin/env bash
# fedlora train writes a PEFT adapter (or a whole model with --mode full)
# that fedlora eval loads; training lowers the loss on the training records;
# bad options and files get clear errors.
set -u
bin=${1:?usage: test_train.sh BUILD_DIR}/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

"$bin/fedlora" synth --sites 1 --records 40 --out "$work/data" --seed 3 >/dev/null || fail "synth"
"$bin/fedlora" tokenizer train --data "$work/data/public.jsonl" --vocab 300 \
    --out "$work/tokenizer.json" >/dev/null || fail "tokenizer train"
echo '{"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
 "num_attention_heads": 2, "max_position_embeddings": 256}' >"$work/size.json"
"$bin/fedlora" init-model --arch llama --config "$work/size.json" --out "$work/model" \
    --tokenizer "$work/tokenizer.json" >/dev/null || fail "init-model"

"$bin/fedlora" train --model "$work/model" --data "$work/data/site-1.jsonl" --out "$work/adapter" \
    --steps 30 --lr 0.02 --lora-r 4 --targets all --seq-len 256 --threads 1 >"$work/train.txt" ||
    fail "train (LoRA): $(tail -3 "$work/train.txt")"
grep -q "^step    30/30" "$work/train.txt" || fail "train printed no progress for step 30"
[ -f "$work/adapter/adapter_config.json" ] && [ -f "$work/adapter/adapter_model.safetensors" ] ||
    fail "train wrote no PEFT adapter"

base=$("$bin/fedlora" eval --model "$work/model" --data "$work/data/site-1.jsonl" --json \
    --threads 1) || fail "eval of the base model"
tuned=$("$bin/fedlora" eval --model "$work/model" --adapter "$work/adapter" \
    --data "$work/data/site-1.jsonl" --json --threads 1) || fail "eval with the adapter"
/usr/bin/python3 - "$base" "$tuned" <<'PY' || fail "the adapter did not lower the training loss"
import json, sys
base, tuned = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert set(base) == {"loss", "perplexity", "tokens"}, base
assert tuned["tokens"] == base["tokens"] > 0
assert tuned["loss"] < base["loss"] - 0.05, (base, tuned)
print("loss %.3f without, %.3f with the adapter" % (base["loss"], tuned["loss"]))
PY

"$bin/fedlora" train --mode full --model "$work/model" --data "$work/data/public.jsonl" \
    --out "$work/full" --steps 3 --seq-len 256 --threads 1 >/dev/null || fail "train --mode full"
"$bin/fedlora" eval --model "$work/full" --data "$work/data/site-1-val.jsonl" --json \
    --threads 1 >/dev/null || fail "eval of the fully trained model"

output=$("$bin/fedlora" train --model "$work/model" --data "$work/missing.jsonl" \
    --out "$work/x" 2>&1) && fail "training on a missing file succeeded"
grep -q "missing.jsonl" <<<"$output" || fail "the error does not name the file: $output"
output=$("$bin/fedlora" train --model "$work/model" --data "$work/data/site-1.jsonl" \
    --out "$work/x" --mode half 2>&1) && fail "an unknown mode was accepted"
grep -q "'half'" <<<"$output" || fail "the error does not name the mode: $output"
output=$("$bin/fedlora" train --model "$work/modl" --data "$work/data/site-1.jsonl" \
    --out "$work/x" 2>&1) && fail "training with a wrong --model succeeded"
grep -q -- "--model $work/modl: not a Hugging Face model folder" <<<"$output" ||
    fail "the error does not name --model and its value: $output"
# An --out that is a file fails before training, not after it.
touch "$work/a-file"
output=$("$bin/fedlora" train --model "$work/model" --data "$work/data/site-1.jsonl" \
    --out "$work/a-file" --steps 30 --threads 1 2>&1) && fail "an --out file was accepted"
grep -q "a-file: exists and is not a folder" <<<"$output" ||
    fail "the error does not name the --out file: $output"
grep -q "^step" <<<"$output" && fail "train started before rejecting --out"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "train and eval checks passed"
