#!/usr/bin/env bash
# Agent crashes with real daemons on loopback, 4 sites and min_sites 3:
# - site-3's agent is SIGKILLed during round 1's local training, and its
#   trainer process stops with it. The coordinator drops the site after the
#   heartbeat timeout and round 1 completes with the other 3. Site-3,
#   restarted with the same identity, takes part in round 2;
# - site-4 is SIGKILLed in round 2 after it sent its key shares and masked
#   its update, while a test-only hold keeps its upload from starting: round 2
#   completes with site-1..3, because the survivors' shares remove site-4's
#   masks from the sum.
# Every aggregate is recomputed from the participating sites' deltas.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 2, "local_steps": 4, "min_sites": 3}'
GATHER_TIME=3s
fl_make_project 4 || { fl_fail "project set-up failed"; fl_finish ""; }
export FEDLORA_TEST_DUMP_DIR=$WORK/dump
mkdir -p "$FEDLORA_TEST_DUMP_DIR"

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
# Each local step takes at least 0.5 s, so site-3 can be killed during training.
export FEDLORA_TEST_STEP_DELAY_MS=500
for site in 1 2; do
    fl_start_agent "$site"
done
# Site-3's first steps last 20 s, so only the agent's death can stop its trainer in time.
FEDLORA_TEST_STEP_DELAY_MS=20000 fl_start_agent 3
# Site-4 waits 8 s between masking its update and uploading it in every round.
FEDLORA_TEST_UPLOAD_HOLD_MS=8000 fl_start_agent 4

fl_wait_log "$WORK/agent-3.log" "round 1: training" 40 || fl_fail "site-3 did not train round 1"
# Only the agent is killed: its trainer process must not outlive it.
trainers=$(pgrep -P "${AGENT_PIDS[3]}")
[ -n "$trainers" ] || fl_fail "site-3 has no trainer process while training"
kill -9 "${AGENT_PIDS[3]}"
wait "${AGENT_PIDS[3]}" 2>/dev/null
echo "--- agent killed during round 1's training" >>"$WORK/agent-3.log"
for trainer in $trainers; do
    for _ in $(seq 50); do
        state=$(awk '/^State:/ {print $2}' "/proc/$trainer/status" 2>/dev/null)
        [ -z "$state" ] || [ "$state" = Z ] && break
        sleep 0.1
    done
    [ -z "$state" ] || [ "$state" = Z ] ||
        fl_fail "site-3's trainer process $trainer still runs after its agent was killed"
done
fl_wait_log "$WORK/coordinator.log" "site site-3 no longer takes part: declared dead" 15 ||
    fl_fail "the coordinator did not drop the killed site-3"
fl_start_agent 3

# Kill site-4 while its masked upload of round 2 waits.
fl_wait_log "$WORK/agent-4.log" "round 2: test-only hold of the masked upload" 90 ||
    fl_fail "site-4 did not reach its upload in round 2"
fl_kill_agent 4
grep -q '"round":2,.*"type":"share_keys"' "$WORK/state/site-4/audit.jsonl" ||
    fl_fail "site-4 was killed before it shared its keys"
grep -q '"round":2,.*"type":"masked_input_chunk"' "$WORK/state/site-4/audit.jsonl" &&
    fl_fail "site-4 uploaded in round 2 before it was killed"

fl_wait_status completed 60 || fl_fail "the job did not complete"
"$PY" - "$(fl_history_file)" <<'PY' || fl_fail "the job history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
assert [(r["round"], r["outcome"]) for r in rounds] == [(1, "completed"), (2, "completed")], rounds
expected = {1: (["site-1", "site-2", "site-4"], "site-3"), 2: (["site-1", "site-2", "site-3"], "site-4")}
for r in rounds:
    counted = sorted(s["site"] for s in r["sites"] if s["participated"])
    dropped = [s for s in r["sites"] if s["site"] == expected[r["round"]][1]]
    assert counted == expected[r["round"]][0], r
    assert dropped and "dropped" in dropped[0], r
    print("round %d: counted %s; %s dropped: %s" % (r["round"], counted, dropped[0]["site"],
                                                   dropped[0]["dropped"]))
PY
grep -q "round 2: 3 sites uploaded, 1 dropped" "$WORK/coordinator.log" ||
    fl_fail "the coordinator did not unmask round 2 with site-4 dropped after sharing"
"$PY" "$(dirname "$0")/check_aggregate.py" "$WORK" "$FEDLORA_TEST_DUMP_DIR" 4 ||
    fl_fail "an aggregate differs from the participating sites' deltas"
"$BIN/fedlora" audit verify "$WORK/state/site-3/audit.jsonl" >/dev/null ||
    fl_fail "site-3's audit log does not verify after its crash"

fl_finish "agent crash test passed"
