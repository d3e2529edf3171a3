#!/usr/bin/env bash
# fedlora doctor checks a site kit: all in order, the coordinator reachable
# over CURVE, and each broken part (key permissions, a bad data line, the
# coordinator down) reported with what to fix.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
conf=$WORK/kits/sites/site-1/agent.conf

output=$("$BIN/fedlora" doctor --config "$conf" --no-connect 2>&1) ||
    fl_fail "doctor failed on a sound kit: $output"
grep -q "\[FAIL\]" <<<"$output" && fl_fail "doctor reported a failure on a sound kit: $output"
grep -q "base model .* hash [0-9a-f]\{64\}" <<<"$output" || fl_fail "doctor shows no model hash"

output=$("$BIN/fedlora" doctor --config "$conf" --timeout 2 2>&1) &&
    fl_fail "doctor passed while the coordinator is down"
grep -q "\[FAIL\] coordinator at .* did not answer" <<<"$output" ||
    fl_fail "the unreachable coordinator is not reported: $output"

fl_start_coordinator
sleep 1
output=$("$BIN/fedlora" doctor --config "$conf" --timeout 10 2>&1) ||
    fl_fail "doctor failed with the coordinator running: $output"
grep -q "\[ OK \] coordinator at .* answered over CURVE" <<<"$output" ||
    fl_fail "the coordinator's answer is not reported: $output"

chmod 644 "$WORK/kits/sites/site-1/site.key"
echo '{"messages": [' >>"$WORK/data/site-1.jsonl"
output=$("$BIN/fedlora" doctor --config "$conf" --no-connect 2>&1) &&
    fl_fail "doctor passed a broken kit"
grep -q "\[FAIL\] key file: .*chmod 600" <<<"$output" || fl_fail "loose key mode not reported: $output"
grep -q "\[FAIL\] data: .*site-1.jsonl:41" <<<"$output" || fl_fail "bad data line not reported: $output"

fl_finish "doctor checks passed"
