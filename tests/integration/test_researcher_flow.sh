#!/usr/bin/env bash
# The researcher's path end to end: provision, start the coordinator and 3
# agents from their kits, submit with `fedlora job submit`, watch rounds
# advance in `fedlora status --json`, export the adapter and load it in
# `fedlora eval`; the HTML report comes from the admin socket too.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
export FEDLORA_CONFIG=$WORK/kits/researchers/alice/fedlora.conf
"$PY" - "$WORK/job.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
del job["base_model"]["hash"], job["base_model"]["config"]  # filled in by --model
json.dump(job, open(sys.argv[1], "w"))
PY

fl_start_coordinator
# Steps of at least 0.3 s make each round last over a second, longer than the status poll.
export FEDLORA_TEST_STEP_DELAY_MS=300
for site in 1 2 3; do
    fl_start_agent "$site"
done
"$BIN/fedlora" job submit "$WORK/job.json" --model "$WORK/model" >"$WORK/submit.txt" 2>&1 ||
    fl_fail "job submit failed: $(cat "$WORK/submit.txt")"

# Status must show the job with rounds advancing while it runs.
seen_rounds=""
for _ in $(seq 1 600); do
    "$BIN/fedlora" status --json >"$WORK/status.json" 2>"$WORK/status.err" || true
    state=$("$PY" - "$WORK/status.json" <<'PY'
import json, sys
try:
    status = json.load(open(sys.argv[1]))
except ValueError:
    print("none 0"); sys.exit()
job = status.get("job") or {}
print(job.get("status", "none"), job.get("completed_rounds", 0))
PY
)
    seen_rounds+=" ${state#* }"
    [ "$(fl_job_status)" = completed ] && break
    sleep 0.2
done
[ "$(fl_job_status)" = completed ] || fl_fail "the job did not complete"
grep -qw 1 <<<"$seen_rounds" || fl_fail "status never showed 1 completed round: $seen_rounds"

"$BIN/fedlora" export --job job-1 --out "$WORK/exported" >"$WORK/export.txt" 2>&1 ||
    fl_fail "export failed: $(cat "$WORK/export.txt")"
cmp -s "$WORK/exported/adapter_model.safetensors" \
    "$WORK/state/coordinator/jobs/job-1/round-3/adapter/adapter_model.safetensors" ||
    fl_fail "the exported adapter differs from the last checkpoint"
"$BIN/fedlora" eval --model "$WORK/model" --adapter "$WORK/exported" \
    --data "$WORK/data/site-1-val.jsonl" --json >"$WORK/eval.json" 2>&1 ||
    fl_fail "the exported adapter does not load in eval: $(cat "$WORK/eval.json")"

"$BIN/fedlora" report --job job-1 --out "$WORK/report.html" >/dev/null 2>&1 ||
    fl_fail "report over the admin socket failed"
[ "$(grep -o 'class=.series.' "$WORK/report.html" | wc -l)" -eq 3 ] ||
    fl_fail "the report lacks one loss series per site"

echo "completed rounds seen in status:$seen_rounds" | tr -s " " | cut -c1-200
fl_finish "researcher flow passed"
