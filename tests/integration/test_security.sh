#!/usr/bin/env bash
# Admission and policy checks with real daemons on loopback:
# - a CURVE client whose key the project does not list gets no reply, and the
#   coordinator logs the key's fingerprint;
# - a coordinator key file from another project stops the coordinator at start;
# - a site whose base model differs from the job's rejects the job with that
#   reason, which the coordinator logs and keeps in the job history, and the
#   job still completes with the other 3 sites (min_sites 3 of 4).
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

fl_finish "security test passed"
