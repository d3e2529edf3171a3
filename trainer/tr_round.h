/*
 * tr_round.h - one site's local part of a federated round, and a standalone
 * fine-tune: evaluate the starting adapter on validation records, train it
 * for a number of optimizer steps, and return the change of the trained
 * parameters.
 *
 * The model folder holds config.json, the safetensors weights and
 * tokenizer.json (with tokenizer_config.json to choose the chat template).
 * AdamW starts fresh and the learning rate stays constant within a call,
 * as in federated averaging, where each round is a short run from the new
 * global adapter.
 */
#ifndef TR_ROUND_H
#define TR_ROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"
#include "lora.h"

typedef struct tr_round_options {
    const char *model_dir;
    const char *train_path;       /* JSONL training records */
    const char *validation_path;  /* JSONL validation records; NULL holds out val_fraction */
    double val_fraction;          /* share of training records held out, in (0, 1) */
    const char *adapter_dir;      /* starting PEFT adapter folder (its settings win); or NULL */
    const float *adapter_in;      /* starting arena; NULL: PEFT initialisation */
    size_t adapter_in_count;      /* floats at adapter_in; must equal the arena's size */
    lora_options lora;
    uint64_t lora_seed;           /* seed of the PEFT initialisation, shared by all sites */
    bool frozen_a;                /* train B only */
    bool full;                    /* train every base weight, no adapter (builds base models) */
    int steps;                    /* optimizer steps; 0 derives them from epochs */
    double epochs;                /* passes over the training records when steps is 0 */
    int batch_size;               /* rows per step */
    int seq_len;                  /* positions per row */
    float lr;
    uint64_t seed;                /* data order and dropout */
    int max_val_batches;          /* validation batches evaluated, at most; 0 for all */
    int threads;                  /* 0: one per core */
    bool eval_after;              /* evaluate again after training (val_loss_after) */
    bool eval_only;               /* evaluate the starting model or adapter; no training */
    const char *save_dir;         /* write the result here: a PEFT adapter folder, or in full
                                     mode a model folder with the tokenizer; NULL: nothing */
    const char *base_model_name;  /* base_model_name_or_path in a saved adapter_config.json */
} tr_round_options;

/* Fills options with defaults: 0.1 held out, 20 steps of 4 x 256, lr 2e-4, 8 validation batches. */
void tr_round_options_init(tr_round_options *options);

typedef struct tr_round_result {
    double val_loss_before;  /* mean loss of the starting adapter on validation tokens */
    double val_loss_after;   /* the same after training, when eval_after was set */
    long val_tokens;
    double train_loss;       /* mean of the steps' losses */
    int steps;               /* optimizer steps run */
    uint64_t examples;       /* training records */
    double eval_s, train_s;  /* wall-clock seconds */
    size_t num_params;       /* floats in the adapter arena */
    size_t trained_offset;   /* first trained float: 0, or the A block's size in frozen-A */
    size_t trained_count;    /* floats in delta */
    float *delta;            /* [trained_count] after - before (NULL in full mode); free() it */
} tr_round_result;

/* Progress after one optimizer step. */
typedef struct tr_round_step {
    int step, steps;
    double loss;
    long tokens;      /* target tokens of this step */
    double elapsed_s; /* since training began */
} tr_round_step;

/*
 * Called after every step. Returning non-zero stops training: tr_round_run
 * then fails with FL_ECANCELED.
 */
typedef int (*tr_round_progress)(void *context, const tr_round_step *step);

/*
 * Runs the local round. On success the caller owns result->delta. Errors
 * name the file, record or setting at fault.
 */
int tr_round_run(const tr_round_options *options, tr_round_progress progress, void *context,
                 tr_round_result *result, fl_error *err) FL_WARN_UNUSED;

#endif
