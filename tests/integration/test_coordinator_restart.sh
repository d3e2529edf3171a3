#!/usr/bin/env bash
# Coordinator crash safety with real daemons on loopback:
# - SIGKILL during round 2's local training, then a restart: the job resumes
#   from round 1's checkpoint, which stays unchanged, every round completes
#   exactly once, and every global adapter still equals the previous one plus
#   the weighted mean of the sites' deltas (no round lost or applied twice);
# - a job recorded as aborted before a crash stays aborted after the restart.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 3, "local_steps": 4}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
export FEDLORA_TEST_DUMP_DIR=$WORK/dump
mkdir -p "$FEDLORA_TEST_DUMP_DIR"
# Each local step takes at least 0.5 s, so round 2 is still training when it is killed.
export FEDLORA_TEST_STEP_DELAY_MS=500
JOB_DIR=$WORK/state/coordinator/jobs/job-1

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
for site in 1 2 3; do
    fl_start_agent "$site"
done

fl_wait_log "$WORK/coordinator.log" "round 2 \(attempt 0\) starts" 60 ||
    fl_fail "round 2 did not start"
fl_wait_log "$WORK/agent-1.log" "round 2: training" 20 || fl_fail "site-1 did not train round 2"
kill -9 "$COORDINATOR_PID"
wait "$COORDINATOR_PID" 2>/dev/null
echo "--- coordinator killed during round 2" >>"$WORK/coordinator.log"
checkpoint_before=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
[ -n "$checkpoint_before" ] || fl_fail "round 1 left no checkpoint"
[ "$(fl_job_status)" = running ] || fl_fail "the killed job is not 'running' on disk"
[ -e "$JOB_DIR/round-2/adapter" ] && fl_fail "round 2 has a checkpoint before it completed"

fl_start_coordinator
fl_wait_status completed 80 || fl_fail "the job did not complete after the restart"
grep -q "resumed from the checkpoint of round 1" "$WORK/coordinator.log" ||
    fl_fail "the restarted coordinator did not resume from round 1"
checkpoint_after=$(cd "$JOB_DIR/round-1" && find . -type f -exec sha256sum {} + | sort)
[ "$checkpoint_before" = "$checkpoint_after" ] || fl_fail "round 1's checkpoint changed"

"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job history is wrong"
import json, os, sys
folder = sys.argv[1]
rounds = json.load(open(folder + "/history.json"))["rounds"]
completed = [r["round"] for r in rounds if r["outcome"] == "completed"]
assert completed == [1, 2, 3], rounds
for number in (1, 2, 3):
    assert os.path.isdir("%s/round-%d/adapter" % (folder, number)), number
state = json.load(open(folder + "/state.json"))
assert state["completed_rounds"] == 3, state
print("history: rounds", completed, "completed once each;", len(rounds), "entries")
PY
"$PY" "$(dirname "$0")/check_aggregate.py" "$WORK" "$FEDLORA_TEST_DUMP_DIR" 3 ||
    fl_fail "an aggregate differs from the sites' deltas"

# A job recorded as aborted before a crash must not start again.
kill -9 "$COORDINATOR_PID"
wait "$COORDINATOR_PID" 2>/dev/null
"$PY" - "$WORK" <<'PY'
import json, sys
job = json.load(open(sys.argv[1] + "/job.json"))
job["id"] = "job-2"
json.dump(job, open(sys.argv[1] + "/job-2.json", "w"), indent=1)
PY
fl_submit_job "$WORK/job-2.json" || fl_fail "job-2 submission failed"
# NOTE: written by hand because no abort command exists yet.
printf '{"status": "aborted", "completed_rounds": 0, "reason": "aborted by alice"}\n' \
    >"$WORK/state/coordinator/jobs/job-2/state.json"
mv "$WORK/coordinator.log" "$WORK/coordinator-before-abort.log"
fl_start_coordinator
fl_wait_log "$WORK/coordinator.log" "serving sites" 20 || fl_fail "the coordinator did not start"
sleep 3
[ "$(fl_job_status job-2)" = aborted ] || fl_fail "job-2 is '$(fl_job_status job-2)', not aborted"
grep -q "job job-2 active" "$WORK/coordinator.log" && fl_fail "the aborted job-2 was started"

fl_finish "coordinator restart test passed"
