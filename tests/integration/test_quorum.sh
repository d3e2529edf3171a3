#!/usr/bin/env bash
# Quorum and deadline with real daemons on loopback, 4 sites of which site-4
# never starts:
# - job-1 needs 3 sites per round, so both its rounds complete without site-4;
# - job-2 needs all 4, so each attempt of its round 1 passes its 2 s deadline
#   with 3 ready sites; the attempt is recorded as failed with that reason,
#   retried once (round_retries 1), and the job then fails with the reason.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 2, "local_steps": 2, "min_sites": 3}'
fl_make_project 4 || { fl_fail "project set-up failed"; fl_finish ""; }
"$PY" - "$WORK" <<'PY'
import json, sys
job = json.load(open(sys.argv[1] + "/job.json"))
job.update({"id": "job-2", "rounds": 1, "min_sites": 4, "round_deadline_s": 2,
            "round_retries": 1})
json.dump(job, open(sys.argv[1] + "/job-2.json", "w"), indent=1)
PY

fl_submit_job || fl_fail "job-1 submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
for site in 1 2 3; do
    fl_start_agent "$site"
done
fl_wait_status completed 60 || fl_fail "job-1 did not complete with 3 of 4 sites"
"$PY" - "$(fl_history_file job-1)" <<'PY' || fl_fail "job-1's history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
assert [(r["round"], r["outcome"]) for r in rounds] == [(1, "completed"), (2, "completed")], rounds
for r in rounds:
    counted = sorted(s["site"] for s in r["sites"] if s["participated"])
    assert counted == ["site-1", "site-2", "site-3"], r
print("job-1: rounds 1 and 2 completed by site-1..3")
PY

fl_submit_job "$WORK/job-2.json" || fl_fail "job-2 submission failed: $(cat "$WORK/submit.log")"
fl_wait_status failed 40 job-2 || fl_fail "job-2 did not fail after its deadlines"
"$PY" - "$WORK/state/coordinator/jobs/job-2" <<'PY' || fl_fail "job-2's history or state is wrong"
import json, sys
folder = sys.argv[1]
rounds = json.load(open(folder + "/history.json"))["rounds"]
assert [(r["round"], r["attempt"], r["outcome"]) for r in rounds] == \
    [(1, 0, "failed"), (1, 1, "failed")], rounds
for r in rounds:
    assert "only 3 of the 4 sites the job needs were ready before the 2 s deadline" \
        in r["reason"], r
state = json.load(open(folder + "/state.json"))
assert state["completed_rounds"] == 0, state
assert "round 1 failed 2 times" in state["reason"], state
assert "deadline" in state["reason"], state
print("job-2 failed:", state["reason"])
PY
grep -q "round 1 attempt 1 failed (only 3 of the 4 sites" "$WORK/coordinator.log" ||
    fl_fail "the coordinator log lacks the retry of job-2's round 1"
grep -q "job job-2 failed: round 1 failed 2 times" "$WORK/coordinator.log" ||
    fl_fail "the coordinator log lacks job-2's failure"

fl_finish "quorum test passed"
