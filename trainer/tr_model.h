/*
 * tr_model.h - the base weights of a decoder model in one float32 arena.
 *
 * Shapes use V vocab, H hidden, I intermediate, L layers, nh query heads,
 * nkv key/value heads, hd head_dim, QD = nh*hd, KVD = nkv*hd. Every matrix is
 * stored as nn.Linear stores it, [out, in] row-major, and the tensors of all
 * layers are stacked along a leading L dimension. Tensors the architecture
 * lacks (biases outside Qwen2, q/k norms outside Qwen3, lm_head when tied)
 * have size 0 and a NULL pointer.
 */
#ifndef TR_MODEL_H
#define TR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"
#include "tr_config.h"

enum tr_param_id {
    TR_EMBED,   /* [V, H] model.embed_tokens.weight */
    TR_LN1,     /* [L, H] input_layernorm */
    TR_WQ,      /* [L, QD, H] */
    TR_BQ,      /* [L, QD] Qwen2 */
    TR_WK,      /* [L, KVD, H] */
    TR_BK,      /* [L, KVD] Qwen2 */
    TR_WV,      /* [L, KVD, H] */
    TR_BV,      /* [L, KVD] Qwen2 */
    TR_QNORM,   /* [L, hd] Qwen3 */
    TR_KNORM,   /* [L, hd] Qwen3 */
    TR_WO,      /* [L, H, QD] */
    TR_LN2,     /* [L, H] post_attention_layernorm */
    TR_WGATE,   /* [L, I, H] */
    TR_WUP,     /* [L, I, H] */
    TR_WDOWN,   /* [L, H, I] */
    TR_NORM,    /* [H] model.norm */
    TR_LM_HEAD, /* [V, H] lm_head, absent when tied */
    TR_PARAM_COUNT
};

typedef struct tr_params {
    float *tensor[TR_PARAM_COUNT];
} tr_params;

typedef struct tr_model {
    tr_config config;
    size_t sizes[TR_PARAM_COUNT]; /* floats per tensor, all layers together */
    size_t num_params;
    tr_params params;
    float *memory; /* the arena that params point into */
} tr_model;

/* Fills sizes[] with the float count of every tensor of config. Returns the total. */
size_t tr_param_sizes(const tr_config *config, size_t sizes[TR_PARAM_COUNT]);

/* Carves params out of memory (sum of sizes floats) in table order. */
void tr_params_carve(tr_params *params, float *memory, const size_t sizes[TR_PARAM_COUNT]);

/* Returns the number of dimensions of one layer's slice of tensor id (1 or 2). */
int tr_param_rank(int id);

/* Returns true when tensor id has one slice per layer. */
int tr_param_per_layer(int id);

/*
 * Writes the shape of one layer's slice (or of the whole tensor when it is
 * not per layer) to shape[] and returns its dimension count.
 */
int tr_param_shape(const tr_config *config, int id, int64_t shape[2]);

/* Writes the Hugging Face name of tensor id of layer into name. */
void tr_param_name(int id, int layer, char *name, size_t size);

/* Allocates a zeroed model for config. Release with tr_model_release. */
void tr_model_init(tr_model *model, const tr_config *config);
void tr_model_release(tr_model *model);

/* Returns the lm_head weights: lm_head when untied, the embedding when tied. */
const float *tr_model_lm_head(const tr_model *model);

/*
 * Loads config.json and the safetensors weights of a Hugging Face folder,
 * checking every tensor's presence and shape against the config. On failure
 * the model is released and err names the file and tensor.
 */
int tr_model_load(tr_model *model, const char *folder, fl_error *err) FL_WARN_UNUSED;

/*
 * Fills a model with random weights as transformers initialises them:
 * matrices N(0, 0.02), biases 0, norm weights 1. With perturb set, norm
 * weights and biases are drawn too, so tests exercise them.
 */
void tr_model_randomize(tr_model *model, uint64_t seed, int perturb);

/*
 * Checks that every token id of a Hugging Face tokenizer.json (model.vocab
 * and added_tokens) is below config's vocab_size. A larger id is FL_EINVAL
 * naming the file, the token and both sizes.
 */
int tr_model_check_tokenizer(const tr_config *config, const char *path,
                             fl_error *err) FL_WARN_UNUSED;

/* Writes config.json and model.safetensors (F32) into folder, which must exist. */
int tr_model_save(const tr_model *model, const char *folder, fl_error *err) FL_WARN_UNUSED;

#endif
