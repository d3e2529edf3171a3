#!/usr/bin/env bash
# A researcher's abort with real daemons on loopback: 4 sites train slowly
# (a test-only 1 s pause per step), researcher alice runs `fedlora job abort`,
# and then
# - the trainer processes of site-1 and site-2 have exited and been reaped
#   within the agents' [trainer] stop_timeout (set to 10 s here);
# - site-3's trainer ignores SIGTERM (test-only FEDLORA_TEST_TRAINER_IGNORES_SIGTERM),
#   so its agent sends SIGKILL once stop_timeout has passed;
# - site-4's agent is stopped (SIGSTOP) and declared dead before the abort,
#   so it misses it. Once resumed, its heartbeats still report training, so
#   the coordinator repeats the abort and site-4's trainer stops too;
# - the job's state.json says aborted with alice's reason, `fedlora status`
#   shows it, and each site's audit log records the abort of job-1;
# - no file of the round is left in the sites' work folders or in the
#   coordinator's spool, and a folder left by an earlier agent run is
#   deleted when the agent starts;
# - the agents keep running and complete a second job.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

STOP_TIMEOUT=10
# The agent counts stop_timeout from the moment the abort reaches it and checks
# its trainer every 50 ms. This allowance covers delivery on loopback and one
# agent heartbeat interval (1 s), after which site-4 learns of the abort. It
# also covers scheduling delays when CI runs two such tests on 2 cores: a shell
# loop there was once 3 s late.
DELIVERY_S=5
JOB_EXTRA='{"rounds": 3, "local_steps": 100, "min_sites": 3}'
fl_make_project 4 || { fl_fail "project set-up failed"; fl_finish ""; }
for site in 1 2 3 4; do
    printf '\n[trainer]\nstop_timeout = %ss\n' "$STOP_TIMEOUT" \
        >>"$WORK/kits/sites/site-$site/agent.conf"
done
export FEDLORA_CONFIG=$WORK/kits/researchers/alice/fedlora.conf
export FEDLORA_TEST_STEP_DELAY_MS=1000
"$PY" - "$WORK/job.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
del job["base_model"]["hash"], job["base_model"]["config"]  # filled in by --model
json.dump(job, open(sys.argv[1], "w"))
job.update({"id": "job-2", "rounds": 1, "local_steps": 2})
json.dump(job, open(sys.argv[1].replace("job.json", "job-2.json"), "w"))
PY

# A round folder as an agent killed by SIGKILL would leave it; the agent deletes it at start.
mkdir -p "$WORK/state/site-1/work/job-0-r1-a0-1"
echo "{}" >"$WORK/state/site-1/work/job-0-r1-a0-1/metrics.json"

fl_start_coordinator
for site in 1 2 4; do
    fl_start_agent "$site"
done
FEDLORA_TEST_TRAINER_IGNORES_SIGTERM=1 fl_start_agent 3
"$BIN/fedlora" job submit "$WORK/job.json" --model "$WORK/model" >"$WORK/submit.txt" 2>&1 ||
    fl_fail "job submit failed: $(cat "$WORK/submit.txt")"

# Each agent's trainer process, a child of that agent.
declare -A TRAINER
for site in 1 2 3 4; do
    fl_wait_log "$WORK/agent-$site.log" "round 1: training" 60 ||
        fl_fail "site-$site did not start training"
    TRAINER[$site]=$(pgrep -P "${AGENT_PIDS[$site]}" -f -- --trainer-worker)
    [ -n "${TRAINER[$site]}" ] || fl_fail "site-$site has no trainer process"
done
[ "$FAILURES" -eq 0 ] || fl_finish ""
[ -e "$WORK/state/site-1/work/job-0-r1-a0-1" ] &&
    fl_fail "site-1's agent kept the work folder an earlier run left"
kill -STOP "${AGENT_PIDS[4]}"
fl_wait_log "$WORK/coordinator.log" "peer site-4 declared dead" 20 ||
    fl_fail "the stopped site-4 was not declared dead"

# seconds_since START: prints the seconds from START (date +%s.%N) to now.
seconds_since() {
    awk -v from="$1" -v to="$(date +%s.%N)" 'BEGIN { printf "%.2f", to - from }'
}

# wait_reaped LIMIT START SITE...: waits until the trainer processes of the
# sites are reaped (a zombie would still have a /proc entry) or LIMIT seconds
# have passed since START; prints the sites whose process remains.
wait_reaped() {
    local limit=$1 start=$2 site remaining
    shift 2
    while :; do
        remaining=""
        for site in "$@"; do
            [ -e "/proc/${TRAINER[$site]}" ] && remaining+=" site-$site"
        done
        [ -z "$remaining" ] && break
        awk -v e="$(seconds_since "$start")" -v limit="$limit" 'BEGIN { exit !(e > limit) }' &&
            break
        sleep 0.05
    done
    echo "$remaining"
}

started=$(date +%s.%N)
"$BIN/fedlora" job abort --job job-1 --reason "protocol amendment 2" >"$WORK/abort.txt" 2>&1 ||
    fl_fail "job abort failed: $(cat "$WORK/abort.txt")"
grep -q "job job-1 aborted (it was running)" "$WORK/abort.txt" ||
    fl_fail "job abort printed: $(cat "$WORK/abort.txt")"

remaining=$(wait_reaped "$STOP_TIMEOUT" "$started" 1 2)
echo "site-1 and site-2 trainers gone $(seconds_since "$started") s after the abort"
[ -z "$remaining" ] ||
    fl_fail "the trainer process of$remaining still exists $STOP_TIMEOUT s after the abort"
remaining=$(wait_reaped "$(echo "$STOP_TIMEOUT + $DELIVERY_S" | bc)" "$started" 3)
echo "site-3 trainer (ignores SIGTERM) gone $(seconds_since "$started") s after the abort"
[ -z "$remaining" ] ||
    fl_fail "site-3's trainer process still exists $STOP_TIMEOUT s (+ delivery) after the abort"
fl_wait_log "$WORK/agent-3.log" "trainer process ${TRAINER[3]} still runs .* sending SIGKILL" 5 ||
    fl_fail "site-3's agent did not log the SIGKILL"
[ -e "/proc/${TRAINER[4]}" ] || fl_fail "site-4's trainer stopped although its agent was stopped"

resumed=$(date +%s.%N)
kill -CONT "${AGENT_PIDS[4]}"
remaining=$(wait_reaped "$(echo "$STOP_TIMEOUT + $DELIVERY_S" | bc)" "$resumed" 4)
echo "site-4 trainer gone $(seconds_since "$resumed") s after its agent resumed"
[ -z "$remaining" ] ||
    fl_fail "site-4's trainer process still exists $STOP_TIMEOUT s (+ delivery) after resuming"
fl_wait_log "$WORK/coordinator.log" "site site-4 still works on job job-1; repeating the abort" 1 ||
    fl_fail "the coordinator did not repeat the abort to site-4"

[ "$(fl_job_status)" = aborted ] || fl_fail "job-1 is '$(fl_job_status)', expected aborted"
"$PY" - "$WORK/state/coordinator/jobs/job-1/state.json" <<'PY' ||
import json, sys
state = json.load(open(sys.argv[1]))
assert state["reason"] == "aborted by researcher alice: protocol amendment 2", state
assert state["completed_rounds"] == 0, state
PY
    fl_fail "job-1's state.json lacks the researcher's reason"

"$BIN/fedlora" status >"$WORK/status.txt" 2>&1 || fl_fail "status failed"
grep -q "Last job: job-1, aborted after 0 of 3 rounds: aborted by researcher alice: protocol amendment 2" \
    "$WORK/status.txt" || fl_fail "status does not show the abort: $(cat "$WORK/status.txt")"

for site in 1 2 3 4; do
    "$PY" - "$WORK/state/site-$site/audit.jsonl" <<'PY' ||
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
aborts = [e for e in entries if e.get("decision") == "aborted" and e.get("job") == "job-1"
          and "protocol amendment 2" in e.get("detail", "")]
assert aborts, entries[-3:]
PY
        fl_fail "site-$site's audit log has no abort entry for job-1"
    fl_wait_log "$WORK/agent-$site.log" "trainer process ${TRAINER[$site]} stopped" 5 ||
        fl_fail "site-$site did not log how its trainer process stopped"
    leftover=$(find "$WORK/state/site-$site/work" -mindepth 1 2>/dev/null)
    [ -z "$leftover" ] || fl_fail "site-$site kept files of the aborted round: $leftover"
    kill -0 "${AGENT_PIDS[$site]}" 2>/dev/null || fl_fail "the agent of site-$site exited"
done
leftover=$(find "$WORK/state/coordinator/spool" -mindepth 1 2>/dev/null)
[ -z "$leftover" ] || fl_fail "the coordinator kept spool files of the aborted round: $leftover"

"$BIN/fedlora" job submit "$WORK/job-2.json" --model "$WORK/model" >>"$WORK/submit.txt" 2>&1 ||
    fl_fail "submitting job-2 failed: $(cat "$WORK/submit.txt")"
fl_wait_status completed 90 job-2 || fl_fail "job-2 did not complete after the abort"
[ "$(fl_job_status)" = aborted ] || fl_fail "job-1 is no longer aborted"

fl_finish "job abort test passed"
