#!/usr/bin/env bash
# fedlora report writes a self-contained page; headless Chromium renders it
# with one validation-loss series per site and the other two plots.
set -u
bin=${1:?usage: test_report.sh BUILD_DIR}/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

cat >"$work/history.json" <<'JSON'
{"job": {"id": "job-<1>", "rounds": 3, "lora": {"r": 8, "targets": ["q_proj", "v_proj"]}},
 "status": "completed",
 "rounds": [
  {"round": 1, "duration_s": 12.5, "outcome": "completed", "sites": [
    {"site": "hospital-a", "participated": true, "val_loss": 2.5, "examples": 100},
    {"site": "hospital-b", "participated": true, "val_loss": 2.7, "examples": 80},
    {"site": "clinic&c", "participated": false}]},
  {"round": 2, "duration_s": 11.0, "outcome": "completed", "sites": [
    {"site": "hospital-a", "participated": true, "val_loss": 2.1, "examples": 100},
    {"site": "hospital-b", "participated": true, "val_loss": 2.4, "examples": 80},
    {"site": "clinic&c", "participated": true, "val_loss": 2.9, "examples": 60}]},
  {"round": 3, "duration_s": 30.0, "outcome": "aborted", "sites": [
    {"site": "hospital-a", "participated": true, "val_loss": 1.9, "examples": 100},
    {"site": "hospital-b", "participated": true, "val_loss": 2.2, "examples": 80},
    {"site": "clinic&c", "participated": true, "val_loss": 2.6, "examples": 60}]}]}
JSON

"$bin/fedlora" report --history "$work/history.json" --out "$work/report.html" >/dev/null ||
    fail "fedlora report exited non-zero"
grep -qi "<script\|src=['\"]http\|href=['\"]http" "$work/report.html" &&
    fail "the report loads something from outside the file"

chromium_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$work/profile")
if ! command -v chromium >/dev/null; then
    fail "chromium is not installed; ./scripts/test.sh installs it"
else
    chromium "${chromium_flags[@]}" --dump-dom "file://$work/report.html" \
        >"$work/dom.html" 2>"$work/chromium.log" || fail "chromium could not render the page"
    series=$(grep -o "<polyline class=\"series\" data-site=\"[^\"]*\"" "$work/dom.html" | sort -u)
    [ "$(wc -l <<<"$series")" -eq 3 ] || fail "expected 3 loss series, found: $series"
    for site in hospital-a hospital-b "clinic&amp;c"; do
        grep -qF "data-site=\"$site\"" <<<"$series" || fail "no loss series for $site"
    done
    [ "$(grep -o 'class="participation"' "$work/dom.html" | wc -l)" -eq 9 ] ||
        fail "expected 9 participation cells (3 sites x 3 rounds)"
    [ "$(grep -o 'class="duration"' "$work/dom.html" | wc -l)" -eq 3 ] ||
        fail "expected 3 duration bars"
    grep -qF "job-&lt;1&gt;" "$work/dom.html" || fail "the job id is not shown escaped"

    chromium "${chromium_flags[@]}" --screenshot="$work/report.png" --window-size=900,1400 \
        "file://$work/report.html" >/dev/null 2>&1
    [ -s "$work/report.png" ] || fail "chromium wrote no screenshot"
fi

echo '{"rounds": 3}' >"$work/bad.json"
output=$("$bin/fedlora" report --history "$work/bad.json" --out "$work/bad.html" 2>&1) &&
    fail "a history without 'job' was accepted"
grep -qF "bad.json" <<<"$output" || fail "the error does not name the file: $output"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "report rendered with one series per site"
