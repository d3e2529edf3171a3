#!/usr/bin/env bash
# Read-only state folder with real daemons on loopback: the job's state
# folder sits on a tmpfs, which the test remounts read-only once round 1
# completed (chmod would not stop root). Round 2's checkpoint write then
# fails with an error that names the folder and the cause. Round 1's
# checkpoint stays byte-identical and the job state on disk still records 1
# completed round. The coordinator tries the job again only after a delay
# that doubles (5 s, then 10 s), so the sites do not retrain round 2 back to
# back. Once remounted read-write the job resumes from round 1 and
# completes. Needs root for mount; skipped otherwise.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup_mounted EXIT
fl_require_root "mounting a tmpfs"

JOB_EXTRA='{"rounds": 3, "local_steps": 4, "min_sites": 3}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"

fl_job_on_tmpfs 16m || { fl_fail "mounting a tmpfs on $JOB_DIR failed"; fl_finish ""; }

# Each local step takes at least 0.5 s, so the remount happens before round 2 ends.
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
mount -o remount,ro "$JOB_DIR" || fl_fail "remounting $JOB_DIR read-only failed"
touch "$JOB_DIR/probe" 2>/dev/null && fl_fail "$JOB_DIR is still writable"

fl_wait_log "$WORK/coordinator.log" \
    "checkpoint of round 2 failed: $JOB_DIR/round-2: .*Read-only file system; the checkpoint of round 1 is unchanged" 60 ||
    fl_fail "the read-only folder gave no clear checkpoint error"
fl_wait_log "$WORK/coordinator.log" "keeps the previous status and the job resumes from the checkpoint of round 1" 10 ||
    fl_fail "the coordinator did not log that the job resumes from round 1"
fl_wait_log "$WORK/coordinator.log" \
    "job job-1 is tried again in 5 s; until then make .* writable and free space in it" 10 ||
    fl_fail "the coordinator did not log the first delay and what to do"
grep -E "checkpoint of round 2 failed|tried again in" "$WORK/coordinator.log" | head -2 | cut -c1-400

# The second failure doubles the delay; the sites train round 2 once per try.
fl_wait_log "$WORK/coordinator.log" "job job-1 is tried again in 10 s" 60 ||
    fl_fail "the second failure did not double the delay"
"$PY" - "$WORK/coordinator.log" <<'PY' || fl_fail "the coordinator did not wait before trying again"
import datetime, re, sys
def stamp(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
lines = open(sys.argv[1]).read().splitlines()
delayed = [i for i, line in enumerate(lines) if "is tried again in 5 s" in line][0]
activated = [i for i, line in enumerate(lines) if i > delayed and "job job-1 active" in line][0]
waited = (stamp(lines[activated]) - stamp(lines[delayed])).total_seconds()
starts = sum(1 for line in lines if re.search(r"round 2 \(attempt 0\) starts", line))
print("reactivated %.1f s after the first failure; round 2 started %d times" % (waited, starts))
assert waited >= 5.0, waited
assert starts == 2, starts
PY

checkpoint_readonly=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
[ "$checkpoint_before" = "$checkpoint_readonly" ] || fl_fail "round 1's checkpoint changed"
"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job state on the read-only folder is wrong"
import json, sys
state = json.load(open(sys.argv[1] + "/state.json"))
assert state["completed_rounds"] == 1, state
assert state["status"] == "running", state
print("state on the read-only folder:", state)
PY

mount -o remount,rw "$JOB_DIR" || fl_fail "remounting $JOB_DIR read-write failed"
fl_wait_status completed 120 || fl_fail "the job did not complete once the folder was writable"
checkpoint_after=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
[ "$checkpoint_before" = "$checkpoint_after" ] || fl_fail "round 1's checkpoint changed"
"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1] + "/history.json"))["rounds"]
completed = [r["round"] for r in rounds if r["outcome"] == "completed"]
assert completed == [1, 2, 3], rounds
print("history after the remount: rounds", completed, "completed")
PY

fl_finish "read-only storage test passed"
