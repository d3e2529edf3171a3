#!/usr/bin/env bash
# A site whose policy does not accept the job's researcher refuses the job;
# the refusal and its reason show in `fedlora status` and in the site's
# audit log, and the job still runs with the sites that accepted it. Sites
# that ran that job refuse the next one under the next job's id, and a job
# that too few sites accept fails at once with their reasons.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

RESEARCHERS="alice bob" JOB_EXTRA='{"min_sites": 3, "rounds": 1}' fl_make_project 4 ||
    { fl_fail "project set-up failed"; fl_finish ""; }
sed -i 's/^accepted_researchers = .*/accepted_researchers = bob/' \
    "$WORK/kits/sites/site-4/agent.conf"
export FEDLORA_CONFIG=$WORK/kits/researchers/alice/fedlora.conf

fl_start_coordinator
for site in 1 2 3 4; do
    fl_start_agent "$site"
done
"$BIN/fedlora" job submit "$WORK/job.json" >"$WORK/submit.txt" 2>&1 ||
    fl_fail "job submit failed: $(cat "$WORK/submit.txt")"

refusal=""
for _ in $(seq 1 100); do
    "$BIN/fedlora" status --json >"$WORK/status.json" 2>/dev/null || true
    refusal=$("$PY" -c '
import json, sys
status = json.load(open(sys.argv[1]))
print(next((s.get("refusal") or "" for s in status["sites"] if s["name"] == "site-4"), ""))
' "$WORK/status.json" 2>/dev/null)
    [ -n "$refusal" ] && break
    sleep 0.2
done
grep -q "researcher 'alice'" <<<"$refusal" || fl_fail "status shows no refusal by site-4: '$refusal'"
"$BIN/fedlora" status >"$WORK/status.txt" 2>&1
grep -q "site-4" "$WORK/status.txt" || fl_fail "the status summary does not list site-4"

grep -q '"reason":"researcher_not_accepted"' "$WORK/state/site-4/audit.jsonl" ||
    fl_fail "site-4's audit log lacks the refusal decision"
grep -q '"type":"refusal"' "$WORK/state/site-4/audit.jsonl" ||
    fl_fail "site-4's audit log lacks the outbound refusal message"

fl_wait_status completed 120 || fl_fail "the job did not complete with the three accepting sites"
"$PY" - "$WORK/state/coordinator/jobs/job-1/history.json" <<'PY' || fl_fail "site-4 took part"
import json, sys
sites = json.load(open(sys.argv[1]))["rounds"][-1]["sites"]
assert sorted(s["site"] for s in sites) == ["site-1", "site-2", "site-3"], sites
PY

# Sites that took part in job-1 refuse job-2 (too many local steps). Their refusals must
# name job-2, or the coordinator drops them as leftovers of job-1; with every site refusing,
# job-2 fails at once with the sites' reasons instead of waiting for its round deadline.
"$PY" - "$WORK" <<'PY'
import json, sys
job = json.load(open(sys.argv[1] + "/job.json"))
job["id"] = "job-2"
job["local_steps"] = 200000
json.dump(job, open(sys.argv[1] + "/job-2.json", "w"))
PY
"$BIN/fedlora" job submit "$WORK/job-2.json" >"$WORK/submit-2.txt" 2>&1 ||
    fl_fail "job-2 submit failed: $(cat "$WORK/submit-2.txt")"
fl_wait_status failed 30 job-2 || fl_fail "job-2, which every site refused, did not fail"
fl_wait_log "$WORK/coordinator.log" "site site-1 refused job job-2" 10 ||
    fl_fail "site-1's refusal of job-2 did not reach the coordinator"
reason=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["reason"])' \
    "$WORK/state/coordinator/jobs/job-2/state.json" 2>/dev/null)
grep -q "sites can accept the job (min_sites 3)" <<<"$reason" ||
    fl_fail "job-2's reason does not count the sites that can accept it: '$reason'"
grep -Eq "site-[123] \(REFUSAL_TOO_MANY_LOCAL_STEPS\)" <<<"$reason" ||
    fl_fail "job-2's reason does not name the refusing sites: '$reason'"
grep -q "site site-1 refused job job-2 (REFUSAL_TOO_MANY_LOCAL_STEPS): job job-2 asks for 200000" \
    "$WORK/coordinator.log" || fl_fail "the coordinator log lacks site-1's reason for job-2"
grep '"type":"refusal"' "$WORK/state/site-1/audit.jsonl" | grep -q '"job":"job-2"' ||
    fl_fail "site-1's refusal message does not name job-2 in its audit log"

fl_finish "policy refusal checks passed"
