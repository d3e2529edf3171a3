#!/usr/bin/env bash
# Liveness with real daemons on loopback, 4 sites and min_sites 3, heartbeat
# every 0.5 s and a 5 s timeout:
# - local training slowed to at least 8 s (a test-only 2 s pause per step)
#   does not get a site declared dead, because its agent keeps heartbeating;
# - site-4, SIGSTOPped during round 1's training, stops heartbeating, is
#   declared dropped after the timeout, and the round completes without it;
# - resumed (SIGCONT) once round 2 runs, site-4 sends its round 1 messages,
#   which the coordinator rejects as stale and logs.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 2, "local_steps": 4, "min_sites": 3}'
fl_make_project 4 || { fl_fail "project set-up failed"; fl_finish ""; }
export FEDLORA_TEST_STEP_DELAY_MS=2000

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
for site in 1 2 3 4; do
    fl_start_agent "$site"
done

fl_wait_log "$WORK/agent-4.log" "round 1: training" 40 || fl_fail "site-4 did not start training"
kill -STOP "${AGENT_PIDS[4]}"
fl_wait_log "$WORK/coordinator.log" "site site-4 no longer takes part: declared dead" 20 ||
    fl_fail "the stopped site-4 was not declared dropped"
fl_wait_log "$WORK/coordinator.log" "round 2 \(attempt 0\) starts with 3 sites" 60 ||
    fl_fail "round 1 did not go on without site-4"
kill -CONT "${AGENT_PIDS[4]}"
fl_wait_log "$WORK/coordinator.log" \
    "rejected a message from site-4: replay check: stale message from site-4: round 1 is before the current round 2" 40 ||
    fl_fail "site-4's round 1 messages were not rejected as stale"
fl_wait_status completed 60 || fl_fail "the job did not complete"

grep -E "peer site-[123] declared dead|site site-[123] no longer takes part" \
    "$WORK/coordinator.log" && fl_fail "a site that kept heartbeating was declared dead"
"$PY" - "$(fl_history_file)" <<'PY' || fl_fail "the job history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
assert [r["outcome"] for r in rounds] == ["completed", "completed"], rounds
sites = {s["site"]: s for s in rounds[0]["sites"]}
for name in ("site-1", "site-2", "site-3"):
    assert sites[name]["participated"], sites[name]
    # 4 steps with a 2 s pause each: training outlasted the 5 s heartbeat timeout.
    assert sites[name]["train_s"] >= 8.0, sites[name]
assert not sites["site-4"]["participated"], sites["site-4"]
assert "declared dead" in sites["site-4"]["dropped"], sites["site-4"]
print("site-1..3 trained for %s s each; site-4 dropped: %s" % (
    [round(sites[n]["train_s"], 1) for n in ("site-1", "site-2", "site-3")],
    sites["site-4"]["dropped"]))
PY

fl_finish "heartbeat test passed"
