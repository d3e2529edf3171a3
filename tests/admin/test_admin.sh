#!/usr/bin/env bash
# The researcher commands against a real coordinator on 127.0.0.1. Submit is
# idempotent, and list and status show the job waiting for sites. Status shows
# a site's refusal, and round start starts a round with the ready sites. An
# abort survives a SIGKILL and restart, a site key is rejected on the admin
# socket, and exporting a job without a completed round fails clearly.
#
# The project has four sites, so that three ready sites wait gather_time for
# the fourth and round start has a wait to skip. Test sites (test_site.c)
# stand in for agents: they accept or reject the job and train nothing.
set -u
bin=${1:?usage: test_admin.sh BUILD_DIR}/bin
work=$(mktemp -d)
coordinator_pid=""
site_pids=()
failures=0

stop_coordinator() {
    if [ -n "$coordinator_pid" ]; then
        kill -"${1:-TERM}" "$coordinator_pid" 2>/dev/null
        wait "$coordinator_pid" 2>/dev/null
        coordinator_pid=""
    fi
}
stop_sites() {
    for pid in "${site_pids[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    site_pids=()
}
trap 'stop_sites; stop_coordinator KILL; rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect OUTPUT PATTERN: OUTPUT must contain PATTERN.
expect() {
    grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"
}

# Two ports that are free now, chosen by the kernel.
read -r site_port admin_port < <(/usr/bin/python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')

cat >"$work/project.json" <<JSON
{"project": "admin-test",
 "coordinator": {"endpoint": "tcp://127.0.0.1:$site_port", "bind": "tcp://127.0.0.1:$site_port",
                 "admin_endpoint": "tcp://127.0.0.1:$admin_port",
                 "admin_bind": "tcp://127.0.0.1:$admin_port", "state_dir": "state"},
 "sites": [{"name": "hospital-a"}, {"name": "hospital-b"}, {"name": "hospital-c"},
           {"name": "hospital-d"}],
 "researchers": [{"name": "alice"}]}
JSON
"$bin/fedlora" provision --project "$work/project.json" --out "$work/kits" >/dev/null ||
    { echo "FAIL: fedlora provision failed"; exit 1; }
kits=$work/kits
printf '\n[rounds]\ngather_time = 600s\n' >>"$kits/coordinator/coordinator.conf"
export FEDLORA_CONFIG=$kits/researchers/alice/fedlora.conf
output=$("$bin/fedlora" config check --role researcher "$FEDLORA_CONFIG" 2>&1) ||
    fail "the researcher kit's fedlora.conf is invalid: $output"

echo '{"vocab_size": 40, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": true}' \
    >"$work/sizes.json"
"$bin/fedlora" init-model --arch llama --config "$work/sizes.json" --out "$work/tiny-llama" \
    >/dev/null || { echo "FAIL: fedlora init-model failed"; exit 1; }

start_coordinator() {
    "$bin/fedlora-coordinator" --config "$kits/coordinator/coordinator.conf" \
        >>"$work/coordinator.log" 2>&1 &
    coordinator_pid=$!
    for _ in $(seq 100); do
        if grep -q "serving sites on" "$work/coordinator.log" 2>/dev/null; then
            sleep 0.2
            kill -0 "$coordinator_pid" 2>/dev/null && return 0
            break
        fi
        sleep 0.1
    done
    fail "the coordinator did not start: $(cat "$work/coordinator.log")"
    exit 1
}

# job_field JSON PYTHON_EXPRESSION: evaluates the expression on the parsed status.
job_field() {
    /usr/bin/python3 -c '
import json, sys
status = json.loads(sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}

start_coordinator

cat >"$work/job.json" <<JSON
{"id": "study-1", "researcher": "alice", "base_model": {"name": "tiny-llama"},
 "lora": {"r": 4, "alpha": 8}, "rounds": 2, "min_sites": 3}
JSON

# Submitting twice creates one job.
output=$("$bin/fedlora" job submit "$work/job.json" --model "$work/tiny-llama" 2>&1) ||
    fail "job submit failed: $output"
expect "$output" "job study-1 submitted"
output=$("$bin/fedlora" job submit "$work/job.json" --model "$work/tiny-llama" 2>&1) ||
    fail "a repeated job submit failed: $output"
expect "$output" "already exists"
[ "$(ls "$work/state/jobs" | wc -l)" -eq 1 ] || fail "a repeated submit created a second job"

# The same id with other settings is rejected.
sed 's/"rounds": 2/"rounds": 3/' "$work/job.json" >"$work/job-changed.json"
output=$("$bin/fedlora" job submit "$work/job-changed.json" --model "$work/tiny-llama" 2>&1) &&
    fail "the same id with other settings was accepted"
expect "$output" "other settings"

# A job in another researcher's name is rejected.
sed 's/"alice"/"bob"/; s/study-1/study-2/' "$work/job.json" >"$work/job-bob.json"
output=$("$bin/fedlora" job submit "$work/job-bob.json" --model "$work/tiny-llama" 2>&1) &&
    fail "a job in another researcher's name was accepted"
expect "$output" "belongs to researcher 'alice'"

output=$("$bin/fedlora" --config "$FEDLORA_CONFIG" job list 2>&1) || fail "job list failed: $output"
expect "$output" "study-1"

# The coordinator activates the job and waits for its sites, none of which has accepted it.
phase=""
for _ in $(seq 50); do
    status=$("$bin/fedlora" status --json 2>&1) || fail "status --json failed: $status"
    phase=$(job_field "$status" 'status["job"]["phase"] if status["job"] else "none"')
    [ "$phase" = waiting_for_sites ] && break
    sleep 0.1
done
[ "$phase" = waiting_for_sites ] || fail "status does not show the job waiting for sites: $status"
[ "$(job_field "$status" 'status["job"]["id"]')" = study-1 ] || fail "status shows another job"
[ "$(job_field "$status" 'len(status["sites"])')" = 4 ] || fail "status does not list 4 sites"
[ "$(job_field "$status" 'any(s["online"] for s in status["sites"])')" = False ] ||
    fail "status shows a site online although none runs"
output=$("$bin/fedlora" status 2>&1) || fail "status failed: $output"
expect "$output" "phase waiting_for_sites"

# A site that rejects the job shows as online, with its last-seen time and reason.
start_site() {
    "$bin/test_site" "$1" "tcp://127.0.0.1:$site_port" "$2" "$kits/sites/$2/site.key" \
        "$kits/coordinator/coordinator.pub" 60 >>"$work/sites.log" 2>&1 &
    site_pids+=($!)
}
start_site refuse hospital-a
refusal=""
for _ in $(seq 50); do
    status=$("$bin/fedlora" status --json 2>&1)
    refusal=$(job_field "$status" \
        '[s["refusal"] for s in status["sites"] if s["name"] == "hospital-a"][0]')
    [ "$refusal" != None ] && break
    sleep 0.1
done
expect "$refusal" "researcher alice is not in this site's accepted_researchers"
[ "$(job_field "$status" 'status["sites"][0]["online"]')" = True ] ||
    fail "status does not show the connected site online: $status"
[ "$(job_field "$status" 'status["sites"][0]["last_seen"] is not None')" = True ] ||
    fail "status shows no last-seen time for the connected site: $status"
output=$("$bin/fedlora" status 2>&1)
expect "$output" "refused the job: researcher alice"
stop_sites

output=$("$bin/fedlora" export --job study-1 --out "$work/export" 2>&1) &&
    fail "export of a job without a completed round succeeded"
expect "$output" "has no completed round yet"
[ -e "$work/export" ] && fail "a failed export left a folder behind"

output=$("$bin/fedlora" round start 2>&1) && fail "round start without sites succeeded"
expect "$output" "only 0 of the 3 sites"

output=$("$bin/fedlora" logs --job study-1 2>&1) || fail "logs failed: $output"
[ "$(job_field "$output" 'status["job"]["id"]')" = study-1 ] || fail "logs show no job history"
output=$("$bin/fedlora" report --job study-1 --out "$work/report.html" 2>&1) ||
    fail "report --job failed: $output"
grep -q "<svg" "$work/report.html" 2>/dev/null || fail "report --job wrote no plot"

# Three of four sites accept: the round waits gather_time for the fourth,
# unless a researcher starts it now.
for site in hospital-b hospital-c hospital-d; do
    start_site accept "$site"
done
accepted=0
for _ in $(seq 50); do
    status=$("$bin/fedlora" status --json 2>&1)
    accepted=$(job_field "$status" 'sum(s["accepted_job"] for s in status["sites"])')
    [ "$accepted" = 3 ] && break
    sleep 0.1
done
[ "$accepted" = 3 ] || fail "status does not show 3 sites that accepted the job: $status"
[ "$(job_field "$status" 'status["job"]["phase"]')" = waiting_for_sites ] ||
    fail "the round started before gather_time passed: $status"
output=$("$bin/fedlora" round start 2>&1) || fail "round start failed: $output"
expect "$output" "round 1 of job study-1 started with 3 sites"
status=$("$bin/fedlora" status --json 2>&1)
phase=$(job_field "$status" 'status["job"]["phase"]')
case "$phase" in
send | train) ;;
*) fail "status shows phase '$phase' after round start, expected send or train: $status" ;;
esac
[ "$(job_field "$status" 'status["job"]["progress"]["sites_expected"]')" = 3 ] ||
    fail "status does not show 3 sites expected in the round: $status"
output=$("$bin/fedlora" round start 2>&1) && fail "a second round start succeeded"
expect "$output" "already running"

output=$("$bin/fedlora" job abort --job study-1 --reason "wrong base model" 2>&1) ||
    fail "job abort failed: $output"
expect "$output" "aborted (it was running)"
stop_sites
status=$("$bin/fedlora" status --json 2>&1)
[ "$(job_field "$status" 'status["job"]')" = None ] || fail "the aborted job is still active"

# The abort is durable: it survives SIGKILL and a restart.
stop_coordinator KILL
start_coordinator
output=$("$bin/fedlora" job list 2>&1) || fail "job list after restart failed: $output"
expect "$output" "aborted"
expect "$output" "wrong base model"
sleep 1.5 # more than one job scan, so a job wrongly queued again would be active now
status=$("$bin/fedlora" status --json 2>&1)
[ "$(job_field "$status" 'status["job"]')" = None ] ||
    fail "the aborted job ran again after restart"
output=$("$bin/fedlora" logs --job study-1 2>&1) || fail "logs after restart failed: $output"
[ "$(job_field "$output" '[r["outcome"] for r in status["rounds"]]')" = "['failed']" ] ||
    fail "the job history does not record the aborted round as failed: $output"
output=$("$bin/fedlora" job abort --job study-1 2>&1) && fail "aborting an aborted job succeeded"
expect "$output" "already aborted"

# An adapter of tens of MB arrives intact, fetched in pieces. The test writes a
# round-1 checkpoint in the store's layout, as the coordinator does after a round.
checkpoint=$work/state/jobs/study-1/round-1/adapter
mkdir -p "$checkpoint"
head -c 25000000 /dev/urandom >"$checkpoint/adapter_model.safetensors"
echo '{"peft_type": "LORA", "r": 4}' >"$checkpoint/adapter_config.json"
/usr/bin/python3 - "$work/state/jobs/study-1/state.json" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
state["completed_rounds"] = 1
json.dump(state, open(sys.argv[1], "w"))
PY
output=$("$bin/fedlora" export --job study-1 --out "$work/export" 2>&1) ||
    fail "export of a completed round failed: $output"
expect "$output" "after round 1"
for file in adapter_model.safetensors adapter_config.json; do
    cmp -s "$checkpoint/$file" "$work/export/$file" ||
        fail "exported $file differs from the checkpoint"
done
output=$("$bin/fedlora" export --job study-1 --round 2 --out "$work/export-2" 2>&1) &&
    fail "export of a round that never completed succeeded"
expect "$output" "round 2 has no adapter"

# A site key is rejected at the handshake, and the coordinator logs its fingerprint.
site_key=$kits/sites/hospital-a/site.key
sed "s|^name = .*|name = hospital-a|; s|^key_file = .*|key_file = $site_key|" "$FEDLORA_CONFIG" \
    >"$kits/researchers/alice/as-site.conf"
output=$("$bin/fedlora" status --config "$kits/researchers/alice/as-site.conf" --timeout 5 2>&1) &&
    fail "a site key was admitted on the admin socket"
expect "$output" "rejected the key"
fingerprint=$(/usr/bin/python3 - "$kits/sites/hospital-a/site.pub" <<'PY'
import hashlib, sys
alphabet = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            ".-:+=^!/*?&<>()[]{}@%$#")
text = [l.split("=", 1)[1].strip() for l in open(sys.argv[1]) if l.startswith("curve-public")][0]
key = b""
for i in range(0, len(text), 5):
    value = 0
    for c in text[i:i + 5]:
        value = value * 85 + alphabet.index(c)
    key += value.to_bytes(4, "big")
print(hashlib.blake2b(key, digest_size=32).hexdigest()[:16])
PY
)
grep -q "fingerprint $fingerprint" "$work/coordinator.log" ||
    fail "the coordinator log does not name the rejected key's fingerprint $fingerprint"
grep -q "fingerprint $fingerprint.*admits only researcher keys" "$work/coordinator.log" ||
    fail "the rejection log line does not say which keys the admin socket admits"

# Without any configuration the error names the places a configuration is read from.
output=$(HOME=$work/no-home FEDLORA_CONFIG="" "$bin/fedlora" job list 2>&1) &&
    fail "job list without a configuration succeeded"
expect "$output" "pass --config FILE"

stop_coordinator TERM
if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed; coordinator log:"
    cat "$work/coordinator.log"
    exit 1
fi
[ -n "${FL_TEST_VERBOSE:-}" ] && cat "$work/coordinator.log"
echo "admin socket checks passed"
