#!/usr/bin/env bash
# Lost connections mid-transfer, with real daemons on loopback and 3 sites.
# site-1 and site-2 reach the coordinator through cut_proxy, a TCP proxy
# that closes the connection once a set number of bytes has passed:
# - site-1's connection is cut halfway through round 1's adapter download
#   (coordinator to site), and its next connection again before the rest of
#   the adapter has arrived;
# - site-2's connection is cut three quarters of the way through round 1's
#   masked upload (site to coordinator).
# Both agents reconnect by themselves, the transfers resume where the
# receiver stopped, and every round completes with all 3 sites. Every
# aggregate is recomputed from the sites' deltas, and the adapters the sites
# downloaded must be identical. The adapter (2 MiB) is sent in 128 KiB chunks
# and the masked upload (about 2 MiB) in 1 MiB chunks.
source "$(dirname "$0")/lib.sh"
trap fl_cleanup EXIT

MODEL_CONFIG='"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2'
JOB_EXTRA='{"rounds": 2, "local_steps": 2,
 "lora": {"r": 128, "alpha": 128, "targets": ["q_proj", "k_proj", "v_proj", "o_proj",
                                              "gate_proj", "up_proj", "down_proj"]}}'
fl_make_project 3 || { fl_fail "project set-up failed"; fl_finish ""; }
sed -i 's/^heartbeat_timeout = 5s$/&\nchunk_size = 128K/' "$WORK/kits/coordinator/coordinator.conf"
grep -q "^chunk_size = 128K" "$WORK/kits/coordinator/coordinator.conf" ||
    fl_fail "the coordinator's chunk size could not be set"
export FEDLORA_TEST_DUMP_DIR=$WORK/dump
mkdir -p "$FEDLORA_TEST_DUMP_DIR"

# Rank 128 on 7 projections whose in and out features each add up to 1024 per
# layer: 2 layers x (A + B) x 128 x 1024 floats of 4 bytes, so 2 MiB. The masked
# upload contains one 32-bit word per value plus record headers, a little more.
ADAPTER_BYTES=$((2 * 2 * 128 * 1024 * 4))

# fl_start_proxy SITE DIRECTION BYTES CUTS: routes SITE's agent through a proxy
# that cuts each of its first CUTS connections after BYTES bytes in DIRECTION.
fl_start_proxy() {
    local site=$1 direction=$2 bytes=$3 cuts=$4 port
    port=$(fl_free_port)
    "$BIN/cut_proxy" --listen "$port" --target "$PORT" --cut-after-bytes "$bytes" \
        --direction "$direction" --cuts "$cuts" 2>>"$WORK/proxy-$site.log" &
    PIDS+=("$!")
    sed -i "s|^endpoint = .*|endpoint = \"tcp://127.0.0.1:$port\"|" \
        "$WORK/kits/sites/site-$site/agent.conf"
}

fl_submit_job || fl_fail "job submission failed: $(cat "$WORK/submit.log")"
fl_start_coordinator
# The download is cut after half the adapter, and the reconnected download after
# another half, which with the resent part falls short of the end. The upload
# is cut at three quarters, inside its second 1 MiB chunk, so the coordinator
# has a whole first chunk to resume after.
fl_start_proxy 1 down $((ADAPTER_BYTES / 2)) 2
fl_start_proxy 2 up $((ADAPTER_BYTES * 3 / 4)) 1
for site in 1 2 3; do
    fl_start_agent "$site"
done

fl_wait_status completed 150 || fl_fail "the job did not complete"
for check in "1 1" "1 2" "2 1"; do
    read -r site connection <<<"$check"
    grep -q "cut_proxy: cut connection $connection after" "$WORK/proxy-$site.log" ||
        fl_fail "the proxy of site-$site did not cut connection $connection"
    grep -q "cut_proxy: connection $((connection + 1)) accepted" "$WORK/proxy-$site.log" ||
        fl_fail "site-$site did not reconnect through its proxy after cut $connection"
done
grep -q "site site-[12] no longer takes part" "$WORK/coordinator.log" &&
    fl_fail "the coordinator dropped a site whose connection was cut"
grep -q "round 1: training" "$WORK/agent-1.log" ||
    fl_fail "site-1 did not verify its adapter and train round 1"

# Each cut fell inside its transfer: the sender resent from the first byte the
# receiver lacked, which lies after the object's start and before its end. The
# download resumed at two different offsets or more, one per cut.
"$PY" - "$WORK/coordinator.log" "adapter-r1-a0 to site-1" 2 \
    "$WORK/agent-2.log" "masked-site-2-r1-a0 to the coordinator" 1 <<'PY' ||
import re, sys
arguments = sys.argv[1:]
for log, transfer, cuts in zip(arguments[0::3], arguments[1::3], arguments[2::3]):
    pattern = re.compile(r"transfer of %s: resending from byte (\d+) of (\d+),"
                         % re.escape(transfer))
    found = [m for m in map(pattern.search, open(log)) if m]
    offsets = sorted({int(m.group(1)) for m in found})
    assert len(offsets) >= int(cuts), (transfer, offsets)
    total = int(found[0].group(2))
    assert offsets[0] > 0, (transfer, offsets)
    assert offsets[-1] < total, (transfer, offsets, total)
    print("%s: resent from bytes %s of %d" % (transfer, offsets, total))
PY
    fl_fail "a transfer was not resumed in its middle"

"$PY" - "$(fl_history_file)" <<'PY' || fl_fail "the job history is wrong"
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
assert [(r["round"], r["outcome"]) for r in rounds] == [(1, "completed"), (2, "completed")], rounds
for r in rounds:
    counted = sorted(s["site"] for s in r["sites"] if s["participated"])
    assert counted == ["site-1", "site-2", "site-3"], r
    print("round %d: counted %s" % (r["round"], counted))
PY
"$PY" "$(dirname "$0")/check_aggregate.py" "$WORK" "$FEDLORA_TEST_DUMP_DIR" 3 ||
    fl_fail "an aggregate differs from the sites' deltas"

fl_finish "connection cut test passed"
