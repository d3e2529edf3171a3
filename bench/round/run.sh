#!/usr/bin/env bash
# ./scripts/bench.sh round measures the phases of one federated round with
# secure aggregation on 127.0.0.1, for 3 and 10 sites and adapters of about
# 10^6 and 10^7 values. It also measures one site's secure-aggregation
# computing time for 10 sites and 10^7 values, and a 10^9-byte transfer with
# and without CURVE.
#
# Rounds run the real coordinator and real agents from provisioned kits
# (tests/integration/lib.sh). With 3 sites the agents are fedlora-agent and
# train for real (1 local step, batch 1, 256 tokens, a base model with hidden
# size 256). With 10 sites they are synthetic_agent, the same agent service
# whose trainer writes a random delta instead, because 10 trainers on a
# 2-core machine would measure CPU sharing, not the round; their train phase
# is near zero. Every process shares the machine's cores, so phase times
# include waiting for a core.
# Argument: the build folder holding bin/.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
build=$1
export FL_BINARY_DIR=$build
set +e
source "$FEDLORA_ROOT/tests/integration/lib.sh"
set +u
rmdir "$WORK"
trap fl_cleanup EXIT

# LoRA on all 7 projections of 2 layers of hidden size 256 has 9,856 values
# per unit of rank, so rank 101 gives 995,456 values and rank 1015 10,003,840.
MODEL_CONFIG='"hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 4'
TARGETS='["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]'

json_field() { # json_field JSON KEY
    sed -E "s/.*\"$2\":([0-9.e+-]+).*/\1/" <<<"$1"
}

# run_round SITES RANK AGENT_PROGRAM: runs a one-round job and prints one
# table row; sets PEAK_MB to the coordinator's VmHWM in MB.
run_round() {
    local sites=$1 rank=$2
    AGENT_PROGRAM=$3
    WORK=$(mktemp -d /tmp/fl_bench_round.XXXXXX)
    PIDS=()
    JOB_EXTRA="{\"rounds\": 1, \"local_steps\": 1, \"batch_size\": 1, \"min_sites\": $sites,
      \"round_deadline_s\": 600, \"lora\": {\"r\": $rank, \"alpha\": 16, \"targets\": $TARGETS}}"
    fl_make_project "$sites" || { echo "error: project set-up failed in $WORK" >&2; return 1; }
    # Agents send no heartbeats while they mask, which on 2 shared cores can
    # take longer than the integration tests' 5 s limit, so use the 60 s default.
    sed -i 's/^heartbeat_timeout = 5s/heartbeat_timeout = 60s\nchunk_size = 1M/' \
        "$WORK/kits/coordinator/coordinator.conf"
    fl_submit_job || { cat "$WORK/submit.log" >&2; return 1; }
    fl_start_coordinator
    local site
    for site in $(seq 1 "$sites"); do
        fl_start_agent "$site"
    done
    if ! fl_wait_status completed 600 >&2; then
        tail -20 "$WORK/coordinator.log" >&2
        return 1
    fi
    PEAK_MB=$(awk '/^VmHWM:/ {printf "%.1f", $2 * 1024 / 1e6}' "/proc/$COORDINATOR_PID/status")
    "$PY" - "$WORK" "$sites" "$PEAK_MB" "$(basename "$AGENT_PROGRAM")" <<'PY'
import json, sys
work, sites, peak, agent = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
history = json.load(open(work + "/state/coordinator/jobs/job-1/history.json"))
r = history["rounds"][-1]
assert r["outcome"] == "completed", r
phases = r["phase_s"]
row = [phases.get(p, 0.0) for p in ("send", "train", "share", "upload", "unmask")]
row += [r["sum_s"], r["aggregate_s"], r["optimizer_s"], r["checkpoint_s"], r["duration_s"]]
print(f"{sites:5d} {agent:>16s} " + " ".join(f"{x:8.2f}" for x in row) + f" {float(peak):8.1f}")
PY
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
    PIDS=()
}

echo "round benchmark on $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), shared"
echo "with other work; one round, secure aggregation, coordinator chunk 1 MiB."
echo "times in s; send = global adapter to every site; train = until every site"
echo "advertised its keys; share, upload, unmask = the secure-aggregation phases;"
echo "sum = server adding the spooled uploads; aggregate = unmasking and the mean;"
echo "optimizer = FedAvg step; checkpoint = adapter and state written."
echo
for rank in 101 1015; do
    values=$((rank * 9856))
    echo "adapter of $values values ($((values * 4 / 1000000)) MB as float32)"
    printf '%5s %16s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' sites agent send train \
        share upload unmask sum aggregate optimizer checkpoint total "peak MB"
    run_round 3 "$rank" "$BIN/fedlora-agent" || exit 1
    run_round 10 "$rank" "$BIN/synthetic_agent" || exit 1
    echo
done
coordinator_peak=$PEAK_MB

echo "one site's secure-aggregation computing time, 10 sites, 10^7 values (bench_secagg):"
secagg=$("$BIN/bench_secagg" 10 10000000) || exit 1
echo "$secagg"
site_s=$(json_field "$secagg" site_s)
site_bytes=$(json_field "$secagg" site_bytes)
upload_s=$("$PY" -c "print(round($site_bytes / 125e6, 4))")
echo "the masked vector of $site_bytes bytes takes $upload_s s at 1 Gbit/s (125 MB/s)"
echo

echo "one 10^9-byte transfer over 127.0.0.1 with and without CURVE (bench_transport):"
transport_table=$("$BIN/bench_transport" 1000) || exit 1
echo "$transport_table"
transport=$(tail -1 <<<"$transport_table")
curve=$(json_field "$transport" curve_mb_per_s)
plain=$(json_field "$transport" plain_mb_per_s)
echo
echo "targets: curve_mb_per_s >= 125; secagg_site_s <= upload_1gbit_s"
printf '{"bench":"round","curve_mb_per_s":%s,"plain_mb_per_s":%s,"coordinator_peak_rss_mb":%s,"secagg_site_s":%s,"upload_1gbit_s":%s}\n' \
    "$curve" "$plain" "$coordinator_peak" "$site_s" "$upload_s"
