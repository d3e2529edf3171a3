# Shared by the integration tests: builds a small federated project on
# loopback (synthetic data, a byte-level tokenizer, a random model, kits),
# starts and stops the daemons, and waits for job states. Source it.
#
# Every process started here is killed by fl_cleanup, which the test sets
# as its EXIT trap.
#
# Test-only environment variables that the daemons read:
#   FEDLORA_TEST_DUMP_DIR             agent: keeps each round's adapter, delta, metrics
#   FEDLORA_TEST_STEP_DELAY_MS        trainer process: pause after every local step
#   FEDLORA_TEST_UPLOAD_HOLD_MS       agent: wait between masking and uploading
#   FEDLORA_TEST_FOREIGN_SIGNING_KEY  coordinator: sign adapters with this key file
#   FEDLORA_TEST_HOLD_AT              coordinator: POINT:ROUND:MS, pause at a round's phase
#   FEDLORA_TEST_TRAINER_IGNORES_SIGTERM  trainer process: ignore SIGTERM (abort test)

set -u
: "${FL_BINARY_DIR:?FL_BINARY_DIR must name the build folder}"
BIN=$FL_BINARY_DIR/bin
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/fl_integration.XXXXXX)
PIDS=()
FAILURES=0

fl_fail() {
    echo "FAIL: $*"
    FAILURES=$((FAILURES + 1))
}

# Kills every process the test started, with its trainer processes.
fl_cleanup_processes() {
    local pid child
    for pid in "${PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null
        for child in $(pgrep -P "$pid"); do
            kill -9 "$child" 2>/dev/null
        done
        kill -9 "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}

fl_cleanup() {
    fl_cleanup_processes
    if [ "$FAILURES" -ne 0 ] && [ -n "${FL_KEEP_WORK:-}" ]; then
        echo "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}

# Exits the test as skipped unless it runs as root. $1 names what needs root.
fl_require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: $1 needs root"
        exit 0
    fi
}

MOUNTED=""
# fl_cleanup for a test that mounted a tmpfs with fl_job_on_tmpfs.
fl_cleanup_mounted() {
    fl_cleanup_processes
    [ -n "$MOUNTED" ] && umount "$MOUNTED"
    fl_cleanup
}

# fl_job_on_tmpfs SIZE: moves job-1's submitted state folder onto a tmpfs of
# SIZE, so that the test can fill it or remount it read-only. Sets JOB_DIR
# and MOUNTED; returns 1 when mount fails.
fl_job_on_tmpfs() {
    JOB_DIR=$WORK/state/coordinator/jobs/job-1
    mv "$JOB_DIR" "$WORK/job-1.submitted"
    mkdir "$JOB_DIR"
    mount -t tmpfs -o "size=$1,mode=0700" fedlora-test "$JOB_DIR" || return 1
    MOUNTED=$JOB_DIR
    cp -a "$WORK/job-1.submitted/." "$JOB_DIR/"
}

# Prints a free TCP port on 127.0.0.1.
fl_free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# fl_make_project SITES: writes data, tokenizer, model, project file and kits
# under $WORK for sites site-1..site-SITES, and a job file $WORK/job.json
# (FedAvg, 3 rounds, secure aggregation). Extra job fields come from $JOB_EXTRA,
# the coordinator's gather_time from $GATHER_TIME (default 1s), and
# $MODEL_CONFIG replaces the tiny model's config.json fields (vocab_size stays 400).
fl_make_project() {
    local sites=$1
    "$BIN/fedlora" synth --sites "$sites" --records 40 --val-records 6 --out "$WORK/data" \
        --seed 7 >/dev/null || return 1
    mkdir -p "$WORK/model"
    "$BIN/fedlora" tokenizer train --data "$WORK/data/public.jsonl" --vocab 400 \
        --out "$WORK/tokenizer.json" >/dev/null || return 1
    local fields='"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2'
    [ -n "${MODEL_CONFIG:-}" ] && fields=$MODEL_CONFIG
    cat >"$WORK/model.json" <<JSON
{"vocab_size": 400, $fields, "max_position_embeddings": 256}
JSON
    "$BIN/fedlora" init-model --arch llama --config "$WORK/model.json" --out "$WORK/model" \
        --seed 3 --tokenizer "$WORK/tokenizer.json" >/dev/null || return 1

    PORT=$(fl_free_port)
    ADMIN_PORT=$(fl_free_port)
    local entries="" i
    for i in $(seq 1 "$sites"); do
        mkdir -p "$WORK/state/site-$i"
        entries+="${entries:+,}{\"name\": \"site-$i\", \"train_files\": [\"data/site-$i.jsonl\"],"
        entries+=" \"validation_file\": \"data/site-$i-val.jsonl\", \"base_model_dir\": \"model\","
        entries+=" \"state_dir\": \"state/site-$i\", \"audit_log\": \"state/site-$i/audit.jsonl\"}"
    done
    cat >"$WORK/project.json" <<JSON
{"project": "integration",
 "coordinator": {"endpoint": "tcp://127.0.0.1:$PORT", "bind": "tcp://127.0.0.1:$PORT",
                 "admin_endpoint": "tcp://127.0.0.1:$ADMIN_PORT",
                 "admin_bind": "tcp://127.0.0.1:$ADMIN_PORT",
                 "state_dir": "state/coordinator"},
 "sites": [$entries],
 "researchers": [$(for r in ${RESEARCHERS:-alice}; do printf '{"name": "%s"},' "$r"; done | sed 's/,$//')]}
JSON
    "$BIN/fedlora" provision --project "$WORK/project.json" --out "$WORK/kits" >/dev/null || return 1
    printf '\n[transport]\nheartbeat_interval = 500ms\nheartbeat_timeout = 5s\n[rounds]\ngather_time = %s\n' \
        "${GATHER_TIME:-1s}" >>"$WORK/kits/coordinator/coordinator.conf"

    local hash
    hash=$("$BIN/fedlora" model hash "$WORK/model" | cut -d' ' -f1)
    "$PY" - "$WORK" "$hash" "${JOB_EXTRA:-}" <<'PY'
import json, sys
work, model_hash, extra = sys.argv[1], sys.argv[2], sys.argv[3]
job = {"id": "job-1", "researcher": "alice",
       "base_model": {"name": "tiny", "hash": model_hash,
                      "config": json.load(open(work + "/model/config.json"))},
       "lora": {"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"]},
       "rounds": 3, "local_steps": 4, "learning_rate": 0.01, "batch_size": 2, "seq_len": 256,
       "min_sites": 3, "round_deadline_s": 120,
       "secure_aggregation": {"clip_bound": 0.05, "bits": 16, "max_weight": 64}}
if extra:
    job.update(json.loads(extra))
json.dump(job, open(work + "/job.json", "w"), indent=1)
PY
}

# Starts the coordinator from its kit; its output goes to $WORK/coordinator.log.
fl_start_coordinator() {
    "$BIN/fedlora-coordinator" --config "$WORK/kits/coordinator/coordinator.conf" \
        >>"$WORK/coordinator.log" 2>&1 &
    COORDINATOR_PID=$!
    PIDS+=("$COORDINATOR_PID")
}

# fl_start_agent N: starts site-N's agent ($AGENT_PROGRAM, by default
# fedlora-agent); output in $WORK/agent-N.log.
fl_start_agent() {
    "${AGENT_PROGRAM:-$BIN/fedlora-agent}" --config "$WORK/kits/sites/site-$1/agent.conf" \
        >>"$WORK/agent-$1.log" 2>&1 &
    AGENT_PIDS[$1]=$!
    PIDS+=("$!")
}

fl_submit_job() {
    "$BIN/fedlora-coordinator" --config "$WORK/kits/coordinator/coordinator.conf" \
        --submit "${1:-$WORK/job.json}" >>"$WORK/submit.log" 2>&1
}

# Prints the job's status from the coordinator's state folder.
fl_job_status() {
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' \
        "$WORK/state/coordinator/jobs/${1:-job-1}/state.json" 2>/dev/null
}

# fl_wait_status STATUS SECONDS [JOB]: waits until the job reaches STATUS.
fl_wait_status() {
    local want=$1 seconds=$2 job=${3:-job-1} waited=0
    local status
    while [ "$waited" -lt $((seconds * 10)) ]; do
        status=$(fl_job_status "$job")
        [ "$status" = "$want" ] && return 0
        case "$status" in
        completed | failed | aborted)
            echo "job $job ended as '$status' while waiting for '$want'"
            return 1
            ;;
        esac
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "job $job did not reach '$want' within $seconds s (status: $(fl_job_status "$job"))"
    return 1
}

# fl_wait_log FILE PATTERN SECONDS: waits until FILE contains the extended
# regular expression PATTERN.
fl_wait_log() {
    local file=$1 pattern=$2 seconds=$3 waited=0
    while [ "$waited" -lt $((seconds * 10)) ]; do
        grep -Eq -- "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "$file did not show '$pattern' within $seconds s"
    return 1
}

# fl_kill_agent N: SIGKILLs site-N's agent and its trainer process, if any.
fl_kill_agent() {
    local pid=${AGENT_PIDS[$1]} child
    for child in $(pgrep -P "$pid"); do
        kill -9 "$child" 2>/dev/null
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# Prints the history file of a job (default job-1).
fl_history_file() {
    echo "$WORK/state/coordinator/jobs/${1:-job-1}/history.json"
}

fl_finish() {
    if [ "$FAILURES" -ne 0 ]; then
        echo "--- coordinator log (last 40 lines)"
        tail -40 "$WORK/coordinator.log" 2>/dev/null
        echo "$FAILURES check(s) failed"
        exit 1
    fi
    echo "$1"
    exit 0
}
