#!/usr/bin/env bash
# A coordinator and 8 sites run one round with secure aggregation on an
# adapter of 25,231,360 values, so each site uploads a masked vector of
# about 101 MB. The coordinator's peak RSS (VmHWM) must stay within
# 3 x that vector plus a fixed overhead of 128 MB.
#
# The three vectors the coordinator may hold at once are the global adapter
# (float32), the masked sum (one 32-bit word per value) and the mean delta
# (float32); uploads are spooled to disk, not kept in memory. The mean exists
# only after the uploads, so while they arrive the third vector's room and the
# overhead hold the chunks in flight: at most 8 sites x 8 chunks x 1 MiB per
# direction, each briefly as plaintext and as CURVE ciphertext (134 MB in the
# worst case). The idle process (libzmq, libsodium, OpenBLAS) takes about
# 10 MB. Measured peaks were 3 x the vector plus 20 to 25 MB.
#
# The sites are real agent services whose trainer process writes a random
# delta instead of training (synthetic_agent), because training a 25M-value
# adapter on 8 sites would take minutes on a small machine. The base model
# is small (hidden size 640, 2 layers) and LoRA rank 1024 on every target
# makes the adapter large.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

SITES=8
OVERHEAD_MB=128
MODEL_CONFIG='"hidden_size": 640, "intermediate_size": 1760, "num_hidden_layers": 2,
 "num_attention_heads": 5, "num_key_value_heads": 5'
JOB_EXTRA='{"rounds": 1, "local_steps": 1, "batch_size": 1, "min_sites": 8,
 "lora": {"r": 1024, "alpha": 16, "targets": ["q_proj", "k_proj", "v_proj", "o_proj",
          "gate_proj", "up_proj", "down_proj"]}}'
AGENT_PROGRAM=$BIN/synthetic_agent

fl_make_project "$SITES" || { fl_fail "project set-up failed"; fl_finish ""; }
# Eight sites mask 800 MB of keystream each at the same moment on what may be
# two cores. An agent heartbeats only between masked chunks, and on a loaded
# machine one chunk can take longer than the tests' usual 5 s limit, so the
# test uses the coordinator's default of 60 s.
# Chunks of 1 MiB (the default is 4 MiB) keep the coordinator's adapter
# transfers in flight at 8 sites x 8 chunks x 1 MiB.
sed -i 's/^heartbeat_timeout = 5s/heartbeat_timeout = 60s\nchunk_size = 1M/' \
    "$WORK/kits/coordinator/coordinator.conf"

fl_submit_job || { fl_fail "job submission failed: $(cat "$WORK/submit.log")"; fl_finish ""; }
fl_start_coordinator
for site in $(seq 1 "$SITES"); do
    fl_start_agent "$site"
done
fl_wait_status completed 240 || fl_fail "the job did not complete"

peak_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$COORDINATOR_PID/status")
values=$(sed -n 's/.*round 1 (attempt 0) starts with .*, \([0-9]*\) values/\1/p' \
    "$WORK/coordinator.log" | head -1)
[ -n "$peak_kb" ] || fl_fail "cannot read the coordinator's VmHWM"
[ -n "$values" ] || fl_fail "cannot find the adapter's value count"

if [ -n "$peak_kb" ] && [ -n "$values" ]; then
    # A masked vector is one 32-bit word per value plus the weight word.
    vector_mb=$("$PY" -c "print(round(($values + 1) * 4 / 1e6, 1))")
    peak_mb=$("$PY" -c "print(round($peak_kb * 1024 / 1e6, 1))")
    limit_mb=$("$PY" -c "print(round(3 * $vector_mb + $OVERHEAD_MB, 1))")
    echo "coordinator peak RSS $peak_mb MB; masked vector $vector_mb MB;" \
        "limit 3 x $vector_mb + $OVERHEAD_MB = $limit_mb MB"
    "$PY" -c "import sys; sys.exit(0 if $peak_mb <= $limit_mb else 1)" ||
        fl_fail "peak RSS $peak_mb MB is above the limit of $limit_mb MB"
fi

"$PY" - "$WORK" "$SITES" <<'PY' || fl_fail "the round did not aggregate every site"
import json, sys
work, sites = sys.argv[1], int(sys.argv[2])
history = json.load(open(work + "/state/coordinator/jobs/job-1/history.json"))
round_1 = history["rounds"][0]
assert round_1["outcome"] == "completed", round_1
counted = sum(1 for site in round_1["sites"] if site["participated"])
assert counted == sites, f"{counted} of {sites} sites aggregated"
PY

fl_finish "coordinator memory test passed"
