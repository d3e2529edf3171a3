/*
 * lora.h - LoRA adapters on the projections of a decoder, stored in one
 * float32 arena, and their PEFT files (adapter_config.json +
 * adapter_model.safetensors).
 *
 * A projection y = W x gains scaling * B (A dropout(x)), with A [r, in],
 * B [out, r] and scaling = alpha / r (alpha / sqrt(r) with rsLoRA). The
 * arena lists every A (target by target, layers stacked) before every B, so
 * the B block is one contiguous range for frozen-A training.
 */
#ifndef LORA_H
#define LORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"
#include "tr_config.h"
#include "tr_model.h"

enum lora_target_id {
    LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_TARGET_COUNT
};

#define LORA_ALL_TARGETS ((1u << LORA_TARGET_COUNT) - 1u)

typedef struct lora_options {
    int rank;
    float alpha;
    float dropout;     /* probability in [0, 1) of zeroing an input of A */
    bool use_rslora;
    unsigned targets;  /* bit (1 << lora_target_id) per adapted projection */
} lora_options;

typedef struct lora_adapter {
    lora_options options;
    float scaling;
    int num_layers;
    int in_features[LORA_TARGET_COUNT];
    int out_features[LORA_TARGET_COUNT];
    float *a[LORA_TARGET_COUNT]; /* [L, r, in], NULL for a target not adapted */
    float *b[LORA_TARGET_COUNT]; /* [L, out, r] */
    size_t a_count;    /* floats in the A block, which starts the arena */
    size_t num_params; /* floats in the whole arena */
    float *memory;
} lora_adapter;

/* Returns the module name of a target ("q_proj"). */
const char *lora_target_name(int target);

/* Returns the base weight id (TR_WQ, ...) that target adapts. */
int lora_target_weight(int target);

/*
 * Parses a comma-separated list of module names ("q_proj,v_proj") or "all"
 * into a target mask. Returns FL_EINVAL naming the unknown module.
 */
int lora_targets_parse(const char *list, unsigned *targets, fl_error *err) FL_WARN_UNUSED;

/* Validates options: rank >= 1, alpha > 0, dropout in [0, 1), at least one target. */
int lora_options_check(const lora_options *options, fl_error *err) FL_WARN_UNUSED;

/* Allocates a zeroed adapter for config. Release with lora_adapter_release. */
void lora_adapter_init(lora_adapter *adapter, const tr_config *config,
                       const lora_options *options);
void lora_adapter_release(lora_adapter *adapter);

/*
 * Initialises as PEFT does: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform
 * with a = sqrt(5)), B = 0. A depends only on seed and the shapes, so every
 * site that uses the same seed gets the same A.
 */
void lora_adapter_init_weights(lora_adapter *adapter, uint64_t seed);

/* Copies the values of src into dst; both must have the same layout. */
void lora_adapter_copy(lora_adapter *dst, const lora_adapter *src);

/* delta = after - before, element by element (same layouts). */
void lora_adapter_subtract(lora_adapter *delta, const lora_adapter *after,
                           const lora_adapter *before);

/* Adds scaling * B A to every adapted base weight of model. */
void lora_adapter_merge(tr_model *model, const lora_adapter *adapter);

/*
 * Writes adapter_config.json and adapter_model.safetensors into folder
 * (created when missing) with PEFT's key names, e.g.
 * base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.
 */
int lora_adapter_save(const lora_adapter *adapter, const char *folder,
                      const char *base_model, fl_error *err) FL_WARN_UNUSED;

/*
 * Reads a PEFT adapter folder for a model of config. The rank, alpha,
 * rsLoRA flag, dropout and targets come from adapter_config.json; every
 * tensor must be present with its PEFT shape, and adapters with biases or
 * fan_in_fan_out are rejected. Caller releases the adapter.
 */
int lora_adapter_load(lora_adapter *adapter, const char *folder, const tr_config *config,
                      fl_error *err) FL_WARN_UNUSED;

#endif
