#!/usr/bin/env bash
# Coordinator SIGKILL during the secure-aggregation upload of round 1, while
# every site holds its masked upload (a test-only 4 s hold), then a restart:
# no checkpoint of round 1 exists before the restart, the job redoes round 1
# from the initial adapter, every round completes exactly once, and every
# aggregate equals the previous adapter plus the weighted mean of the sites'
# deltas. Real daemons on loopback, 3 sites.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 2, "local_steps": 2}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
export FEDLORA_TEST_DUMP_DIR=$WORK/dump
mkdir -p "$FEDLORA_TEST_DUMP_DIR"
export FEDLORA_TEST_UPLOAD_HOLD_MS=4000
JOB_DIR=$WORK/state/coordinator/jobs/job-1

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
for site in 1 2 3; do
    fl_start_agent "$site"
done

fl_wait_log "$WORK/agent-1.log" "round 1: test-only hold of the masked upload" 60 ||
    fl_fail "site-1 did not reach its upload in round 1"
kill -9 "$COORDINATOR_PID"
wait "$COORDINATOR_PID" 2>/dev/null
echo "--- coordinator killed during round 1's upload" >>"$WORK/coordinator.log"
grep -q "round 1: 3 sites uploaded" "$WORK/coordinator.log" &&
    fl_fail "the uploads of round 1 completed before the kill"
[ -e "$JOB_DIR/round-1/adapter" ] && fl_fail "round 1 has a checkpoint before it completed"

fl_start_coordinator
fl_wait_status completed 80 || fl_fail "the job did not complete after the restart"
"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job history is wrong"
import json, sys
folder = sys.argv[1]
rounds = json.load(open(folder + "/history.json"))["rounds"]
completed = [r["round"] for r in rounds if r["outcome"] == "completed"]
assert completed == [1, 2], rounds
state = json.load(open(folder + "/state.json"))
assert state["completed_rounds"] == 2, state
print("history: rounds", completed, "completed once each")
PY
"$PY" "$(dirname "$0")/check_aggregate.py" "$WORK" "$FEDLORA_TEST_DUMP_DIR" 3 ||
    fl_fail "an aggregate differs from the sites' deltas"

fl_finish "coordinator restart during upload test passed"
