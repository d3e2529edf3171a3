/* LoRA adapter layout, initialisation and merging. */
#include "lora.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "tr_rng.h"

static const struct {
    const char *name;
    int weight;
} s_targets[LORA_TARGET_COUNT] = {
    [LORA_Q] = {"q_proj", TR_WQ},       [LORA_K] = {"k_proj", TR_WK},
    [LORA_V] = {"v_proj", TR_WV},       [LORA_O] = {"o_proj", TR_WO},
    [LORA_GATE] = {"gate_proj", TR_WGATE}, [LORA_UP] = {"up_proj", TR_WUP},
    [LORA_DOWN] = {"down_proj", TR_WDOWN},
};

const char *lora_target_name(int target)
{
    return s_targets[target].name;
}

int lora_target_weight(int target)
{
    return s_targets[target].weight;
}

int lora_targets_parse(const char *list, unsigned *targets, fl_error *err)
{
    *targets = 0;
    if (strcmp(list, "all") == 0) {
        *targets = LORA_ALL_TARGETS;
        return FL_OK;
    }
    const char *start = list;
    while (*start != '\0') {
        size_t length = strcspn(start, ",");
        int found = -1;
        for (int t = 0; t < LORA_TARGET_COUNT; t++) {
            if (strlen(s_targets[t].name) == length &&
                strncmp(s_targets[t].name, start, length) == 0)
                found = t;
        }
        if (found < 0)
            return fl_error_set(err, FL_EINVAL,
                                "unknown LoRA target '%.*s'; use q_proj, k_proj, v_proj, o_proj, "
                                "gate_proj, up_proj, down_proj or all", (int)length, start);
        *targets |= 1u << found;
        start += length;
        if (*start == ',')
            start++;
    }
    if (*targets == 0)
        return fl_error_set(err, FL_EINVAL, "empty LoRA target list");
    return FL_OK;
}

int lora_options_check(const lora_options *o, fl_error *err)
{
    if (o->rank < 1 || o->rank > 4096)
        return fl_error_set(err, FL_ERANGE, "LoRA rank %d is outside 1..4096", o->rank);
    if (!(o->alpha > 0))
        return fl_error_set(err, FL_ERANGE, "LoRA alpha %g must be positive", (double)o->alpha);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return fl_error_set(err, FL_ERANGE, "LoRA dropout %g must be in [0, 1)",
                            (double)o->dropout);
    if ((o->targets & LORA_ALL_TARGETS) == 0 || (o->targets & ~LORA_ALL_TARGETS) != 0)
        return fl_error_set(err, FL_EINVAL, "LoRA target mask 0x%x is invalid", o->targets);
    return FL_OK;
}

void lora_adapter_init(lora_adapter *adapter, const tr_config *config,
                       const lora_options *options)
{
    memset(adapter, 0, sizeof(*adapter));
    adapter->options = *options;
    adapter->num_layers = config->num_layers;
    float rank = (float)options->rank;
    adapter->scaling = options->use_rslora ? options->alpha / sqrtf(rank) : options->alpha / rank;

    size_t a_sizes[LORA_TARGET_COUNT] = {0};
    size_t b_sizes[LORA_TARGET_COUNT] = {0};
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        int64_t shape[2];
        tr_param_shape(config, s_targets[t].weight, shape);
        adapter->out_features[t] = (int)shape[0];
        adapter->in_features[t] = (int)shape[1];
        if ((options->targets & (1u << t)) == 0)
            continue;
        a_sizes[t] = (size_t)config->num_layers * options->rank * (size_t)shape[1];
        b_sizes[t] = (size_t)config->num_layers * (size_t)shape[0] * options->rank;
        adapter->a_count += a_sizes[t];
        adapter->num_params += a_sizes[t] + b_sizes[t];
    }

    adapter->memory = fl_xmalloc_aligned((adapter->num_params + 1) * sizeof(float));
    memset(adapter->memory, 0, (adapter->num_params + 1) * sizeof(float));
    float *next = adapter->memory;
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        adapter->a[t] = a_sizes[t] ? next : NULL;
        next += a_sizes[t];
    }
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        adapter->b[t] = b_sizes[t] ? next : NULL;
        next += b_sizes[t];
    }
}

void lora_adapter_release(lora_adapter *adapter)
{
    if (adapter == NULL)
        return;
    free(adapter->memory);
    memset(adapter, 0, sizeof(*adapter));
}

void lora_adapter_init_weights(lora_adapter *adapter, uint64_t seed)
{
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    int r = adapter->options.rank;
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        if (adapter->a[t] == NULL)
            continue;
        float bound = 1.0f / sqrtf((float)adapter->in_features[t]);
        size_t count = (size_t)adapter->num_layers * r * adapter->in_features[t];
        for (size_t i = 0; i < count; i++)
            adapter->a[t][i] = (2.0f * tr_rng_uniform(&rng) - 1.0f) * bound;
    }
    memset(adapter->memory + adapter->a_count, 0,
           (adapter->num_params - adapter->a_count) * sizeof(float));
}

void lora_adapter_copy(lora_adapter *dst, const lora_adapter *src)
{
    assert(dst->num_params == src->num_params);
    assert(dst->a_count == src->a_count);
    memcpy(dst->memory, src->memory, src->num_params * sizeof(float));
}

void lora_adapter_subtract(lora_adapter *delta, const lora_adapter *after,
                           const lora_adapter *before)
{
    assert(delta->num_params == after->num_params);
    assert(after->num_params == before->num_params);
    for (size_t i = 0; i < delta->num_params; i++)
        delta->memory[i] = after->memory[i] - before->memory[i];
}

void lora_adapter_merge(tr_model *model, const lora_adapter *adapter)
{
    int r = adapter->options.rank;
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        if (adapter->a[t] == NULL)
            continue;
        int in = adapter->in_features[t];
        int out = adapter->out_features[t];
        for (int layer = 0; layer < adapter->num_layers; layer++) {
            float *w = model->params.tensor[s_targets[t].weight] + (size_t)layer * out * in;
            const float *a = adapter->a[t] + (size_t)layer * r * in;
            const float *b = adapter->b[t] + (size_t)layer * out * r;
            /* W[out,in] += scaling * B[out,r] @ A[r,in], i.e. inp = B, weight = A^T. */
            for (int o = 0; o < out; o++) {
                for (int k = 0; k < r; k++) {
                    float coefficient = adapter->scaling * b[(size_t)o * r + k];
                    const float *arow = a + (size_t)k * in;
                    float *wrow = w + (size_t)o * in;
                    for (int i = 0; i < in; i++)
                        wrow[i] += coefficient * arow[i];
                }
            }
        }
    }
}
