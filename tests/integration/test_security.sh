#!/usr/bin/env bash
# Admission and policy checks with real daemons on loopback:
# - a CURVE client whose key the project does not list gets no reply, and the
#   coordinator logs the key's fingerprint;
# - a coordinator key file from another project stops the coordinator at start;
# - a site whose base model differs from the job's rejects the job with that
#   reason, which the coordinator logs and keeps in the job history, and the
#   job still completes with the other 3 sites (min_sites 3 of 4);
# - a global adapter signed with a key other than the coordinator's (a
#   test-only switch of the coordinator) is rejected by every site before
#   training, so the round and the job fail with that reason.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

JOB_EXTRA='{"rounds": 1, "local_steps": 2}'
fl_make_project 4 || { fl_fail "project set-up failed"; fl_finish ""; }

# Site 4 runs a model of the same shape but other weights, so its hash differs.
"$BIN/fedlora" init-model --arch llama --config "$WORK/model.json" --out "$WORK/model-other" \
    --seed 4 --tokenizer "$WORK/tokenizer.json" >/dev/null || fl_fail "second model failed"
sed -i "s|^base_model_dir = .*|base_model_dir = \"$WORK/model-other\"|" \
    "$WORK/kits/sites/site-4/agent.conf"

# A coordinator kit holding another project's key file must not start.
mkdir -p "$WORK/other"
cp "$WORK/project.json" "$WORK/other/project.json"
"$BIN/fedlora" provision --project "$WORK/other/project.json" --out "$WORK/other/kits" \
    >/dev/null || fl_fail "provisioning the second project failed"
cp -r "$WORK/kits/coordinator" "$WORK/other/mixed"
cp "$WORK/other/kits/coordinator/coordinator.key" "$WORK/other/mixed/coordinator.key"
if "$BIN/fedlora-coordinator" --config "$WORK/other/mixed/coordinator.conf" \
    >"$WORK/mixed.log" 2>&1; then
    fl_fail "a coordinator with another project's key file started"
fi
grep -q "do not match" "$WORK/mixed.log" ||
    fl_fail "the foreign key file's error is unclear: $(cat "$WORK/mixed.log")"

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
fl_wait_log "$WORK/coordinator.log" "serving sites" 20 || fl_fail "the coordinator did not start"

# The unlisted client dials with the right server key but its own, unknown key.
server_key=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["coordinator"]["curve_public"])' \
    "$WORK/kits/coordinator/manifest.json")
"$BIN/unlisted_client" "tcp://127.0.0.1:$PORT" "$server_key" 2000 >"$WORK/unlisted.out"
[ $? -eq 0 ] || fl_fail "the unlisted client got a reply or failed"
fingerprint=$(head -1 "$WORK/unlisted.out")
[ -n "$fingerprint" ] || fl_fail "the unlisted client printed no fingerprint"
fl_wait_log "$WORK/coordinator.log" "rejected CURVE client.*fingerprint $fingerprint" 10 ||
    fl_fail "the coordinator log does not name the unlisted key's fingerprint $fingerprint"

for site in 1 2 3 4; do
    fl_start_agent "$site"
done
fl_wait_status completed 80 || fl_fail "the job did not complete with 3 of 4 sites"

grep -q "site site-4 refused job job-1 (REFUSAL_BASE_MODEL_MISMATCH)" "$WORK/coordinator.log" ||
    fl_fail "the coordinator log lacks site-4's base model refusal"
grep -q '"reason":"base_model_mismatch"' "$WORK/state/site-4/audit.jsonl" ||
    fl_fail "site-4's audit log lacks the base model decision"
"$PY" - "$(fl_history_file)" <<'PY' || fl_fail "the job history is wrong"
import json, sys
history = json.load(open(sys.argv[1]))
rounds = history["rounds"]
assert [r["outcome"] for r in rounds] == ["completed"], rounds
sites = {s["site"]: s for s in rounds[0]["sites"]}
assert sorted(sites) == ["site-1", "site-2", "site-3"], sites
refusals = rounds[0]["refusals"]
assert [r["site"] for r in refusals] == ["site-4"], refusals
assert refusals[0]["reason"] == "REFUSAL_BASE_MODEL_MISMATCH", refusals
print("history: round 1 by site-1..3; site-4 refused:", refusals[0]["detail"])
PY

# Restart the coordinator so that it signs with alice's key, then run job-2.
kill -9 "$COORDINATOR_PID"
wait "$COORDINATOR_PID" 2>/dev/null
"$PY" - "$WORK" <<'PY'
import json, sys
job = json.load(open(sys.argv[1] + "/job.json"))
job.update({"id": "job-2", "round_retries": 0})
json.dump(job, open(sys.argv[1] + "/job-2.json", "w"), indent=1)
PY
fl_submit_job "$WORK/job-2.json" || fl_fail "job-2 submission failed"
FEDLORA_TEST_FOREIGN_SIGNING_KEY=$WORK/kits/researchers/alice/researcher.key fl_start_coordinator
fl_wait_status failed 60 job-2 || fl_fail "job-2 with foreign signatures did not fail"
for site in 1 2 3; do
    grep -q "round 1 failed in phase download: the global adapter's signature is not the coordinator's" \
        "$WORK/agent-$site.log" || fl_fail "site-$site did not reject the foreign signature"
    grep -q "job=job-2 .*training" "$WORK/agent-$site.log" &&
        fl_fail "site-$site trained on an adapter with a foreign signature"
done
# The round fails once fewer sites remain than the threshold, so the
# coordinator may log only some of the rejections before it stops listening.
grep -q "no longer takes part: aborted its part: the global adapter's signature" \
    "$WORK/coordinator.log" || fl_fail "the coordinator did not log a site's rejection"
"$PY" - "$WORK/state/coordinator/jobs/job-2" <<'PY' || fl_fail "job-2's state or history is wrong"
import json, sys
state = json.load(open(sys.argv[1] + "/state.json"))
assert state["completed_rounds"] == 0, state
assert "round 1 failed 1 times" in state["reason"], state
rounds = json.load(open(sys.argv[1] + "/history.json"))["rounds"]
assert [r["outcome"] for r in rounds] == ["failed"], rounds
reasons = [s.get("dropped", "") for s in rounds[0]["sites"]]
assert any("signature is not the coordinator's" in reason for reason in reasons), rounds
print("job-2 failed:", state["reason"])
PY

fl_finish "security test passed"
