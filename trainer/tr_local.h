/*
 * tr_local.h - one round of local LoRA training as a site runs it: a number
 * of optimizer steps over batches from the caller, returning the change of
 * the adapter and the training metrics.
 */
#ifndef TR_LOCAL_H
#define TR_LOCAL_H

#include "fl_error.h"
#include "lora.h"
#include "tr_batch.h"
#include "tr_model.h"
#include "tr_train.h"

#define TR_LOCAL_MAX_ACCUMULATION 64

/*
 * Supplies the next batch. Returns 0 with *batch filled, 1 when the data is
 * exhausted, or a negative fl_status (with err set) on failure. The arrays
 * the batch points to stay owned by the caller and must stay valid until the
 * callback has been called grad_accum more times or tr_local_train returns.
 */
typedef int (*tr_batch_source)(void *context, tr_batch *batch, fl_error *err);

typedef struct tr_local_options {
    tr_train_options train; /* mode must be TR_MODE_LORA or TR_MODE_FROZEN_A */
    int steps;              /* optimizer steps to run, at least 1 */
    int grad_accum;         /* micro-batches per step, 1..TR_LOCAL_MAX_ACCUMULATION */
} tr_local_options;

typedef struct tr_local_result {
    int steps;           /* optimizer steps run; fewer than asked when the data ran out */
    long tokens;         /* target tokens trained on */
    double mean_loss;    /* token-weighted mean loss over all steps */
    double first_loss;   /* loss of the first step */
    double last_loss;    /* loss of the last step */
    float last_grad_norm;
} tr_local_result;

/*
 * Trains adapter (updated in place) on model for options->steps steps and
 * writes adapter_after - adapter_before into delta, which must have the
 * adapter's layout (lora_adapter_init with the same config and options).
 * Returns FL_OK, FL_ENOTFOUND when the source had no batch at all, or the
 * first error of the source or the trainer.
 */
int tr_local_train(tr_model *model, lora_adapter *adapter, const tr_local_options *options,
                   tr_batch_source source, void *context, lora_adapter *delta,
                   tr_local_result *result, fl_error *err) FL_WARN_UNUSED;

#endif
