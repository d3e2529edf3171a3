/* Forward and backward kernels of the decoder (contracts in tr_ops.h). */
#include "tr_ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "tr_batch.h"
#include "tr_math.h"
#include "tr_pool.h"

/* ----------------------------------------------------------------------------
 * matmul: out[N,OC] = inp[N,C] @ weight[OC,C]^T + bias
 */

typedef struct bias_args {
    float *out;
    const float *bias;
    int OC;
} bias_args;

static void add_bias_rows(void *context, int part, size_t begin, size_t end)
{
    const bias_args *a = context;
    (void)part;
    for (size_t n = begin; n < end; n++) {
        float *row = a->out + n * (size_t)a->OC;
        for (int o = 0; o < a->OC; o++)
            row[o] += a->bias[o];
    }
}

typedef struct bias_grad_args {
    float *dbias;
    const float *dout;
    int N, OC;
} bias_grad_args;

static void sum_bias_columns(void *context, int part, size_t begin, size_t end)
{
    const bias_grad_args *a = context;
    (void)part;
    for (size_t o = begin; o < end; o++) {
        float sum = 0.0f;
        for (int n = 0; n < a->N; n++)
            sum += a->dout[(size_t)n * a->OC + o];
        a->dbias[o] += sum;
    }
}

void tr_matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int C, int OC, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C,
                beta, out, OC);
    if (bias == NULL)
        return;
    bias_args args = {out, bias, OC};
    tr_parallel_for((size_t)N, add_bias_rows, &args);
}

void tr_matmul_forward_ref(float *out, const float *inp, const float *weight,
                           const float *bias, int N, int C, int OC, float beta)
{
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            double sum = bias != NULL ? bias[o] : 0.0;
            for (int c = 0; c < C; c++)
                sum += (double)inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            float *slot = &out[(size_t)n * OC + o];
            *slot = (float)(beta == 0.0f ? sum : beta * *slot + sum);
        }
    }
}

void tr_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C, int OC,
                        float dinp_beta)
{
    if (dinp != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight,
                    C, dinp_beta, dinp, C);
    if (dweight != NULL)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                    1.0f, dweight, C);
    if (dbias == NULL)
        return;
    bias_grad_args args = {dbias, dout, N, OC};
    tr_parallel_for((size_t)OC, sum_bias_columns, &args);
}

void tr_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int C, int OC,
                            float dinp_beta)
{
    for (int n = 0; n < N && dinp != NULL; n++) {
        for (int c = 0; c < C; c++) {
            double sum = 0.0;
            for (int o = 0; o < OC; o++)
                sum += (double)dout[(size_t)n * OC + o] * weight[(size_t)o * C + c];
            float *slot = &dinp[(size_t)n * C + c];
            *slot = (float)(dinp_beta == 0.0f ? sum : dinp_beta * *slot + sum);
        }
    }
    for (int o = 0; o < OC; o++) {
        for (int c = 0; c < C && dweight != NULL; c++) {
            double sum = 0.0;
            for (int n = 0; n < N; n++)
                sum += (double)dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
            dweight[(size_t)o * C + c] += (float)sum;
        }
        if (dbias != NULL) {
            double sum = 0.0;
            for (int n = 0; n < N; n++)
                sum += dout[(size_t)n * OC + o];
            dbias[o] += (float)sum;
        }
    }
}

/* ----------------------------------------------------------------------------
 * rmsnorm: out = inp * rstd * weight, rstd = 1 / sqrt(mean(inp^2) + eps)
 */

typedef struct rmsnorm_args {
    float *out;   /* forward: out; backward: dinp */
    float *rstd;
    float *dweight;
    const float *inp;
    const float *dout;
    const float *weight;
    const float *saved_rstd;
    int N, C;
    float eps;
} rmsnorm_args;

TR_VECTOR_CLONES
static void rmsnorm_rows(void *context, int part, size_t begin, size_t end)
{
    const rmsnorm_args *a = context;
    int C = a->C;
    (void)part;
    for (size_t n = begin; n < end; n++) {
        const float *x = a->inp + n * C;
        float *y = a->out + n * C;
        float sum = 0.0f;
        for (int c = 0; c < C; c++)
            sum += x[c] * x[c];
        float s = 1.0f / sqrtf(sum / (float)C + a->eps);
        for (int c = 0; c < C; c++)
            y[c] = x[c] * s * a->weight[c];
        a->rstd[n] = s;
    }
}

void tr_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                        int C, float eps)
{
    rmsnorm_args args = {.out = out, .rstd = rstd, .inp = inp, .weight = weight, .N = N, .C = C,
                         .eps = eps};
    tr_parallel_for((size_t)N, rmsnorm_rows, &args);
}

/* With xhat = x * rstd and g = dout * weight: dx = rstd * (g - xhat * mean(g * xhat)). */
TR_VECTOR_CLONES
static void rmsnorm_backward_rows(void *context, int part, size_t begin, size_t end)
{
    const rmsnorm_args *a = context;
    int C = a->C;
    (void)part;
    for (size_t n = begin; n < end; n++) {
        const float *x = a->inp + n * C;
        const float *dy = a->dout + n * C;
        float *dx = a->out + n * C;
        float s = a->saved_rstd[n];
        float dot = 0.0f;
        for (int c = 0; c < C; c++)
            dot += dy[c] * a->weight[c] * x[c] * s;
        dot /= (float)C;
        for (int c = 0; c < C; c++)
            dx[c] += s * (dy[c] * a->weight[c] - x[c] * s * dot);
    }
}

static void rmsnorm_weight_grad_columns(void *context, int part, size_t begin, size_t end)
{
    const rmsnorm_args *a = context;
    int C = a->C;
    (void)part;
    for (size_t c = begin; c < end; c++) {
        float sum = 0.0f;
        for (int n = 0; n < a->N; n++)
            sum += a->dout[(size_t)n * C + c] * a->inp[(size_t)n * C + c] * a->saved_rstd[n];
        a->dweight[c] += sum;
    }
}

void tr_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const float *rstd, int N, int C)
{
    rmsnorm_args args = {.out = dinp, .dweight = dweight, .inp = inp, .dout = dout,
                         .weight = weight, .saved_rstd = rstd, .N = N, .C = C};
    tr_parallel_for((size_t)N, rmsnorm_backward_rows, &args);
    if (dweight != NULL)
        tr_parallel_for((size_t)C, rmsnorm_weight_grad_columns, &args);
}

/* ----------------------------------------------------------------------------
 * rope: rotate pairs (i, i + hd/2) by position * inv_freq[i]
 */

void tr_rope_tables(float *cos_table, float *sin_table, const int32_t *positions,
                    const float *inv_freq, int N, int half)
{
    /* Once per batch, so it stays serial. */
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < half; i++) {
            float angle = (float)positions[n] * inv_freq[i];
            cos_table[(size_t)n * half + i] = cosf(angle);
            sin_table[(size_t)n * half + i] = sinf(angle);
        }
    }
}

typedef struct rope_args {
    float *x;
    const float *cos_table;
    const float *sin_table;
    int heads, hd;
    float direction;
} rope_args;

TR_VECTOR_CLONES
static void rope_rows(void *context, int part, size_t begin, size_t end)
{
    const rope_args *a = context;
    int half = a->hd / 2;
    (void)part;
    for (size_t n = begin; n < end; n++) {
        const float *cs = a->cos_table + n * half;
        const float *sn = a->sin_table + n * half;
        for (int h = 0; h < a->heads; h++) {
            float *v = a->x + (n * a->heads + h) * a->hd;
            for (int i = 0; i < half; i++) {
                float x1 = v[i];
                float x2 = v[i + half];
                float s = a->direction * sn[i];
                v[i] = x1 * cs[i] - x2 * s;
                v[i + half] = x2 * cs[i] + x1 * s;
            }
        }
    }
}

static void rope_rotate(float *x, const float *cos_table, const float *sin_table, int N,
                        int heads, int hd, float direction)
{
    rope_args args = {x, cos_table, sin_table, heads, hd, direction};
    tr_parallel_for((size_t)N, rope_rows, &args);
}

void tr_rope_forward(float *x, const float *cos_table, const float *sin_table, int N, int heads,
                     int hd)
{
    rope_rotate(x, cos_table, sin_table, N, heads, hd, 1.0f);
}

void tr_rope_backward(float *dx, const float *cos_table, const float *sin_table, int N,
                      int heads, int hd)
{
    /* The rotation is orthogonal, so its gradient is the rotation by -angle. */
    rope_rotate(dx, cos_table, sin_table, N, heads, hd, -1.0f);
}

/* ----------------------------------------------------------------------------
 * attention: softmax(q k^T / sqrt(hd) + mask) v per head, kv heads shared by groups
 */

static int attends(const int32_t *segments, int t, int s, int window)
{
    return s <= t && segments[s] == segments[t] && (window <= 0 || t - s < window);
}

/*
 * Queries are processed in blocks of TR_ATTENTION_BLOCK rows. A block only
 * needs the keys up to its last row, so about half of the dense T x T
 * products are skipped. Entries of att right of a block's keys are never
 * written or read.
 */
#define TR_ATTENTION_BLOCK 128

typedef struct softmax_args {
    float *p;           /* [T, T] scores in, probabilities (forward) or ds (backward) out */
    const int32_t *seg; /* forward: segments of the row */
    const float *probs; /* backward: probabilities */
    int T, window;
    int row0;           /* first row of the block */
    int keys;           /* columns in use: [0, keys) */
} softmax_args;

TR_VECTOR_CLONES
static void masked_softmax_rows(void *context, int part, size_t begin, size_t end)
{
    const softmax_args *a = context;
    (void)part;
    for (int t = a->row0 + (int)begin; t < a->row0 + (int)end; t++) {
        float *row = a->p + (size_t)t * a->T;
        float max = -INFINITY;
        for (int s = 0; s <= t; s++) {
            if (attends(a->seg, t, s, a->window) && row[s] > max)
                max = row[s];
        }
        for (int s = 0; s <= t; s++)
            row[s] = attends(a->seg, t, s, a->window) ? tr_expf(row[s] - max) : 0.0f;
        float sum = 0.0f;
        for (int s = 0; s <= t; s++)
            sum += row[s];
        float inverse = 1.0f / sum;
        for (int s = 0; s <= t; s++)
            row[s] *= inverse;
        for (int s = t + 1; s < a->keys; s++)
            row[s] = 0.0f;
    }
}

/* ds = p * (dp - sum(p * dp)); masked entries have p = 0. */
TR_VECTOR_CLONES
static void softmax_backward_rows(void *context, int part, size_t begin, size_t end)
{
    const softmax_args *a = context;
    (void)part;
    for (int t = a->row0 + (int)begin; t < a->row0 + (int)end; t++) {
        const float *prow = a->probs + (size_t)t * a->T;
        float *row = a->p + (size_t)t * a->T;
        float dot = 0.0f;
        for (int s = 0; s <= t; s++)
            dot += prow[s] * row[s];
        for (int s = 0; s < a->keys; s++)
            row[s] = prow[s] * (row[s] - dot);
    }
}

void tr_attention_forward(float *out, float *att, const float *q, const float *k,
                          const float *v, const int32_t *segments, int B, int T, int nh,
                          int nkv, int hd, int window)
{
    int QD = nh * hd;
    int KVD = nkv * hd;
    int group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < nh; h++) {
            const float *qh = q + (size_t)b * T * QD + (size_t)h * hd;
            const float *kh = k + (size_t)b * T * KVD + (size_t)(h / group) * hd;
            const float *vh = v + (size_t)b * T * KVD + (size_t)(h / group) * hd;
            float *p = att + ((size_t)b * nh + h) * T * T;
            float *oh = out + (size_t)b * T * QD + (size_t)h * hd;
            for (int row0 = 0; row0 < T; row0 += TR_ATTENTION_BLOCK) {
                int rows = T - row0 < TR_ATTENTION_BLOCK ? T - row0 : TR_ATTENTION_BLOCK;
                int keys = row0 + rows;
                float *block = p + (size_t)row0 * T;

                // step: scores of the block against keys [0, keys)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hd, scale,
                            qh + (size_t)row0 * QD, QD, kh, KVD, 0.0f, block, T);

                // step: masked softmax per row
                softmax_args args = {.p = p, .seg = segments + (size_t)b * T, .T = T,
                                     .window = window, .row0 = row0, .keys = keys};
                tr_parallel_for((size_t)rows, masked_softmax_rows, &args);

                // step: weighted sum of values
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, keys, 1.0f,
                            block, T, vh, KVD, 0.0f, oh + (size_t)row0 * QD, QD);
            }
        }
    }
}

void tr_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int nh, int nkv, int hd)
{
    int QD = nh * hd;
    int KVD = nkv * hd;
    int group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    memset(dk, 0, (size_t)B * T * KVD * sizeof(float));
    memset(dv, 0, (size_t)B * T * KVD * sizeof(float));
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < nh; h++) {
            size_t q_offset = (size_t)b * T * QD + (size_t)h * hd;
            size_t kv_offset = (size_t)b * T * KVD + (size_t)(h / group) * hd;
            const float *p = att + ((size_t)b * nh + h) * T * T;
            for (int row0 = 0; row0 < T; row0 += TR_ATTENTION_BLOCK) {
                int rows = T - row0 < TR_ATTENTION_BLOCK ? T - row0 : TR_ATTENTION_BLOCK;
                int keys = row0 + rows;
                const float *pblock = p + (size_t)row0 * T;
                float *dp = scratch + (size_t)row0 * T;
                const float *dout_block = dout + q_offset + (size_t)row0 * QD;

                // step: dp = dout v^T and dv += p^T dout
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hd, 1.0f,
                            dout_block, QD, v + kv_offset, KVD, 0.0f, dp, T);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, hd, rows, 1.0f,
                            pblock, T, dout_block, QD, 1.0f, dv + kv_offset, KVD);

                // step: softmax backward
                softmax_args args = {.p = scratch, .probs = p, .T = T, .row0 = row0,
                                     .keys = keys};
                tr_parallel_for((size_t)rows, softmax_backward_rows, &args);

                // step: dq = scale * ds k and dk += scale * ds^T q
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, keys, scale, dp,
                            T, k + kv_offset, KVD, 0.0f, dq + q_offset + (size_t)row0 * QD, QD);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, hd, rows, scale, dp, T,
                            q + q_offset + (size_t)row0 * QD, QD, 1.0f, dk + kv_offset, KVD);
            }
        }
    }
}

/* ----------------------------------------------------------------------------
 * swiglu: out = silu(gate) * up, silu(x) = x * sigmoid(x)
 */

typedef struct swiglu_args {
    float *out;   /* forward: out; backward: dgate */
    float *dup;
    const float *dout;
    const float *gate;
    const float *up;
} swiglu_args;

TR_VECTOR_CLONES
static void swiglu_range(void *context, int part, size_t begin, size_t end)
{
    const swiglu_args *a = context;
    (void)part;
    for (size_t i = begin; i < end; i++) {
        float g = a->gate[i];
        a->out[i] = g / (1.0f + tr_expf(-g)) * a->up[i];
    }
}

TR_VECTOR_CLONES
static void swiglu_backward_range(void *context, int part, size_t begin, size_t end)
{
    const swiglu_args *a = context;
    (void)part;
    for (size_t i = begin; i < end; i++) {
        float g = a->gate[i];
        float sig = tr_sigmoidf(g);
        float silu = g * sig;
        a->dup[i] = a->dout[i] * silu;
        a->out[i] = a->dout[i] * a->up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

void tr_swiglu_forward(float *out, const float *gate, const float *up, size_t n)
{
    swiglu_args args = {.out = out, .gate = gate, .up = up};
    tr_parallel_for(n, swiglu_range, &args);
}

void tr_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, size_t n)
{
    swiglu_args args = {dgate, dup, dout, gate, up};
    tr_parallel_for(n, swiglu_backward_range, &args);
}

/* ----------------------------------------------------------------------------
 * embedding
 */

void tr_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int C)
{
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, table + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
}

void tr_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N,
                           int C)
{
    /* Serial, because several positions may share a token row. */
    for (int n = 0; n < N; n++) {
        float *row = dtable + (size_t)tokens[n] * C;
        const float *d = dout + (size_t)n * C;
        for (int c = 0; c < C; c++)
            row[c] += d[c];
    }
}

/* ----------------------------------------------------------------------------
 * cross-entropy fused with its backward
 */

typedef struct crossentropy_args {
    float *logits;
    float *losses;
    const int32_t *targets;
    int V;
    float grad_scale;
    double partial[TR_POOL_MAX_THREADS];
} crossentropy_args;

/*
 * The row loops keep TR_LANES independent partial results, so the compiler
 * can put them in one vector register. The sum of the exponentials goes
 * into a double every TR_LANES * 64 entries.
 */
#define TR_LANES 16

TR_VECTOR_CLONES
static float row_max(const float *row, int V)
{
    float lanes[TR_LANES];
    for (int j = 0; j < TR_LANES; j++)
        lanes[j] = -INFINITY;
    int i = 0;
    for (; i + TR_LANES <= V; i += TR_LANES)
        for (int j = 0; j < TR_LANES; j++)
            lanes[j] = row[i + j] > lanes[j] ? row[i + j] : lanes[j];
    float max = -INFINITY;
    for (int j = 0; j < TR_LANES; j++)
        max = lanes[j] > max ? lanes[j] : max;
    for (; i < V; i++)
        max = row[i] > max ? row[i] : max;
    return max;
}

/* Replaces row[i] with e^(row[i] - max) and returns the sum of the exponentials. */
TR_VECTOR_CLONES
static double row_exp_sum(float *row, int V, float max)
{
    double sum = 0.0;
    int i = 0;
    while (i + TR_LANES <= V) {
        float lanes[TR_LANES] = {0};
        int end = i + 64 * TR_LANES < V ? i + 64 * TR_LANES : V;
        for (; i + TR_LANES <= end; i += TR_LANES) {
            for (int j = 0; j < TR_LANES; j++) {
                row[i + j] = tr_expf(row[i + j] - max);
                lanes[j] += row[i + j];
            }
        }
        for (int j = 0; j < TR_LANES; j++)
            sum += lanes[j];
    }
    for (; i < V; i++) {
        row[i] = tr_expf(row[i] - max);
        sum += row[i];
    }
    return sum;
}

TR_VECTOR_CLONES
static void crossentropy_rows(void *context, int part, size_t begin, size_t end)
{
    crossentropy_args *a = context;
    int V = a->V;
    double total = 0.0;
    for (size_t n = begin; n < end; n++) {
        float *row = a->logits + n * V;
        int target = a->targets[n];
        if (target == TR_IGNORE_INDEX) {
            memset(row, 0, (size_t)V * sizeof(float));
            a->losses[n] = 0.0f;
            continue;
        }
        float max = row_max(row, V);
        float target_shifted = row[target] - max;
        double sum = row_exp_sum(row, V, max);
        float scale = (float)(1.0 / sum) * a->grad_scale;
        for (int i = 0; i < V; i++)
            row[i] *= scale;
        row[target] -= a->grad_scale;
        float loss = (float)(log(sum) - (double)target_shifted);
        a->losses[n] = loss;
        total += loss;
    }
    a->partial[part] = total;
}

double tr_crossentropy_forward_backward(float *logits, float *losses, const int32_t *targets,
                                        int N, int V, float grad_scale)
{
    crossentropy_args args = {.logits = logits, .losses = losses, .targets = targets, .V = V,
                              .grad_scale = grad_scale};
    tr_parallel_for((size_t)N, crossentropy_rows, &args);
    double total = 0.0;
    for (int part = 0; part < tr_pool_threads(); part++)
        total += args.partial[part];
    return total;
}

typedef struct add_args {
    float *dst;
    const float *src;
} add_args;

TR_VECTOR_CLONES
static void add_range(void *context, int part, size_t begin, size_t end)
{
    const add_args *a = context;
    (void)part;
    for (size_t i = begin; i < end; i++)
        a->dst[i] += a->src[i];
}

void tr_add_inplace(float *dst, const float *src, size_t n)
{
    add_args args = {dst, src};
    tr_parallel_for(n, add_range, &args);
}
