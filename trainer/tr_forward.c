/* Forward and backward pass of the decoder with LoRA projections. */
#include <cblas.h>
#include <string.h>

#include "tr_ops.h"
#include "tr_pool.h"
#include "tr_rng.h"
#include "tr_state.h"

/* ----------------------------------------------------------------------------
 * access to the arenas
 */

/* Slice of per-layer activation id for layer; with recomputation every layer shares one. */
static float *act(const tr_trainer *t, int id, int layer)
{
    int layers = t->model->config.num_layers;
    if (id == TR_A_RESID)
        return t->acts[id] + (size_t)layer * (t->act_sizes[id] / (size_t)(layers + 1));
    if (t->options.recompute)
        return t->acts[id];
    return t->acts[id] + (size_t)layer * (t->act_sizes[id] / (size_t)layers);
}

static const float *weight(const tr_trainer *t, int id, int layer)
{
    const tr_model *m = t->model;
    if (m->sizes[id] == 0)
        return NULL;
    return m->params.tensor[id] + (size_t)layer * (m->sizes[id] / (size_t)m->config.num_layers);
}

/* Gradient slice of base weight id, or NULL when base weights are frozen. */
static float *weight_grad(const tr_trainer *t, int id, int layer)
{
    const tr_model *m = t->model;
    if (t->options.mode != TR_MODE_FULL || m->sizes[id] == 0)
        return NULL;
    return t->param_grads.tensor[id] + (size_t)layer * (m->sizes[id] / (size_t)m->config.num_layers);
}

/* One adapted projection of one layer, or all NULL when the target is not adapted. */
typedef struct lora_slice {
    const float *a; /* [r, in] */
    const float *b; /* [out, r] */
    float *da;      /* NULL when A is frozen */
    float *db;
    float *u;       /* [N, r] A x saved by the forward pass */
    uint64_t dropout_key;
} lora_slice;

static lora_slice lora_of(const tr_trainer *t, int target, int layer)
{
    lora_slice s = {0};
    const lora_adapter *adapter = t->adapter;
    if (adapter == NULL || adapter->a[target] == NULL)
        return s;
    size_t r = (size_t)adapter->options.rank;
    size_t a_stride = r * (size_t)adapter->in_features[target];
    size_t b_stride = (size_t)adapter->out_features[target] * r;
    s.a = adapter->a[target] + (size_t)layer * a_stride;
    s.b = adapter->b[target] + (size_t)layer * b_stride;
    if (t->options.mode == TR_MODE_LORA)
        s.da = t->lora_grads.a[target] + (size_t)layer * a_stride;
    s.db = t->lora_grads.b[target] + (size_t)layer * b_stride;
    s.u = act(t, TR_A_LORA_U, layer) + (size_t)target * t->max_n * r;
    s.dropout_key = t->dropout_key + (uint64_t)(layer * LORA_TARGET_COUNT + target + 1) *
                                         0x9e3779b97f4a7c15ull;
    return s;
}

typedef struct dropout_args {
    float *out;
    const float *x;
    float p;
    uint64_t key;
} dropout_args;

static void dropout_range(void *context, int part, size_t begin, size_t end)
{
    const dropout_args *a = context;
    float keep_scale = 1.0f / (1.0f - a->p);
    (void)part;
    for (size_t i = begin; i < end; i++)
        a->out[i] = tr_rng_hash_uniform(a->key, i) >= a->p ? a->x[i] * keep_scale : 0.0f;
}

/* Writes dropout(x) (inverted dropout, scale 1/(1-p)) of x[n] to out; the mask depends on key. */
static void apply_dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    dropout_args args = {out, x, p, key};
    tr_parallel_for(n, dropout_range, &args);
}

/* ----------------------------------------------------------------------------
 * projection with LoRA: out[N,OC] = beta*out + inp W^T + bias + s * (drop(inp) A^T) B^T
 */

static void proj_forward(tr_trainer *t, float *out, const float *inp, int layer, int weight_id,
                         int bias_id, int target, int N, int C, int OC, float beta)
{
    const float *bias = bias_id >= 0 ? weight(t, bias_id, layer) : NULL;
    tr_matmul_forward(out, inp, weight(t, weight_id, layer), bias, N, C, OC, beta);
    lora_slice lora = lora_of(t, target, layer);
    if (lora.a == NULL)
        return;

    int r = t->adapter->options.rank;
    float p = t->adapter->options.dropout;
    const float *x = inp;
    if (t->training && p > 0.0f) {
        apply_dropout(t->acts[TR_S_DROPPED], inp, (size_t)N * C, p, lora.dropout_key);
        x = t->acts[TR_S_DROPPED];
    }
    tr_sgemm_narrow(CblasNoTrans, CblasTrans, N, r, C, 1.0f, x, C, lora.a, C, 0.0f, lora.u, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, r, t->adapter->scaling, lora.u,
                r, lora.b, r, 1.0f, out, OC);
}

/* dinp[N,C] = dinp_beta*dinp + gradient through W and the adapter; weight grads accumulate. */
static void proj_backward(tr_trainer *t, float *dinp, float dinp_beta, const float *dout,
                          const float *inp, int layer, int weight_id, int bias_id, int target,
                          int N, int C, int OC)
{
    float *dbias = bias_id >= 0 ? weight_grad(t, bias_id, layer) : NULL;
    tr_matmul_backward(dinp, weight_grad(t, weight_id, layer), dbias, dout, inp,
                       weight(t, weight_id, layer), N, C, OC, dinp_beta);
    lora_slice lora = lora_of(t, target, layer);
    if (lora.a == NULL)
        return;

    // step: dB += s * dout^T u and du = s * dout B
    int r = t->adapter->options.rank;
    float scaling = t->adapter->scaling;
    float *du = t->acts[TR_S_LORA_DU];
    tr_sgemm_narrow(CblasTrans, CblasNoTrans, OC, r, N, scaling, dout, OC, lora.u, r, 1.0f,
                    lora.db, r);
    tr_sgemm_narrow(CblasNoTrans, CblasNoTrans, N, r, OC, scaling, dout, OC, lora.b, r, 0.0f, du,
                    r);

    // step: dA += du^T drop(inp) and dinp += drop'(du A)
    float p = t->adapter->options.dropout;
    int dropping = t->training && p > 0.0f;
    const float *x = inp;
    if (dropping && lora.da != NULL) {
        apply_dropout(t->acts[TR_S_DROPPED], inp, (size_t)N * C, p, lora.dropout_key);
        x = t->acts[TR_S_DROPPED];
    }
    if (lora.da != NULL)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, C, N, 1.0f, du, r, x, C, 1.0f,
                    lora.da, C);
    if (!dropping) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, r, 1.0f, du, r, lora.a, C,
                    1.0f, dinp, C);
        return;
    }
    float *dx = t->acts[TR_S_DROPPED];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, r, 1.0f, du, r, lora.a, C, 0.0f,
                dx, C);
    apply_dropout(dx, dx, (size_t)N * C, p, lora.dropout_key);
    tr_add_inplace(dinp, dx, (size_t)N * C);
}

/* ----------------------------------------------------------------------------
 * one decoder layer
 */

typedef struct dims {
    int B, T, N, H, inter, nh, nkv, hd, QD, KVD;
} dims;

static dims dims_of(const tr_trainer *t, const tr_batch *batch)
{
    const tr_config *c = &t->model->config;
    dims d = {batch->B, batch->T, batch->B * batch->T, c->hidden_size, c->intermediate_size,
              c->num_heads, c->num_kv_heads, c->head_dim, c->num_heads * c->head_dim,
              c->num_kv_heads * c->head_dim};
    return d;
}

static void attention_block_forward(tr_trainer *t, const tr_batch *batch, int l, dims d)
{
    const tr_config *c = &t->model->config;
    float *ln1 = act(t, TR_A_LN1, l);
    float *q = act(t, TR_A_Q, l);
    float *k = act(t, TR_A_K, l);
    float *v = act(t, TR_A_V, l);

    // step: input norm
    tr_rmsnorm_forward(ln1, act(t, TR_A_LN1_RSTD, l), act(t, TR_A_RESID, l),
                       weight(t, TR_LN1, l), d.N, d.H, c->rms_norm_eps);

    // step: q, k, v projections (Qwen3 normalises q and k per head first)
    float *q_out = c->qk_norm ? act(t, TR_A_Q_RAW, l) : q;
    float *k_out = c->qk_norm ? act(t, TR_A_K_RAW, l) : k;
    proj_forward(t, q_out, ln1, l, TR_WQ, TR_BQ, LORA_Q, d.N, d.H, d.QD, 0.0f);
    proj_forward(t, k_out, ln1, l, TR_WK, TR_BK, LORA_K, d.N, d.H, d.KVD, 0.0f);
    proj_forward(t, v, ln1, l, TR_WV, TR_BV, LORA_V, d.N, d.H, d.KVD, 0.0f);
    if (c->qk_norm) {
        tr_rmsnorm_forward(q, act(t, TR_A_Q_RSTD, l), q_out, weight(t, TR_QNORM, l),
                           d.N * d.nh, d.hd, c->rms_norm_eps);
        tr_rmsnorm_forward(k, act(t, TR_A_K_RSTD, l), k_out, weight(t, TR_KNORM, l),
                           d.N * d.nkv, d.hd, c->rms_norm_eps);
    }

    // step: rotary position embedding
    tr_rope_forward(q, t->acts[TR_A_COS], t->acts[TR_A_SIN], d.N, d.nh, d.hd);
    tr_rope_forward(k, t->acts[TR_A_COS], t->acts[TR_A_SIN], d.N, d.nkv, d.hd);

    // step: attention, output projection and residual
    float *atty = act(t, TR_A_ATTY, l);
    tr_attention_forward(atty, act(t, TR_A_ATT, l), q, k, v, batch->segments, d.B, d.T, d.nh,
                         d.nkv, d.hd, c->sliding_window);
    float *hres = act(t, TR_A_HRES, l);
    memcpy(hres, act(t, TR_A_RESID, l), (size_t)d.N * d.H * sizeof(float));
    proj_forward(t, hres, atty, l, TR_WO, -1, LORA_O, d.N, d.QD, d.H, 1.0f);
}

static void mlp_block_forward(tr_trainer *t, int l, dims d)
{
    const tr_config *c = &t->model->config;
    float *ln2 = act(t, TR_A_LN2, l);
    float *gate = act(t, TR_A_GATE, l);
    float *up = act(t, TR_A_UP, l);
    float *hres = act(t, TR_A_HRES, l);

    tr_rmsnorm_forward(ln2, act(t, TR_A_LN2_RSTD, l), hres, weight(t, TR_LN2, l), d.N, d.H,
                       c->rms_norm_eps);
    proj_forward(t, gate, ln2, l, TR_WGATE, -1, LORA_GATE, d.N, d.H, d.inter, 0.0f);
    proj_forward(t, up, ln2, l, TR_WUP, -1, LORA_UP, d.N, d.H, d.inter, 0.0f);
    tr_swiglu_forward(t->acts[TR_S_ACT], gate, up, (size_t)d.N * d.inter);

    float *out = act(t, TR_A_RESID, l + 1);
    memcpy(out, hres, (size_t)d.N * d.H * sizeof(float));
    proj_forward(t, out, t->acts[TR_S_ACT], l, TR_WDOWN, -1, LORA_DOWN, d.N, d.inter, d.H, 1.0f);
}

void tr_model_forward(tr_trainer *t, const tr_batch *batch)
{
    const tr_model *m = t->model;
    const tr_config *c = &m->config;
    dims d = dims_of(t, batch);

    // step: token embedding and RoPE tables
    tr_embedding_forward(act(t, TR_A_RESID, 0), batch->tokens, m->params.tensor[TR_EMBED], d.N,
                         d.H);
    tr_rope_tables(t->acts[TR_A_COS], t->acts[TR_A_SIN], batch->positions, t->inv_freq, d.N,
                   d.hd / 2);

    // step: decoder layers
    for (int l = 0; l < c->num_layers; l++) {
        attention_block_forward(t, batch, l, d);
        mlp_block_forward(t, l, d);
    }

    // step: final norm and lm_head
    tr_rmsnorm_forward(t->acts[TR_A_LNF], t->acts[TR_A_LNF_RSTD],
                       act(t, TR_A_RESID, c->num_layers), m->params.tensor[TR_NORM], d.N, d.H,
                       c->rms_norm_eps);
    tr_matmul_forward(t->acts[TR_A_LOGITS], t->acts[TR_A_LNF], tr_model_lm_head(m), NULL, d.N,
                      d.H, c->vocab_size, 0.0f);
}

/* ----------------------------------------------------------------------------
 * backward, layer by layer in reverse; TR_S_DRES carries d(residual)
 */

static void mlp_block_backward(tr_trainer *t, int l, dims d)
{
    float *dres = t->acts[TR_S_DRES];
    float *dln = t->acts[TR_S_DLN];
    float *gate = act(t, TR_A_GATE, l);
    float *up = act(t, TR_A_UP, l);
    float *ln2 = act(t, TR_A_LN2, l);

    // step: down projection (recomputing its input)
    tr_swiglu_forward(t->acts[TR_S_ACT], gate, up, (size_t)d.N * d.inter);
    proj_backward(t, t->acts[TR_S_DACT], 0.0f, dres, t->acts[TR_S_ACT], l, TR_WDOWN, -1,
                  LORA_DOWN, d.N, d.inter, d.H);

    // step: swiglu, gate and up projections
    tr_swiglu_backward(t->acts[TR_S_DGATE], t->acts[TR_S_DUP], t->acts[TR_S_DACT], gate, up,
                       (size_t)d.N * d.inter);
    proj_backward(t, dln, 0.0f, t->acts[TR_S_DGATE], ln2, l, TR_WGATE, -1, LORA_GATE, d.N, d.H,
                  d.inter);
    proj_backward(t, dln, 1.0f, t->acts[TR_S_DUP], ln2, l, TR_WUP, -1, LORA_UP, d.N, d.H, d.inter);

    // step: post-attention norm, adding into the residual gradient
    tr_rmsnorm_backward(dres, weight_grad(t, TR_LN2, l), dln, act(t, TR_A_HRES, l),
                        weight(t, TR_LN2, l), act(t, TR_A_LN2_RSTD, l), d.N, d.H);
}

static void attention_block_backward(tr_trainer *t, int l, dims d)
{
    const tr_config *c = &t->model->config;
    float *dres = t->acts[TR_S_DRES];
    float *dln = t->acts[TR_S_DLN];
    float *dq = t->acts[TR_S_DQ];
    float *dk = t->acts[TR_S_DK];
    float *dv = t->acts[TR_S_DV];
    float *datty = t->acts[TR_S_DATTY];
    float *ln1 = act(t, TR_A_LN1, l);

    // step: output projection and attention
    proj_backward(t, datty, 0.0f, dres, act(t, TR_A_ATTY, l), l, TR_WO, -1, LORA_O, d.N, d.QD,
                  d.H);
    tr_attention_backward(dq, dk, dv, t->acts[TR_S_DATT], datty, act(t, TR_A_ATT, l),
                          act(t, TR_A_Q, l), act(t, TR_A_K, l), act(t, TR_A_V, l), d.B, d.T,
                          d.nh, d.nkv, d.hd);

    // step: RoPE and the Qwen3 q/k norms
    tr_rope_backward(dq, t->acts[TR_A_COS], t->acts[TR_A_SIN], d.N, d.nh, d.hd);
    tr_rope_backward(dk, t->acts[TR_A_COS], t->acts[TR_A_SIN], d.N, d.nkv, d.hd);
    if (c->qk_norm) {
        float *dq_raw = t->acts[TR_S_DQ_RAW];
        float *dk_raw = t->acts[TR_S_DK_RAW];
        memset(dq_raw, 0, (size_t)d.N * d.QD * sizeof(float));
        memset(dk_raw, 0, (size_t)d.N * d.KVD * sizeof(float));
        tr_rmsnorm_backward(dq_raw, weight_grad(t, TR_QNORM, l), dq, act(t, TR_A_Q_RAW, l),
                            weight(t, TR_QNORM, l), act(t, TR_A_Q_RSTD, l), d.N * d.nh, d.hd);
        tr_rmsnorm_backward(dk_raw, weight_grad(t, TR_KNORM, l), dk, act(t, TR_A_K_RAW, l),
                            weight(t, TR_KNORM, l), act(t, TR_A_K_RSTD, l), d.N * d.nkv, d.hd);
        dq = dq_raw;
        dk = dk_raw;
    }

    // step: q, k, v projections and the input norm
    proj_backward(t, dln, 0.0f, dq, ln1, l, TR_WQ, TR_BQ, LORA_Q, d.N, d.H, d.QD);
    proj_backward(t, dln, 1.0f, dk, ln1, l, TR_WK, TR_BK, LORA_K, d.N, d.H, d.KVD);
    proj_backward(t, dln, 1.0f, dv, ln1, l, TR_WV, TR_BV, LORA_V, d.N, d.H, d.KVD);
    tr_rmsnorm_backward(dres, weight_grad(t, TR_LN1, l), dln, act(t, TR_A_RESID, l),
                        weight(t, TR_LN1, l), act(t, TR_A_LN1_RSTD, l), d.N, d.H);
}

void tr_model_backward(tr_trainer *t, const tr_batch *batch)
{
    const tr_model *m = t->model;
    const tr_config *c = &m->config;
    dims d = dims_of(t, batch);
    int full = t->options.mode == TR_MODE_FULL;
    float *dres = t->acts[TR_S_DRES];

    // step: lm_head and final norm
    float *dlm_head = NULL;
    if (full)
        dlm_head = c->tie_word_embeddings ? t->param_grads.tensor[TR_EMBED]
                                          : t->param_grads.tensor[TR_LM_HEAD];
    tr_matmul_backward(t->acts[TR_S_DLN], dlm_head, NULL, t->acts[TR_A_LOGITS],
                       t->acts[TR_A_LNF], tr_model_lm_head(m), d.N, d.H, c->vocab_size, 0.0f);
    memset(dres, 0, (size_t)d.N * d.H * sizeof(float));
    tr_rmsnorm_backward(dres, full ? t->param_grads.tensor[TR_NORM] : NULL, t->acts[TR_S_DLN],
                        act(t, TR_A_RESID, c->num_layers), m->params.tensor[TR_NORM],
                        t->acts[TR_A_LNF_RSTD], d.N, d.H);

    // step: decoder layers in reverse
    for (int l = c->num_layers - 1; l >= 0; l--) {
        if (t->options.recompute) {
            /* Same inputs and dropout keys, so the same activations as the forward pass. */
            attention_block_forward(t, batch, l, d);
            mlp_block_forward(t, l, d);
        }
        mlp_block_backward(t, l, d);
        attention_block_backward(t, l, d);
    }

    // step: token embedding
    if (full)
        tr_embedding_backward(t->param_grads.tensor[TR_EMBED], dres, batch->tokens, d.N, d.H);
}
