#!/usr/bin/env bash
# What federation buys a hospital, on real medical text: three sites with
# different distributions (PubMedQA split by publication year into an early
# and a late site, and MedQA), a base model pretrained here on text no site
# uses, and three arms with the same training budget:
#   local        each site trains LoRA alone for ROUNDS x STEPS steps
#   federated    ROUNDS rounds of STEPS local steps, secure aggregation (FedAvg)
#   centralised  one LoRA on the pooled records for SITES x ROUNDS x STEPS steps
# Every arm is scored by each site's validation loss on its held-out records.
# Each site keeps TRAIN_PER_SITE training records (default 80), as a single
# hospital's study often has; ROUNDS, STEPS, PRETRAIN_STEPS and SERVER_LR (FedAvg's
# server learning rate, default 1), SERVER_OPTIMIZER (fedavg, fedavgm, fedadam,
# fedyogi) can be set too, and SITES picks sites from
# "pubmedqa-early pubmedqa-late medqa jmed" (jmed: Chinese consultations).
#
# Usage: ./scripts/experiment-real.sh [DATA_DIR] [--model DIR]
#   DATA_DIR  the public datasets (default: ../shared/data beside the project)
#   --model   a Hugging Face model folder to start from instead of pretraining
# Results: experiment-run/results.md, results.json and results.svg.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$FEDLORA_ROOT"

DATA_DIR=$FEDLORA_ROOT/../shared/data
MODEL_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
    --model) MODEL_DIR=$(realpath "$2"); shift 2 ;;
    --help) sed -n '2,/^# Results/p' "$0" | sed -e 's/^# //' -e 's/^#$//'; exit 0 ;;
    *) DATA_DIR=$1; shift ;;
    esac
done
if [ ! -f "$DATA_DIR/pubmedqa/ori_pqal.json" ] || [ ! -f "$DATA_DIR/citrus/jmed.jsonl" ]; then
    echo "error: $DATA_DIR does not contain pubmedqa/ori_pqal.json and citrus/*.jsonl;" >&2
    echo "       give the folder of the public datasets as the first argument" >&2
    exit 2
fi

ROUNDS=${ROUNDS:-25}
STEPS=${STEPS:-4}
TRAIN_PER_SITE=${TRAIN_PER_SITE:-80}
SERVER_LR=${SERVER_LR:-1}
SERVER_OPTIMIZER=${SERVER_OPTIMIZER:-fedavg}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-150}
read -r -a SITES <<<"${SITES:-pubmedqa-early pubmedqa-late medqa}"
LORA=(--lora-r 8 --lora-alpha 16 --targets all --lr 0.003 --batch-size 4 --seq-len 192)
OUT=${EXPERIMENT_DIR:-$FEDLORA_ROOT/experiment-run}
PY=/usr/bin/python3

fl_install_packages
fl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
BIN=$FEDLORA_ROOT/build/bin
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
    printf '\n== [%s] %s\n' "$(date +%H:%M:%S)" "$*"
}

rm -rf "$OUT"
mkdir -p "$OUT/logs"
started=$(date +%s)

step "Sites and validation splits from $DATA_DIR"
"$PY" scripts/experiment/prepare_real_data.py "$DATA_DIR" "$OUT/data" "$TRAIN_PER_SITE" 40

if [ -n "$MODEL_DIR" ]; then
    BASE=$MODEL_DIR
    step "Starting from $BASE"
else
    step "Pretraining a base model on the PubMedQA abstracts ($PRETRAIN_STEPS steps)"
    "$BIN/fedlora" tokenizer train --data "$OUT/data/pretrain.jsonl" --vocab 1024 \
        --out "$OUT/tokenizer.json"
    cat >"$OUT/model-size.json" <<'JSON'
{"vocab_size": 1024, "hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512}
JSON
    "$BIN/fedlora" init-model --arch qwen2 --config "$OUT/model-size.json" --out "$OUT/init" \
        --seed 1 --tokenizer "$OUT/tokenizer.json"
    "$BIN/fedlora" train --mode full --model "$OUT/init" --data "$OUT/data/pretrain.jsonl" \
        --out "$OUT/base-model" --steps "$PRETRAIN_STEPS" --batch-size 8 --seq-len 192 \
        --lr 0.002 >"$OUT/logs/pretrain.log"
    tail -2 "$OUT/logs/pretrain.log"
    BASE=$OUT/base-model
fi

step "Arm 1 of 3: local-only LoRA, $((ROUNDS * STEPS)) steps per site"
for site in "${SITES[@]}"; do
    "$BIN/fedlora" train --model "$BASE" --data "$OUT/data/$site.jsonl" \
        --validation "$OUT/data/$site-val.jsonl" --out "$OUT/local/$site" \
        --steps $((ROUNDS * STEPS)) "${LORA[@]}" --seed 1 >"$OUT/logs/local-$site.log"
    echo "$site: $(tail -2 "$OUT/logs/local-$site.log" | head -1)"
done

step "Arm 2 of 3: centralised LoRA on the pooled records, $((${#SITES[@]} * ROUNDS * STEPS)) steps"
for site in "${SITES[@]}"; do
    cat "$OUT/data/$site.jsonl"
done | "$PY" -c 'import random,sys; lines=sys.stdin.readlines(); random.Random(3).shuffle(lines); sys.stdout.writelines(lines)' \
    >"$OUT/data/pooled.jsonl"
"$BIN/fedlora" train --model "$BASE" --data "$OUT/data/pooled.jsonl" --out "$OUT/central" \
    --steps $((${#SITES[@]} * ROUNDS * STEPS)) "${LORA[@]}" --seed 1 >"$OUT/logs/central.log"
tail -2 "$OUT/logs/central.log" | head -1

step "Arm 3 of 3: federated LoRA with secure aggregation, $ROUNDS rounds of $STEPS steps"
port=$(fl_free_port)
admin_port=$(fl_free_port)
entries=""
for site in "${SITES[@]}"; do
    mkdir -p "$OUT/state/$site"
    entries+="${entries:+,}{\"name\": \"$site\", \"train_files\": [\"data/$site.jsonl\"],
      \"validation_file\": \"data/$site-val.jsonl\", \"base_model_dir\": \"$BASE\",
      \"state_dir\": \"state/$site\", \"audit_log\": \"state/$site/audit.jsonl\"}"
done
cat >"$OUT/project.json" <<JSON
{"project": "real-data", "researchers": [{"name": "researcher"}], "sites": [$entries],
 "coordinator": {"endpoint": "tcp://127.0.0.1:$port", "bind": "tcp://127.0.0.1:$port",
                 "admin_endpoint": "tcp://127.0.0.1:$admin_port",
                 "admin_bind": "tcp://127.0.0.1:$admin_port", "state_dir": "state/coordinator"}}
JSON
"$BIN/fedlora" provision --project "$OUT/project.json" --out "$OUT/kits" >/dev/null
printf '\n[rounds]\ngather_time = 1s\n' >>"$OUT/kits/coordinator/coordinator.conf"
for site in "${SITES[@]}"; do
    # Four trainers share this machine's cores; one thread each avoids oversubscription.
    printf '\n[trainer]\nthreads = 1\n' >>"$OUT/kits/sites/$site/agent.conf"
done
hash=$("$BIN/fedlora" model hash "$BASE" | cut -d' ' -f1)
"$PY" - "$OUT/job.json" "$hash" "$BASE/config.json" "$ROUNDS" "$STEPS" "$SERVER_LR" \
    "${#SITES[@]}" "$SERVER_OPTIMIZER" <<'PY'
import json, sys
path, model_hash, config, rounds, steps, server_lr, sites, optimizer = sys.argv[1:9]
json.dump({"id": "real-data", "researcher": "researcher",
           "base_model": {"name": "base", "hash": model_hash, "config": json.load(open(config))},
           "lora": {"r": 8, "alpha": 16, "seed": 1,
                    "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                "down_proj"]},
           "rounds": int(rounds), "local_steps": int(steps), "learning_rate": 0.003,
           "batch_size": 4, "seq_len": 192, "min_sites": int(sites), "round_deadline_s": 1800,
           "server_optimizer": {"name": optimizer, "server_lr": float(server_lr)},
           "secure_aggregation": {"clip_bound": 0.05, "bits": 16, "max_weight": 256}},
          open(path, "w"), indent=1)
PY
conf=$OUT/kits/coordinator/coordinator.conf
"$BIN/fedlora-coordinator" --config "$conf" --submit "$OUT/job.json" 2>>"$OUT/logs/coordinator.log"
"$BIN/fedlora-coordinator" --config "$conf" >>"$OUT/logs/coordinator.log" 2>&1 &
PIDS+=($!)
for site in "${SITES[@]}"; do
    "$BIN/fedlora-agent" --config "$OUT/kits/sites/$site/agent.conf" >>"$OUT/logs/$site.log" 2>&1 &
    PIDS+=($!)
done
fl_wait_job "$OUT/state/coordinator/jobs/real-data" 2400
stop_daemons
PIDS=()
last=$(ls -d "$OUT"/state/coordinator/jobs/real-data/round-* | sed 's/.*round-//' | sort -n | tail -1)
cp -r "$OUT/state/coordinator/jobs/real-data/round-$last/adapter" "$OUT/federated"

step "Validation loss of every arm on every site's held-out records"
for site in "${SITES[@]}"; do
    val=$OUT/data/$site-val.jsonl
    {
        echo "{\"site\": \"$site\", \"base\": $("$BIN/fedlora" eval --model "$BASE" --data "$val" --seq-len 192 --json),"
        echo " \"local\": $("$BIN/fedlora" eval --model "$BASE" --adapter "$OUT/local/$site" --data "$val" --seq-len 192 --json),"
        echo " \"federated\": $("$BIN/fedlora" eval --model "$BASE" --adapter "$OUT/federated" --data "$val" --seq-len 192 --json),"
        echo " \"centralised\": $("$BIN/fedlora" eval --model "$BASE" --adapter "$OUT/central" --data "$val" --seq-len 192 --json)}"
    } >"$OUT/eval-$site.json"
done
"$PY" scripts/experiment/report_results.py "$OUT" "$ROUNDS" "$STEPS" "${SITES[@]}"
echo
echo "Finished in $(( $(date +%s) - started )) s. Table: $OUT/results.md  Plot: $OUT/results.svg"
