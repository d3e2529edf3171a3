/* Local training rounds for a site (contract in tr_local.h). */
#include "tr_local.h"

#include <string.h>

/* Fills up to count batches from source; returns how many, or a negative status. */
static int gather(tr_batch_source source, void *context, tr_batch *batches, int count,
                  fl_error *err)
{
    int filled = 0;
    while (filled < count) {
        int rc = source(context, &batches[filled], err);
        if (rc < 0)
            return rc;
        if (rc == 1)
            break;
        filled++;
    }
    return filled;
}

int tr_local_train(tr_model *model, lora_adapter *adapter, const tr_local_options *options,
                   tr_batch_source source, void *context, lora_adapter *delta,
                   tr_local_result *result, fl_error *err)
{
    memset(result, 0, sizeof(*result));
    if (options->train.mode == TR_MODE_FULL || options->steps < 1 || options->grad_accum < 1 ||
        options->grad_accum > TR_LOCAL_MAX_ACCUMULATION)
        return fl_error_set(err, FL_EINVAL,
                            "local training needs a LoRA mode, steps >= 1 and grad_accum in "
                            "1..%d (got steps %d, grad_accum %d)", TR_LOCAL_MAX_ACCUMULATION,
                            options->steps, options->grad_accum);

    tr_trainer *trainer = NULL;
    int rc = tr_trainer_new(&trainer, model, adapter, &options->train, err);
    if (rc != FL_OK)
        return rc;
    lora_adapter_copy(delta, adapter);

    double loss_sum = 0.0;
    tr_batch batches[TR_LOCAL_MAX_ACCUMULATION];
    for (int step = 0; step < options->steps; step++) {
        int count = gather(source, context, batches, options->grad_accum, err);
        if (count < 0) {
            rc = count;
            break;
        }
        if (count == 0)
            break;
        tr_step_stats stats;
        rc = tr_trainer_step(trainer, batches, count, &stats, err);
        if (rc != FL_OK)
            break;
        if (result->steps == 0)
            result->first_loss = stats.loss;
        result->steps++;
        result->tokens += stats.tokens;
        result->last_loss = stats.loss;
        result->last_grad_norm = stats.grad_norm;
        loss_sum += stats.loss * (double)stats.tokens;
    }
    tr_trainer_destroy(&trainer);

    if (rc == FL_OK && result->steps == 0)
        rc = fl_error_set(err, FL_ENOTFOUND, "local training: the data source had no batch");
    if (result->tokens > 0)
        result->mean_loss = loss_sum / (double)result->tokens;
    /* Until here delta contains the starting adapter. */
    lora_adapter_subtract(delta, adapter, delta);
    return rc;
}
