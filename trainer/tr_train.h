/*
 * tr_train.h - training and evaluation of a decoder on CPU: LoRA (standard
 * or frozen-A) or full fine-tuning, AdamW with warm-up and cosine decay,
 * global-norm clipping and gradient accumulation.
 *
 * A site runs local training as:
 *     tr_model_load(&model, dir, &err);
 *     lora_adapter_load(&adapter, adapter_dir, &model.config, &err);  (or init + init_weights)
 *     tr_trainer_new(&trainer, &model, &adapter, &options, &err);
 *     lora_adapter_copy(&start, &adapter);
 *     for each step: tr_trainer_step(trainer, micro_batches, count, &stats, &err);
 *     lora_adapter_subtract(&delta, &adapter, &start);
 * The trainer allocates every buffer in tr_trainer_new; a step allocates
 * nothing. A trainer is not thread-safe; it uses the threads set with
 * tr_set_threads for its own kernels.
 */
#ifndef TR_TRAIN_H
#define TR_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"
#include "lora.h"
#include "tr_batch.h"
#include "tr_model.h"

typedef enum tr_mode {
    TR_MODE_LORA,     /* A and B trained */
    TR_MODE_FROZEN_A, /* A fixed (shared seed), only B trained */
    TR_MODE_FULL      /* every base weight trained, no adapter */
} tr_mode;

typedef struct tr_optim_options {
    float lr;             /* peak learning rate */
    float weight_decay;   /* decoupled (AdamW); not applied to biases and norm weights */
    float beta1, beta2, eps;
    float max_grad_norm;  /* global-norm clipping; 0 disables */
    int warmup_steps;     /* linear warm-up from 0 */
    int total_steps;      /* cosine decay to 0 at total_steps; 0 keeps lr after warm-up */
} tr_optim_options;

typedef struct tr_train_options {
    tr_mode mode;
    tr_optim_options optim;
    int max_batch;   /* rows per micro-batch, at most */
    int max_seq;     /* positions per row, at most */
    uint64_t seed;   /* dropout masks */
    int recompute;   /* keep only each layer's input and recompute the layer in the backward
                        pass: activation memory of one layer instead of all, about a third
                        more compute. NOTE: without it the attention probabilities of every
                        layer are kept, L*B*nh*T*T floats (5.6 GB for Qwen2.5-0.5B at
                        T = 2048), so long sequences need recompute. */
} tr_train_options;

typedef struct tr_step_stats {
    double loss;     /* mean cross-entropy over the target tokens of the step */
    long tokens;     /* target tokens counted */
    float grad_norm; /* global norm before clipping */
    float lr;        /* learning rate applied */
    int step;        /* optimizer steps done, this one included */
} tr_step_stats;

typedef struct tr_trainer tr_trainer;

/* Returns options with the defaults of Hugging Face's Trainer (lr 2e-4 for LoRA). */
tr_train_options tr_train_options_default(void);

/* Sets the threads of OpenBLAS and of the element-wise kernels (n >= 1). */
void tr_set_threads(int n);

/*
 * Creates a trainer over model (and adapter, NULL in TR_MODE_FULL). Both are
 * borrowed and updated in place by steps; they must outlive the trainer.
 * Returns FL_EINVAL for inconsistent options (err names the option).
 */
int tr_trainer_new(tr_trainer **out, tr_model *model, lora_adapter *adapter,
                   const tr_train_options *options, fl_error *err) FL_WARN_UNUSED;
void tr_trainer_destroy(tr_trainer **trainer);

/*
 * One optimizer step over count micro-batches (gradient accumulation): the
 * loss of each token is divided by the target tokens of all micro-batches.
 * Returns FL_EINVAL for a batch that is too large, contains an id outside the
 * vocabulary or has no target token.
 */
int tr_trainer_step(tr_trainer *trainer, const tr_batch *batches, int count,
                    tr_step_stats *stats, fl_error *err) FL_WARN_UNUSED;

/* The two halves of tr_trainer_step: gradients (zeroed first), then clip and AdamW. */
int tr_trainer_gradients(tr_trainer *trainer, const tr_batch *batches, int count,
                         tr_step_stats *stats, fl_error *err) FL_WARN_UNUSED;
void tr_trainer_apply(tr_trainer *trainer, tr_step_stats *stats);

/* Runs the forward pass only; tr_trainer_logits then returns [B*T, V]. */
int tr_trainer_forward(tr_trainer *trainer, const tr_batch *batch, fl_error *err) FL_WARN_UNUSED;
const float *tr_trainer_logits(const tr_trainer *trainer);

/* Adds the batch's summed loss and target count (no dropout, no gradients). */
int tr_trainer_evaluate(tr_trainer *trainer, const tr_batch *batch, double *loss_sum,
                        long *tokens, fl_error *err) FL_WARN_UNUSED;

/* Gradients of the last tr_trainer_gradients: of the adapter, or of the base weights. */
const lora_adapter *tr_trainer_lora_grads(const tr_trainer *trainer);
const tr_params *tr_trainer_param_grads(const tr_trainer *trainer);

/* Returns the bytes the trainer allocated: activations, gradients and AdamW moments. */
size_t tr_trainer_buffer_bytes(const tr_trainer *trainer);

/* Learning rate of optimizer step `step` (0-based) under the schedule. */
float tr_schedule_lr(const tr_optim_options *options, int step);

#endif
