#!/usr/bin/env bash
# Start-up of both daemons stops on a bad configuration file, and the message
# names the file, the line and the key.
set -u
build=${1:?usage: test_daemon_config.sh BUILD_DIR}/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect_failure DAEMON FILE PATTERN...: the daemon must exit non-zero and
# print every pattern.
expect_failure() {
    local daemon=$1 file=$2
    shift 2
    local output status
    output=$("$build/$daemon" --config "$file" --check 2>&1)
    status=$?
    if [ "$status" -eq 0 ]; then
        echo "FAIL: $daemon accepted $file"
        failures=$((failures + 1))
        return
    fi
    for pattern in "$@"; do
        if ! grep -qF -- "$pattern" <<<"$output"; then
            echo "FAIL: $daemon on $(basename "$file"): '$pattern' missing from: $output"
            failures=$((failures + 1))
        fi
    done
}

coordinator_base='[coordinator]
advertised_endpoint = tcp://127.0.0.1:7700
[keys]
key_file = /etc/fedlora/coordinator.key
manifest_file = /etc/fedlora/manifest.json
project_public_key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'

printf '%s\n[transport]\nheartbeat_intervall = 5s\n' "$coordinator_base" >"$work/unknown.conf"
expect_failure fedlora-coordinator "$work/unknown.conf" "unknown.conf:8:" \
    "heartbeat_intervall" "did you mean 'heartbeat_interval'"

printf '%s\n[transport]\nchunk_size = big\n' "$coordinator_base" >"$work/type.conf"
expect_failure fedlora-coordinator "$work/type.conf" "type.conf:8:" "'chunk_size'" "'big'"

printf '%s\n[transport]\nheartbeat_timeout = 0.5s\n' "$coordinator_base" >"$work/range.conf"
expect_failure fedlora-coordinator "$work/range.conf" "range.conf:8:" \
    "'heartbeat_timeout'" "out of range"

agent_base='[agent]
site_id = hospital-a
[project]
endpoint = tcp://127.0.0.1:7700
manifest_file = /etc/fedlora/manifest.json
project_public_key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
[keys]
key_file = /etc/fedlora/site.key
[data]
train_files = /data/train.jsonl
base_model_dir = /models/base'

printf '%s\n[policy]\naccepted_researchers = alice\nmin_sites = 2\n' "$agent_base" \
    >"$work/agent_range.conf"
expect_failure fedlora-agent "$work/agent_range.conf" "agent_range.conf:14:" "'min_sites'" \
    "from 3 to 1000"

printf '%s\n[policy]\naccepted_researchers = alice\nrequire_secure_aggregation = sometimes\n' \
    "$agent_base" >"$work/agent_type.conf"
expect_failure fedlora-agent "$work/agent_type.conf" "agent_type.conf:14:" \
    "'require_secure_aggregation'" "true or false"

printf '%s\n' "$agent_base" >"$work/agent_missing.conf"
expect_failure fedlora-agent "$work/agent_missing.conf" "agent_missing.conf" \
    "'accepted_researchers'" "required"

expect_failure fedlora-agent "$work/absent.conf" "absent.conf" "cannot open"

printf '%s\n[policy]\naccepted_researchers = alice\n' "$agent_base" >"$work/agent_ok.conf"
if ! "$build/fedlora" config check --role agent "$work/agent_ok.conf" >/dev/null; then
    echo "FAIL: fedlora config check rejected a valid agent configuration"
    failures=$((failures + 1))
fi

# The committed samples must list every key the programs accept.
source_dir=${FL_SOURCE_DIR:-$(dirname "$0")/../..}
for role in coordinator agent; do
    if ! diff -u "$source_dir/config/$role.conf" <("$build/fedlora" config sample --role "$role") \
        >"$work/sample.diff"; then
        echo "FAIL: config/$role.conf is out of date; regenerate it with"
        echo "      fedlora config sample --role $role > config/$role.conf"
        cat "$work/sample.diff"
        failures=$((failures + 1))
    fi
done

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all daemon configuration checks passed"
