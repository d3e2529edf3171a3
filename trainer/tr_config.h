/*
 * tr_config.h - the architecture of a decoder checkpoint, read from a
 * Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM).
 */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stdbool.h>

#include "fl_error.h"

typedef enum tr_arch { TR_ARCH_LLAMA, TR_ARCH_MISTRAL, TR_ARCH_QWEN2, TR_ARCH_QWEN3 } tr_arch;

typedef enum tr_rope_type { TR_ROPE_DEFAULT, TR_ROPE_LINEAR, TR_ROPE_LLAMA3 } tr_rope_type;

typedef struct tr_config {
    tr_arch arch;
    int vocab_size;        /* V */
    int hidden_size;       /* H */
    int intermediate_size; /* I */
    int num_layers;        /* L */
    int num_heads;         /* nh */
    int num_kv_heads;      /* nkv, divides nh */
    int head_dim;          /* hd, even */
    int max_position_embeddings;
    float rms_norm_eps;
    float rope_theta;
    tr_rope_type rope_type;
    float rope_factor;           /* linear and llama3 */
    float rope_low_freq_factor;  /* llama3 */
    float rope_high_freq_factor; /* llama3 */
    int rope_original_max_position; /* llama3 */
    int sliding_window; /* Mistral: attention span in positions; 0 for none */
    bool tie_word_embeddings;
    bool qkv_bias; /* Qwen2: biases on q/k/v projections */
    bool qk_norm;  /* Qwen3: per-head RMSNorm of q and k before RoPE */
} tr_config;

/* Returns the architecture name as config.json spells it ("Qwen2ForCausalLM"). */
const char *tr_arch_class(tr_arch arch);

/* Parses "llama", "mistral", "qwen2" or "qwen3". Returns FL_OK or FL_EINVAL. */
int tr_arch_parse(const char *name, tr_arch *out) FL_WARN_UNUSED;

/*
 * Reads and validates config.json at path. Unknown architectures are
 * FL_EUNSUPPORTED; missing or out-of-range fields are FL_EFORMAT naming the
 * file and field.
 */
int tr_config_load(tr_config *config, const char *path, fl_error *err) FL_WARN_UNUSED;

/*
 * Fills config from a JSON object (a config.json already parsed). where
 * names the source in messages. arch_override >= 0 takes the architecture
 * from the caller instead of the "architectures" field.
 */
int tr_config_from_json(tr_config *config, const void *json_object, const char *where,
                        int arch_override, fl_error *err) FL_WARN_UNUSED;

/* Writes config as a Hugging Face config.json. */
int tr_config_save(const tr_config *config, const char *path, fl_error *err) FL_WARN_UNUSED;

/* Fills inv_freq[hd/2] with the RoPE inverse frequencies after rope_scaling. */
void tr_config_rope_inv_freq(const tr_config *config, float *inv_freq);

#endif
