#!/usr/bin/env bash
# Installs the missing Debian packages, builds fedlora and runs the main job
# on the built-in default: three hospitals' synthetic records, a small base
# model trained from scratch on a public corpus, a project provisioned on
# loopback, and 5 rounds of federated LoRA with secure aggregation. Ends
# with each site's validation loss per round and where the adapter, the
# report and the logs are.
#
# DEMO_DIR (default: demo-run/) receives everything the demo writes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$FEDLORA_ROOT"

fl_install_packages
fl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
BIN=$FEDLORA_ROOT/build/bin
DEMO=${DEMO_DIR:-$FEDLORA_ROOT/demo-run}
PIDS=()

stop_daemons() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_daemons EXIT

step() {
    printf '\n== %s\n' "$*"
}

rm -rf "$DEMO"
mkdir -p "$DEMO/logs"

step "Synthetic records of three hospitals (fedlora synth)"
"$BIN/fedlora" synth --sites 3 --records 160 --val-records 16 --out "$DEMO/data" --seed 1

step "A tokenizer and a small base model trained on the public corpus"
"$BIN/fedlora" tokenizer train --data "$DEMO/data/public.jsonl" --vocab 512 \
    --out "$DEMO/tokenizer.json"
cat >"$DEMO/model-size.json" <<'JSON'
{"vocab_size": 512, "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512}
JSON
"$BIN/fedlora" init-model --arch qwen2 --config "$DEMO/model-size.json" --out "$DEMO/init" \
    --seed 1 --tokenizer "$DEMO/tokenizer.json"
"$BIN/fedlora" train --mode full --model "$DEMO/init" --data "$DEMO/data/public.jsonl" \
    --out "$DEMO/base-model" --steps 60 --batch-size 4 --seq-len 256 |
    grep -E "^(step +(1|20|40|60)/|validation|model)"

step "A project on loopback: keys, kits and the signed manifest (fedlora provision)"
port=$(fl_free_port)
admin_port=$(fl_free_port)
sites=""
for i in 1 2 3; do
    mkdir -p "$DEMO/state/hospital-$i"
    sites+="${sites:+,}{\"name\": \"hospital-$i\", \"train_files\": [\"data/site-$i.jsonl\"],
      \"validation_file\": \"data/site-$i-val.jsonl\", \"base_model_dir\": \"base-model\",
      \"state_dir\": \"state/hospital-$i\", \"audit_log\": \"state/hospital-$i/audit.jsonl\"}"
done
cat >"$DEMO/project.json" <<JSON
{"project": "demo",
 "coordinator": {"endpoint": "tcp://127.0.0.1:$port", "bind": "tcp://127.0.0.1:$port",
                 "admin_endpoint": "tcp://127.0.0.1:$admin_port",
                 "admin_bind": "tcp://127.0.0.1:$admin_port", "state_dir": "state/coordinator"},
 "sites": [$sites],
 "researchers": [{"name": "researcher"}]}
JSON
"$BIN/fedlora" provision --project "$DEMO/project.json" --out "$DEMO/kits"
printf '\n[transport]\nheartbeat_interval = 1s\nheartbeat_timeout = 20s\n[rounds]\ngather_time = 1s\n' \
    >>"$DEMO/kits/coordinator/coordinator.conf"

step "The job: 5 rounds of LoRA (rank 8, every projection) with secure aggregation"
hash=$("$BIN/fedlora" model hash "$DEMO/base-model" | cut -d' ' -f1)
/usr/bin/python3 - "$DEMO" "$hash" <<'PY'
import json, sys
demo, model_hash = sys.argv[1], sys.argv[2]
job = {"id": "demo-job", "researcher": "researcher",
       "base_model": {"name": "demo-base", "hash": model_hash,
                      "config": json.load(open(demo + "/base-model/config.json"))},
       "lora": {"r": 8, "alpha": 16, "targets": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"]},
       "rounds": 5, "local_steps": 8, "learning_rate": 0.004, "batch_size": 4, "seq_len": 256,
       "server_optimizer": {"name": "fedavg"}, "min_sites": 3, "round_deadline_s": 300,
       "secure_aggregation": {"clip_bound": 0.05, "bits": 16, "max_weight": 256}}
json.dump(job, open(demo + "/job.json", "w"), indent=2)
PY
coordinator_conf=$DEMO/kits/coordinator/coordinator.conf
# The researcher's commands read the researcher kit's configuration.
export FEDLORA_CONFIG=$DEMO/kits/researchers/researcher/fedlora.conf

step "Starting the coordinator and three hospital agents"
"$BIN/fedlora-coordinator" --config "$coordinator_conf" >>"$DEMO/logs/coordinator.log" 2>&1 &
PIDS+=($!)
for i in 1 2 3; do
    "$BIN/fedlora-agent" --config "$DEMO/kits/sites/hospital-$i/agent.conf" \
        >>"$DEMO/logs/hospital-$i.log" 2>&1 &
    PIDS+=($!)
done

step "Submitting the job as the researcher: fedlora job submit"
"$BIN/fedlora" job submit "$DEMO/job.json"
state=$DEMO/state/coordinator/jobs/demo-job
fl_wait_job "$state" 600

step "Exporting the adapter (fedlora export) and writing the report"
rm -rf "$DEMO/adapter"
"$BIN/fedlora" export --job demo-job --out "$DEMO/adapter"
stop_daemons
PIDS=()
echo "The global adapter on hospital-1's validation records (fedlora eval):"
"$BIN/fedlora" eval --model "$DEMO/base-model" --adapter "$DEMO/adapter" \
    --data "$DEMO/data/site-1-val.jsonl"
"$BIN/fedlora" report --history "$state/history.json" --out "$DEMO/report.html"
for i in 1 2 3; do
    "$BIN/fedlora" audit verify "$DEMO/state/hospital-$i/audit.jsonl"
done

step "Each site's validation loss per round (before that round's local training)"
/usr/bin/python3 - "$state/history.json" <<'PY'
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
sites = [s["site"] for s in rounds[0]["sites"]]
print("round  " + "  ".join("%12s" % s for s in sites))
for record in rounds:
    losses = {s["site"]: s.get("val_loss") for s in record["sites"]}
    print("%5d  " % record["round"] + "  ".join(
        "%12.4f" % losses[s] if losses[s] is not None else "%12s" % "-" for s in sites))
PY
cat <<MESSAGE

Demo finished.
  Adapter (PEFT format): $DEMO/adapter
  Report:                $DEMO/report.html
  Logs:                  $DEMO/logs/
  Site audit logs:       $DEMO/state/hospital-*/audit.jsonl
MESSAGE
