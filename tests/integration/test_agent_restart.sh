#!/usr/bin/env bash
# An agent that crashes during local training and restarts at once, well
# within the heartbeat timeout, opens a new session with the same identity.
# Its part of the running round is lost, so the coordinator must drop it from
# that round at once rather than wait for the round deadline; the round
# completes with the other 3 sites and the restarted site takes part in the
# next round. Real daemons on loopback, 4 sites, min_sites 3.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 2, "local_steps": 4, "min_sites": 3, "round_deadline_s": 300}'
GATHER_TIME=3s
fl_make_project 4 || { fl_fail "project set-up failed"; fl_finish ""; }
# Each local step takes at least 0.5 s, so site-3 can be killed during training.
export FEDLORA_TEST_STEP_DELAY_MS=500

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
for site in 1 2 3 4; do
    fl_start_agent "$site"
done

fl_wait_log "$WORK/agent-3.log" "round 1: training" 40 || fl_fail "site-3 did not train round 1"
fl_kill_agent 3
echo "--- agent killed during round 1's training" >>"$WORK/agent-3.log"
fl_start_agent 3

fl_wait_status completed 80 || fl_fail "the job did not complete"
grep -q "peer site-3 declared dead" "$WORK/coordinator.log" &&
    echo "note: site-3 restarted only after the heartbeat timeout"
"$PY" - "$(fl_history_file)" <<'PY' || fl_fail "the job history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
assert [(r["round"], r["outcome"]) for r in rounds] == [(1, "completed"), (2, "completed")], rounds
first = {s["site"]: s for s in rounds[0]["sites"]}
assert not first["site-3"]["participated"], first["site-3"]
print("round 1: site-3 dropped:", first["site-3"]["dropped"])
second = sorted(s["site"] for s in rounds[1]["sites"] if s["participated"])
assert second == ["site-1", "site-2", "site-3", "site-4"], rounds[1]
print("round 2: counted", second)
PY

fl_finish "agent restart test passed"
