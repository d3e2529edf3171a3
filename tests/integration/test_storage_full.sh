#!/usr/bin/env bash
# Storage faults with real daemons on loopback: the job's state folder sits
# on a 4 MB tmpfs, which the test fills after round 1 completed. Round 2's
# checkpoint write then fails with an error that names the file and the
# cause, round 1's checkpoint stays intact, the job state on disk still says
# 1 completed round, and once space is freed the job resumes from round 1
# and completes. Needs root for mount; skipped otherwise.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup_mounted EXIT
fl_require_root "mounting a tmpfs"

JOB_EXTRA='{"rounds": 3, "local_steps": 4, "min_sites": 3}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"

fl_job_on_tmpfs 4m || { fl_fail "mounting a tmpfs on $JOB_DIR failed"; fl_finish ""; }

# Each local step takes at least 0.5 s, so the disk fills before round 2 ends.
export FEDLORA_TEST_STEP_DELAY_MS=500
fl_start_coordinator
for site in 1 2 3; do
    fl_start_agent "$site"
done

fl_wait_log "$WORK/coordinator.log" "round 1 completed and checkpointed" 60 ||
    fl_fail "round 1 did not complete"
fl_wait_log "$WORK/coordinator.log" "round 2 \(attempt 0\) starts" 20 ||
    fl_fail "round 2 did not start"
checkpoint_before=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
dd if=/dev/zero of="$JOB_DIR/filler" bs=64k 2>/dev/null
[ "$(df --output=avail "$JOB_DIR" | tail -1)" -eq 0 ] || fl_fail "the tmpfs is not full"

fl_wait_log "$WORK/coordinator.log" "checkpoint of round 2 failed: .*No space left on device" 60 ||
    fl_fail "the full disk gave no clear checkpoint error"
fl_wait_log "$WORK/coordinator.log" "keeps the previous status and the job resumes from the checkpoint of round 1" 10 ||
    fl_fail "the coordinator did not log that the job resumes from round 1"
fl_wait_log "$WORK/coordinator.log" "job job-1 is tried again in 5 s" 10 ||
    fl_fail "the coordinator did not delay trying the job again"
grep -E "checkpoint of round 2 failed|cannot save the job state" "$WORK/coordinator.log" |
    head -2 | cut -c1-400
sleep 1
checkpoint_full=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
[ "$checkpoint_before" = "$checkpoint_full" ] || fl_fail "round 1's checkpoint changed"
"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job state on the full disk is wrong"
import json, sys
state = json.load(open(sys.argv[1] + "/state.json"))
assert state["completed_rounds"] == 1, state
assert state["status"] == "running", state
print("state on the full disk:", state)
PY
ls "$JOB_DIR" "$JOB_DIR"/round-* | grep -q "\.tmp\." && fl_fail "a temporary file was left behind"

rm "$JOB_DIR/filler"
fl_wait_status completed 90 || fl_fail "the job did not complete once space was freed"
checkpoint_after=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
[ "$checkpoint_before" = "$checkpoint_after" ] || fl_fail "round 1's checkpoint changed"
"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1] + "/history.json"))["rounds"]
completed = [r["round"] for r in rounds if r["outcome"] == "completed"]
assert completed == [1, 2, 3], rounds
print("history after freeing space: rounds", completed, "completed")
PY

fl_finish "storage test passed"
