/* Trainer lifecycle, batch checks, the training step and evaluation. */
#include "tr_train.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "tr_ops.h"
#include "tr_pool.h"
#include "tr_state.h"

void tr_set_threads(int n)
{
    if (n < 1)
        n = 1;
    openblas_set_num_threads(n);
    tr_pool_set_threads(n);
}

tr_train_options tr_train_options_default(void)
{
    tr_train_options o;
    memset(&o, 0, sizeof(o));
    o.mode = TR_MODE_LORA;
    o.optim.lr = 2e-4f;
    o.optim.weight_decay = 0.0f;
    o.optim.beta1 = 0.9f;
    o.optim.beta2 = 0.999f;
    o.optim.eps = 1e-8f;
    o.optim.max_grad_norm = 1.0f;
    o.max_batch = 1;
    o.max_seq = 512;
    return o;
}

/* Fills the activation size table for Nmax positions. */
static void act_sizes(const tr_trainer *t, size_t sizes[TR_ACT_COUNT])
{
    const tr_config *c = &t->model->config;
    size_t N = (size_t)t->max_n, T = (size_t)t->max_seq;
    size_t L = t->options.recompute ? 1 : (size_t)c->num_layers; /* per-layer slices kept */
    size_t H = (size_t)c->hidden_size, inter = (size_t)c->intermediate_size;
    size_t QD = (size_t)c->num_heads * c->head_dim, KVD = (size_t)c->num_kv_heads * c->head_dim;
    size_t nh = (size_t)c->num_heads, nkv = (size_t)c->num_kv_heads;
    size_t r = t->adapter != NULL ? (size_t)t->adapter->options.rank : 0;
    size_t qk = c->qk_norm ? 1 : 0;
    size_t widest = H > inter ? H : inter;
    widest = widest > QD ? widest : QD;

    memset(sizes, 0, TR_ACT_COUNT * sizeof(size_t));
    sizes[TR_A_RESID] = ((size_t)c->num_layers + 1) * N * H;
    sizes[TR_A_HRES] = L * N * H;
    sizes[TR_A_LN1] = L * N * H;
    sizes[TR_A_LN1_RSTD] = L * N;
    sizes[TR_A_Q_RAW] = qk * L * N * QD;
    sizes[TR_A_Q_RSTD] = qk * L * N * nh;
    sizes[TR_A_K_RAW] = qk * L * N * KVD;
    sizes[TR_A_K_RSTD] = qk * L * N * nkv;
    sizes[TR_A_Q] = L * N * QD;
    sizes[TR_A_K] = L * N * KVD;
    sizes[TR_A_V] = L * N * KVD;
    sizes[TR_A_ATT] = L * (size_t)t->max_batch * nh * T * T;
    sizes[TR_A_ATTY] = L * N * QD;
    sizes[TR_A_LN2] = L * N * H;
    sizes[TR_A_LN2_RSTD] = L * N;
    sizes[TR_A_GATE] = L * N * inter;
    sizes[TR_A_UP] = L * N * inter;
    sizes[TR_A_LORA_U] = L * LORA_TARGET_COUNT * N * r;
    sizes[TR_A_LNF] = N * H;
    sizes[TR_A_LNF_RSTD] = N;
    sizes[TR_A_LOGITS] = N * (size_t)c->vocab_size;
    sizes[TR_A_LOSSES] = N;
    sizes[TR_A_COS] = N * (size_t)c->head_dim / 2;
    sizes[TR_A_SIN] = N * (size_t)c->head_dim / 2;
    sizes[TR_S_ACT] = N * inter;
    sizes[TR_S_DRES] = N * H;
    sizes[TR_S_DLN] = N * H;
    sizes[TR_S_DQ] = N * QD;
    sizes[TR_S_DK] = N * KVD;
    sizes[TR_S_DV] = N * KVD;
    sizes[TR_S_DQ_RAW] = qk * N * QD;
    sizes[TR_S_DK_RAW] = qk * N * KVD;
    sizes[TR_S_DATTY] = N * QD;
    sizes[TR_S_DATT] = T * T;
    sizes[TR_S_DACT] = N * inter;
    sizes[TR_S_DGATE] = N * inter;
    sizes[TR_S_DUP] = N * inter;
    sizes[TR_S_LORA_DU] = N * r;
    sizes[TR_S_DROPPED] = r > 0 ? N * widest : 0;
}

static void alloc_acts(tr_trainer *t)
{
    act_sizes(t, t->act_sizes);
    size_t total = 0;
    for (int i = 0; i < TR_ACT_COUNT; i++)
        total += t->act_sizes[i];
    t->act_memory = fl_xmalloc_aligned((total + 1) * sizeof(float));
    memset(t->act_memory, 0, (total + 1) * sizeof(float));
    float *next = t->act_memory;
    for (int i = 0; i < TR_ACT_COUNT; i++) {
        t->acts[i] = t->act_sizes[i] > 0 ? next : NULL;
        next += t->act_sizes[i];
    }
}

/* Sets up gradients, AdamW moments and the segments the optimizer updates. */
static void alloc_optimizer(tr_trainer *t)
{
    if (t->options.mode == TR_MODE_FULL) {
        tr_model *m = t->model;
        t->grad_memory = fl_xmalloc_aligned((m->num_params + 1) * sizeof(float));
        tr_params_carve(&t->param_grads, t->grad_memory, m->sizes);
        t->params = m->memory;
        t->grads = t->grad_memory;
        t->param_count = m->num_params;
        size_t offset = 0;
        for (int id = 0; id < TR_PARAM_COUNT; id++) {
            if (m->sizes[id] > 0)
                t->segments[t->segment_count++] =
                    (tr_segment){offset, m->sizes[id], tr_param_rank(id) == 2};
            offset += m->sizes[id];
        }
    } else {
        lora_adapter_init(&t->lora_grads, &t->model->config, &t->adapter->options);
        t->params = t->adapter->memory;
        t->grads = t->lora_grads.memory;
        t->param_count = t->adapter->num_params;
        size_t first = t->options.mode == TR_MODE_FROZEN_A ? t->adapter->a_count : 0;
        t->segments[0] = (tr_segment){first, t->param_count - first, 1};
        t->segment_count = 1;
    }
    t->m = fl_xmalloc_aligned((t->param_count + 1) * sizeof(float));
    t->v = fl_xmalloc_aligned((t->param_count + 1) * sizeof(float));
    memset(t->m, 0, (t->param_count + 1) * sizeof(float));
    memset(t->v, 0, (t->param_count + 1) * sizeof(float));
}

static int check_options(const tr_model *model, const lora_adapter *adapter,
                         const tr_train_options *o, fl_error *err)
{
    if ((o->mode == TR_MODE_FULL) != (adapter == NULL))
        return fl_error_set(err, FL_EINVAL, "full mode takes no adapter and LoRA modes need one");
    if (o->max_batch < 1 || o->max_seq < 1)
        return fl_error_set(err, FL_EINVAL, "max_batch %d and max_seq %d must be at least 1",
                            o->max_batch, o->max_seq);
    if ((size_t)o->max_batch * o->max_seq > (1u << 24))
        return fl_error_set(err, FL_ERANGE, "max_batch x max_seq = %zu positions is too many",
                            (size_t)o->max_batch * o->max_seq);
    const tr_optim_options *p = &o->optim;
    if (!(p->lr >= 0) || !(p->weight_decay >= 0) || !(p->beta1 >= 0 && p->beta1 < 1) ||
        !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps > 0) || !(p->max_grad_norm >= 0) ||
        p->warmup_steps < 0 || p->total_steps < 0)
        return fl_error_set(err, FL_EINVAL, "optimizer options out of range (lr %g, betas %g/%g, "
                            "eps %g)", (double)p->lr, (double)p->beta1, (double)p->beta2,
                            (double)p->eps);
    /* The attention probabilities dominate activation memory, so sizes whose byte
       count could overflow are rejected instead of aborting in the allocator. */
    const tr_config *c = &model->config;
    double att_floats = (double)(o->recompute ? 1 : c->num_layers) * o->max_batch *
                        c->num_heads * (double)o->max_seq * o->max_seq;
    if (att_floats > 68719476736.0)
        return fl_error_set(err, FL_ERANGE,
                            "attention buffers of %.3g floats for batch %d x %d are too large; "
                            "use a shorter sequence (--seq-len) or a smaller batch "
                            "(--batch-size), or turn on recompute", att_floats, o->max_batch,
                            o->max_seq);
    if (adapter != NULL && adapter->num_layers != model->config.num_layers)
        return fl_error_set(err, FL_EINVAL, "adapter has %d layers but the model has %d",
                            adapter->num_layers, model->config.num_layers);
    return adapter != NULL ? lora_options_check(&adapter->options, err) : FL_OK;
}

int tr_trainer_new(tr_trainer **out, tr_model *model, lora_adapter *adapter,
                   const tr_train_options *options, fl_error *err)
{
    *out = NULL;
    int rc = check_options(model, adapter, options, err);
    if (rc != FL_OK)
        return rc;
    tr_trainer *t = fl_xcalloc(1, sizeof(*t));
    t->model = model;
    t->adapter = adapter;
    t->options = *options;
    t->max_batch = options->max_batch;
    t->max_seq = options->max_seq;
    t->max_n = options->max_batch * options->max_seq;
    t->inv_freq = fl_xmalloc(sizeof(float) * (size_t)(model->config.head_dim / 2 + 1));
    tr_config_rope_inv_freq(&model->config, t->inv_freq);
    alloc_acts(t);
    alloc_optimizer(t);
    *out = t;
    return FL_OK;
}

void tr_trainer_destroy(tr_trainer **trainer)
{
    if (trainer == NULL || *trainer == NULL)
        return;
    tr_trainer *t = *trainer;
    free(t->act_memory);
    free(t->inv_freq);
    free(t->grad_memory);
    lora_adapter_release(&t->lora_grads);
    free(t->m);
    free(t->v);
    free(t);
    *trainer = NULL;
}

/* Checks sizes and ids of a batch and adds its target count to *tokens. */
static int check_batch(const tr_trainer *t, const tr_batch *b, long *tokens, fl_error *err)
{
    if (b->B < 1 || b->T < 1 || b->B > t->max_batch || b->T > t->max_seq)
        return fl_error_set(err, FL_EINVAL,
                            "batch of %d x %d positions exceeds the trainer's %d x %d", b->B, b->T,
                            t->max_batch, t->max_seq);
    int V = t->model->config.vocab_size;
    size_t n = (size_t)b->B * b->T;
    for (size_t i = 0; i < n; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= V)
            return fl_error_set(err, FL_EINVAL, "batch position %zu: token id %d is outside the "
                                "model's vocabulary of %d", i, b->tokens[i], V);
        if (b->targets[i] != TR_IGNORE_INDEX && (b->targets[i] < 0 || b->targets[i] >= V))
            return fl_error_set(err, FL_EINVAL, "batch position %zu: target id %d is outside the "
                                "model's vocabulary of %d", i, b->targets[i], V);
        if (b->positions[i] < 0)
            return fl_error_set(err, FL_EINVAL, "batch position %zu: negative position id %d", i,
                                b->positions[i]);
        if (b->targets[i] != TR_IGNORE_INDEX)
            (*tokens)++;
    }
    return FL_OK;
}

int tr_trainer_gradients(tr_trainer *t, const tr_batch *batches, int count,
                         tr_step_stats *stats, fl_error *err)
{
    memset(stats, 0, sizeof(*stats));
    long tokens = 0;
    for (int i = 0; i < count; i++) {
        int rc = check_batch(t, &batches[i], &tokens, err);
        if (rc != FL_OK)
            return rc;
    }
    if (tokens == 0)
        return fl_error_set(err, FL_EINVAL, "the step's %d batches contain no target token", count);

    memset(t->grads, 0, t->param_count * sizeof(float));
    float grad_scale = 1.0f / (float)tokens;
    double loss_sum = 0.0;
    t->training = 1;
    for (int i = 0; i < count; i++) {
        const tr_batch *b = &batches[i];
        t->dropout_key = t->options.seed * 0x100000001b3ull + (uint64_t)t->step * 1000003u +
                         (uint64_t)i;
        tr_model_forward(t, b);
        loss_sum += tr_crossentropy_forward_backward(t->acts[TR_A_LOGITS], t->acts[TR_A_LOSSES],
                                                     b->targets, b->B * b->T,
                                                     t->model->config.vocab_size, grad_scale);
        tr_model_backward(t, b);
    }
    t->training = 0;
    stats->loss = loss_sum / (double)tokens;
    stats->tokens = tokens;
    stats->step = t->step;
    return FL_OK;
}

int tr_trainer_step(tr_trainer *t, const tr_batch *batches, int count, tr_step_stats *stats,
                    fl_error *err)
{
    int rc = tr_trainer_gradients(t, batches, count, stats, err);
    if (rc == FL_OK)
        tr_trainer_apply(t, stats);
    return rc;
}

int tr_trainer_forward(tr_trainer *t, const tr_batch *batch, fl_error *err)
{
    long tokens = 0;
    int rc = check_batch(t, batch, &tokens, err);
    if (rc != FL_OK)
        return rc;
    t->training = 0;
    tr_model_forward(t, batch);
    return FL_OK;
}

const float *tr_trainer_logits(const tr_trainer *t)
{
    return t->acts[TR_A_LOGITS];
}

int tr_trainer_evaluate(tr_trainer *t, const tr_batch *batch, double *loss_sum, long *tokens,
                        fl_error *err)
{
    long count = 0;
    int rc = check_batch(t, batch, &count, err);
    if (rc != FL_OK)
        return rc;
    t->training = 0;
    tr_model_forward(t, batch);
    *loss_sum += tr_crossentropy_forward_backward(t->acts[TR_A_LOGITS], t->acts[TR_A_LOSSES],
                                                  batch->targets, batch->B * batch->T,
                                                  t->model->config.vocab_size, 0.0f);
    *tokens += count;
    return FL_OK;
}

const lora_adapter *tr_trainer_lora_grads(const tr_trainer *t)
{
    return t->adapter != NULL ? &t->lora_grads : NULL;
}

const tr_params *tr_trainer_param_grads(const tr_trainer *t)
{
    return t->adapter == NULL ? &t->param_grads : NULL;
}

size_t tr_trainer_buffer_bytes(const tr_trainer *t)
{
    size_t floats = 0;
    for (int i = 0; i < TR_ACT_COUNT; i++)
        floats += t->act_sizes[i];
    floats += 3 * t->param_count; /* gradients, first and second moments */
    return floats * sizeof(float);
}
