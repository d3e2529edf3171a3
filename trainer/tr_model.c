/* The parameter size table, tensor names and the weight arena. */
#include "tr_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "tr_rng.h"

/* Hugging Face name of each tensor; per-layer names follow "model.layers.N.". */
static const char *const s_names[TR_PARAM_COUNT] = {
    [TR_EMBED] = "model.embed_tokens.weight",
    [TR_LN1] = "input_layernorm.weight",
    [TR_WQ] = "self_attn.q_proj.weight",
    [TR_BQ] = "self_attn.q_proj.bias",
    [TR_WK] = "self_attn.k_proj.weight",
    [TR_BK] = "self_attn.k_proj.bias",
    [TR_WV] = "self_attn.v_proj.weight",
    [TR_BV] = "self_attn.v_proj.bias",
    [TR_QNORM] = "self_attn.q_norm.weight",
    [TR_KNORM] = "self_attn.k_norm.weight",
    [TR_WO] = "self_attn.o_proj.weight",
    [TR_LN2] = "post_attention_layernorm.weight",
    [TR_WGATE] = "mlp.gate_proj.weight",
    [TR_WUP] = "mlp.up_proj.weight",
    [TR_WDOWN] = "mlp.down_proj.weight",
    [TR_NORM] = "model.norm.weight",
    [TR_LM_HEAD] = "lm_head.weight",
};

int tr_param_per_layer(int id)
{
    return id != TR_EMBED && id != TR_NORM && id != TR_LM_HEAD;
}

int tr_param_rank(int id)
{
    switch (id) {
    case TR_EMBED: case TR_WQ: case TR_WK: case TR_WV: case TR_WO:
    case TR_WGATE: case TR_WUP: case TR_WDOWN: case TR_LM_HEAD:
        return 2;
    default:
        return 1;
    }
}

int tr_param_shape(const tr_config *c, int id, int64_t shape[2])
{
    int64_t H = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int64_t QD = (int64_t)c->num_heads * c->head_dim;
    int64_t KVD = (int64_t)c->num_kv_heads * c->head_dim;
    int64_t rows = 0, cols = 0;
    switch (id) {
    case TR_EMBED: rows = V; cols = H; break;
    case TR_LN1: case TR_LN2: case TR_NORM: rows = H; break;
    case TR_WQ: rows = QD; cols = H; break;
    case TR_BQ: rows = c->qkv_bias ? QD : 0; break;
    case TR_WK: case TR_WV: rows = KVD; cols = H; break;
    case TR_BK: case TR_BV: rows = c->qkv_bias ? KVD : 0; break;
    case TR_QNORM: case TR_KNORM: rows = c->qk_norm ? c->head_dim : 0; break;
    case TR_WO: rows = H; cols = QD; break;
    case TR_WGATE: case TR_WUP: rows = I; cols = H; break;
    case TR_WDOWN: rows = H; cols = I; break;
    case TR_LM_HEAD: rows = c->tie_word_embeddings ? 0 : V; cols = H; break;
    default: break;
    }
    shape[0] = rows;
    shape[1] = cols;
    return tr_param_rank(id);
}

size_t tr_param_sizes(const tr_config *c, size_t sizes[TR_PARAM_COUNT])
{
    size_t total = 0;
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        int64_t shape[2];
        int rank = tr_param_shape(c, id, shape);
        size_t count = (size_t)shape[0] * (rank == 2 ? (size_t)shape[1] : 1);
        if (tr_param_per_layer(id))
            count *= (size_t)c->num_layers;
        sizes[id] = count;
        total += count;
    }
    return total;
}

void tr_params_carve(tr_params *params, float *memory, const size_t sizes[TR_PARAM_COUNT])
{
    float *next = memory;
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        params->tensor[id] = sizes[id] > 0 ? next : NULL;
        next += sizes[id];
    }
}

void tr_param_name(int id, int layer, char *name, size_t size)
{
    if (tr_param_per_layer(id))
        snprintf(name, size, "model.layers.%d.%s", layer, s_names[id]);
    else
        snprintf(name, size, "%s", s_names[id]);
}

void tr_model_init(tr_model *model, const tr_config *config)
{
    memset(model, 0, sizeof(*model));
    model->config = *config;
    model->num_params = tr_param_sizes(config, model->sizes);
    model->memory = fl_xmalloc_aligned(model->num_params * sizeof(float));
    memset(model->memory, 0, model->num_params * sizeof(float));
    tr_params_carve(&model->params, model->memory, model->sizes);
}

void tr_model_release(tr_model *model)
{
    if (model == NULL)
        return;
    free(model->memory);
    memset(model, 0, sizeof(*model));
}

const float *tr_model_lm_head(const tr_model *model)
{
    if (model->config.tie_word_embeddings)
        return model->params.tensor[TR_EMBED];
    return model->params.tensor[TR_LM_HEAD];
}

void tr_model_randomize(tr_model *model, uint64_t seed, int perturb)
{
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        float *t = model->params.tensor[id];
        for (size_t i = 0; i < model->sizes[id]; i++) {
            float normal = tr_rng_normal(&rng);
            if (tr_param_rank(id) == 2)
                t[i] = 0.02f * normal;
            else if (id == TR_BQ || id == TR_BK || id == TR_BV)
                t[i] = perturb ? 0.02f * normal : 0.0f;
            else
                t[i] = perturb ? 1.0f + 0.1f * normal : 1.0f;
        }
    }
}
