#!/usr/bin/env bash
# A coordinator and 3 agents on loopback run 3 rounds of federated LoRA with
# secure aggregation; every round completes and each global adapter equals
# the previous one plus the weighted mean of the sites' quantised deltas. The
# clip bound is small enough to clip part of every delta, and each site
# reports how many values clipping changed.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"secure_aggregation": {"clip_bound": 0.002, "bits": 16, "max_weight": 64}}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
export FEDLORA_TEST_DUMP_DIR=$WORK/dump
mkdir -p "$FEDLORA_TEST_DUMP_DIR"
fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
for site in 1 2 3; do
    fl_start_agent "$site"
done

fl_wait_status completed 240 || fl_fail "the job did not complete"

"$PY" - "$WORK" <<'PY' || fl_fail "the job history is wrong"
import json, sys
history = json.load(open(sys.argv[1] + "/state/coordinator/jobs/job-1/history.json"))
rounds = history["rounds"]
assert [r["round"] for r in rounds] == [1, 2, 3], rounds
for r in rounds:
    assert r["outcome"] == "completed", r
    assert all(site["participated"] for site in r["sites"]), r
    assert any(site["clipped_values"] > 0 for site in r["sites"]), r
print("history: 3 rounds completed by all 3 sites, with clipped values reported")
PY

"$PY" "$(dirname "$0")/check_aggregate.py" "$WORK" "$FEDLORA_TEST_DUMP_DIR" 3 ||
    fl_fail "an aggregate differs from the sites' deltas"

for site in 1 2 3; do
    "$BIN/fedlora" audit verify "$WORK/state/site-$site/audit.jsonl" >/dev/null ||
        fl_fail "site-$site's audit log does not verify"
    grep -q '"type":"masked_input_chunk"' "$WORK/state/site-$site/audit.jsonl" ||
        fl_fail "site-$site's audit log lacks the masked upload"
done
grep -q "delta.bin" "$WORK"/agent-*.log && fl_fail "an agent log names a delta file"

fl_finish "federation test passed"
