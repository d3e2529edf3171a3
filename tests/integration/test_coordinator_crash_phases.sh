#!/usr/bin/env bash
# Coordinator SIGKILL at four moments of a 5-round job, with real daemons on
# loopback and 3 sites whose agents are never restarted. The kills during
# local training and during the masked upload are in
# test_coordinator_restart.sh and test_coordinator_restart_upload.sh. Here:
#   round 2  while it sends the global adapter (phase send)
#   round 3  in the key-sharing phase of secure aggregation (phase share)
#   round 4  in the unmask phase (phase unmask)
#   round 5  after the round's checkpoint files and history entry are
#            written, but before state.json counts the round
# The test-only FEDLORA_TEST_HOLD_AT pauses the coordinator at each moment so
# the kill lands there. After every restart the job resumes from its last
# completed round, and the earlier checkpoints stay byte-identical. At the end
# the history lists each round as completed exactly once, every site took
# part in every round and trained it only once, and every global adapter
# equals the previous one plus the weighted mean of the sites' deltas.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

# LoRA on every projection with rank 16 gives a 64 KB adapter: 16 chunks of
# 4 KB, twice the window of 8, so the kill in phase send cuts the download.
JOB_EXTRA='{"rounds": 5, "local_steps": 2, "lora": {"r": 16, "alpha": 32, "targets":
 ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
sed -i 's/^\[transport\]$/[transport]\nchunk_size = 4K/' "$WORK/kits/coordinator/coordinator.conf"
export FEDLORA_TEST_DUMP_DIR=$WORK/dump
mkdir -p "$FEDLORA_TEST_DUMP_DIR"
JOB_DIR=$WORK/state/coordinator/jobs/job-1
# Far longer than the test waits: every hold ends with a SIGKILL.
HOLD_MS=600000

# Prints the checksums of every file in the checkpoints of rounds 1 to $1.
checkpoint_sums() {
    local round
    for round in $(seq 1 "$1"); do
        (cd "$JOB_DIR" && find "round-$round" -type f -exec sha256sum {} + | sort)
    done
}

# start_holding POINT ROUND: starts the coordinator with a hold at POINT of
# round ROUND. Its log starts empty because each kill moves the log away.
start_holding() {
    export FEDLORA_TEST_HOLD_AT=$1:$2:$HOLD_MS
    fl_start_coordinator
    unset FEDLORA_TEST_HOLD_AT
}

# kill_at_hold POINT ROUND COMPLETED: waits for the hold at POINT of round
# ROUND, SIGKILLs the coordinator, checks that the job state on disk still
# counts COMPLETED rounds and keeps their checksums in $WORK/sums-POINT.
kill_at_hold() {
    local point=$1 round=$2 completed=$3
    fl_wait_log "$WORK/coordinator.log" "test-only hold at $point of round $round " 90 ||
        fl_fail "the coordinator did not reach $point of round $round"
    kill -9 "$COORDINATOR_PID"
    wait "$COORDINATOR_PID" 2>/dev/null
    mv "$WORK/coordinator.log" "$WORK/coordinator-$point.log"
    echo "killed at $point of round $round"

    [ "$(fl_job_status)" = running ] || fl_fail "after the kill at $point the job is not running"
    "$PY" - "$JOB_DIR" "$completed" <<'PY' || fl_fail "state.json after the kill at $point is wrong"
import json, sys
state = json.load(open(sys.argv[1] + "/state.json"))
assert state["completed_rounds"] == int(sys.argv[2]), state
PY
    checkpoint_sums "$completed" >"$WORK/sums-$point"
    [ -s "$WORK/sums-$point" ] || fl_fail "no checkpoint of rounds 1 to $completed before $point"
}

# wait_resumed ROUND: waits until the restarted coordinator logs that it
# resumed from the checkpoint of ROUND.
wait_resumed() {
    fl_wait_log "$WORK/coordinator.log" "resumed from the checkpoint of round $1\$" 30 ||
        fl_fail "the restarted coordinator did not resume from round $1"
}

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
start_holding send 2
for site in 1 2 3; do
    fl_start_agent "$site"
done

# Round 2, phase send: the coordinator pauses as soon as it sent the first
# window of 8 chunks, so no site can have all 16 chunks of the adapter.
kill_at_hold send 2 1
[ -e "$JOB_DIR/round-2" ] && fl_fail "round 2 has a checkpoint folder before it completed"
full_size=$(stat -c %s "$FEDLORA_TEST_DUMP_DIR/site-1-r1-a0-adapter.bin")
downloads=0
for site in 1 2 3; do
    # The work folder's name ends with the agent's own round counter.
    download=$(ls "$WORK/state/site-$site/work"/job-1-r2-a0-*/adapter.bin 2>/dev/null | head -1)
    [ -n "$download" ] || continue
    downloads=$((downloads + 1))
    size=$(stat -c %s "$download")
    echo "site-$site had $size of $full_size adapter bytes at the kill"
    [ "$size" -lt "$full_size" ] || fl_fail "site-$site had the whole adapter of round 2"
done
[ "$downloads" -gt 0 ] || fl_fail "no site had started downloading the adapter of round 2"

start_holding share 3
wait_resumed 1
kill_at_hold share 3 2

start_holding unmask 4
wait_resumed 2
kill_at_hold unmask 4 3
spooled=$(find "$WORK/state/coordinator/spool" -name "masked-*-r4-a0.bin" | wc -l)
[ "$spooled" -eq 3 ] || fl_fail "the spool holds $spooled masked uploads of round 4, not 3"

# Round 5, phase checkpoint: files and history entry written, state.json not.
start_holding checkpoint 5
wait_resumed 3
grep -q "deleted 3 masked uploads that a stopped run left" "$WORK/coordinator.log" ||
    fl_fail "the restarted coordinator did not delete the masked uploads of round 4"
kill_at_hold checkpoint 5 4
[ -s "$JOB_DIR/round-5/adapter/adapter_model.safetensors" ] ||
    fl_fail "round 5's checkpoint files were not written before the kill"

fl_start_coordinator
wait_resumed 4
fl_wait_log "$WORK/coordinator.log" "state.json counts 4 rounds, .* marked 1 such entries failed" 10 ||
    fl_fail "the restarted coordinator did not mark round 5's uncounted history entry"
fl_wait_status completed 120 || fl_fail "the job did not complete after the last restart"

for kill in send:1 share:2 unmask:3 checkpoint:4; do
    point=${kill%:*}
    [ "$(checkpoint_sums "${kill#*:}")" = "$(cat "$WORK/sums-$point")" ] ||
        fl_fail "a checkpoint that existed at the kill at $point changed afterwards"
done
# The agents kept their work: every site trained every round once. From
# round 3 on every site had trained before the kill, so each continued its
# round when the restarted coordinator sent the same RoundStart again.
for site in 1 2 3; do
    log=$WORK/agent-$site.log
    kill -0 "${AGENT_PIDS[$site]}" 2>/dev/null || fl_fail "the agent of site-$site stopped"
    [ "$(grep -c "connecting to" "$log")" -eq 1 ] ||
        fl_fail "the agent of site-$site started more than once"
    for round in 1 2 3 4 5; do
        trainings=$(grep -c "round $round: training" "$log")
        [ "$trainings" -eq 1 ] || fl_fail "site-$site trained round $round $trainings times"
    done
    for round in 3 4 5; do
        grep -q "round $round (attempt 0): the coordinator sent RoundStart again" "$log" ||
            fl_fail "site-$site did not continue round $round after the restart"
    done
done

[ -z "$(ls -A "$WORK/state/coordinator/spool")" ] || fl_fail "masked uploads are left in the spool"

"$PY" - "$JOB_DIR" <<'PY' || fl_fail "the job history is wrong"
import json, sys
folder = sys.argv[1]
rounds = json.load(open(folder + "/history.json"))["rounds"]
completed = [r for r in rounds if r["outcome"] == "completed"]
numbers = sorted(r["round"] for r in completed)
assert numbers == [1, 2, 3, 4, 5], rounds
for entry in completed:
    sites = sorted(s["site"] for s in entry["sites"] if s["participated"])
    assert sites == ["site-1", "site-2", "site-3"], entry
state = json.load(open(folder + "/state.json"))
assert state["completed_rounds"] == 5, state
print("history: rounds", numbers, "completed once each, every site in each;",
      len(rounds), "entries")
PY
"$PY" "$(dirname "$0")/check_aggregate.py" "$WORK" "$FEDLORA_TEST_DUMP_DIR" 3 ||
    fl_fail "an aggregate differs from the sites' deltas"

fl_finish "coordinator crash at every phase test passed"
