/*
 * coord_job.h - a federated training job as a researcher submits it.
 *
 * A job file is one JSON object:
 *
 *   {
 *     "id": "pubmedqa-2026-12",            client-chosen; resubmitting it is a no-op
 *     "researcher": "alice",
 *     "base_model": {"name": "qwen2.5-0.5b", "hash": "<64 hex digits>",
 *                    "config": {...the model's config.json...}},
 *     "lora": {"r": 16, "alpha": 32, "dropout": 0.05,
 *              "targets": ["q_proj", "v_proj"], "mode": "standard",
 *              "use_rslora": false, "seed": 1},
 *     "rounds": 10, "local_steps": 50, "learning_rate": 2e-4,
 *     "batch_size": 4, "seq_len": 512,
 *     "server_optimizer": {"name": "fedadam", "server_lr": 0.01,
 *                          "beta1": 0.9, "beta2": 0.99, "tau": 1e-3},
 *     "min_sites": 3, "round_deadline_s": 3600, "round_retries": 2,
 *     "secure_aggregation": {"enabled": true, "threshold": 3,
 *                            "clip_bound": 0.01, "bits": 16, "max_weight": 256}
 *   }
 *
 * Every field but "id", "researcher" and "base_model" has a default;
 * `fedlora job submit --model DIR` fills in the base model's hash and config. Loading
 * rejects unknown fields, wrong types and out-of-range values, naming the
 * field by its path ("lora.r").
 */
#ifndef COORD_JOB_H
#define COORD_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "coord_optim.h"
#include "fl_error.h"

#define COORD_JOB_ID_MAX 64
#define COORD_JOB_TARGETS_MAX 7
#define COORD_JOB_CONFIG_MAX 16384

typedef enum coord_lora_mode {
    COORD_LORA_STANDARD = 0, /* A and B trained and averaged separately */
    COORD_LORA_FROZEN_A = 1  /* A shared from a seed, only B trained: the average is exact */
} coord_lora_mode;

typedef struct coord_job_spec {
    char id[COORD_JOB_ID_MAX + 1];
    char researcher[COORD_JOB_ID_MAX + 1];
    char base_model_name[256];
    char base_model_hash[65];        /* BLAKE2b-256 of the model folder, hex */
    char base_model_config[COORD_JOB_CONFIG_MAX]; /* config.json, compact JSON */

    int lora_r;
    double lora_alpha;
    double lora_dropout;
    char lora_targets[COORD_JOB_TARGETS_MAX][16];
    int lora_target_count;
    coord_lora_mode lora_mode;
    bool use_rslora;
    uint64_t lora_seed;

    int rounds;
    int local_steps;
    double learning_rate;
    int batch_size;
    int seq_len;

    coord_optim_params server_optimizer;

    int min_sites;
    double round_deadline_s;
    int round_retries;

    bool secure_aggregation;
    int secagg_threshold;            /* 0: the smallest value the site count allows */
    double clip_bound;
    int quant_bits;
    int max_weight;                  /* cap on the example count a site weighs in with */
} coord_job_spec;

/* Parses and validates a job. where names the source in messages. */
int coord_job_from_json(coord_job_spec *job, const json_t *root, const char *where,
                        fl_error *err) FL_WARN_UNUSED;

/* Loads and validates a job file. */
int coord_job_load(coord_job_spec *job, const char *path, fl_error *err) FL_WARN_UNUSED;

/* Serialises job with every field, defaults included. Caller owns the result. */
json_t *coord_job_to_json(const coord_job_spec *job);

#endif
