/* Forward and backward kernels of the decoder (contracts in tr_ops.h). */
#include "tr_ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "tr_batch.h"

/* ----------------------------------------------------------------------------
 * matmul: out[N,OC] = inp[N,C] @ weight[OC,C]^T + bias
 */

void tr_matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int C, int OC, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C,
                beta, out, OC);
    if (bias == NULL)
        return;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * OC;
        for (int o = 0; o < OC; o++)
            row[o] += bias[o];
    }
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
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
        float sum = 0.0f;
        for (int n = 0; n < N; n++)
            sum += dout[(size_t)n * OC + o];
        dbias[o] += sum;
    }
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

void tr_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                        int C, float eps)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float sum = 0.0f;
        for (int c = 0; c < C; c++)
            sum += x[c] * x[c];
        float s = 1.0f / sqrtf(sum / (float)C + eps);
        for (int c = 0; c < C; c++)
            y[c] = x[c] * s * weight[c];
        rstd[n] = s;
    }
}

void tr_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const float *rstd, int N, int C)
{
    /* With xhat = x * rstd and g = dout * weight: dx = rstd * (g - xhat * mean(g * xhat)). */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float s = rstd[n];
        float dot = 0.0f;
        for (int c = 0; c < C; c++)
            dot += dy[c] * weight[c] * x[c] * s;
        dot /= (float)C;
        for (int c = 0; c < C; c++)
            dx[c] += s * (dy[c] * weight[c] - x[c] * s * dot);
    }
    if (dweight == NULL)
        return;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float sum = 0.0f;
        for (int n = 0; n < N; n++)
            sum += dout[(size_t)n * C + c] * inp[(size_t)n * C + c] * rstd[n];
        dweight[c] += sum;
    }
}

/* ----------------------------------------------------------------------------
 * rope: rotate pairs (i, i + hd/2) by position * inv_freq[i]
 */

void tr_rope_tables(float *cos_table, float *sin_table, const int32_t *positions,
                    const float *inv_freq, int N, int half)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < half; i++) {
            float angle = (float)positions[n] * inv_freq[i];
            cos_table[(size_t)n * half + i] = cosf(angle);
            sin_table[(size_t)n * half + i] = sinf(angle);
        }
    }
}

static void rope_rotate(float *x, const float *cos_table, const float *sin_table, int N,
                        int heads, int hd, float direction)
{
    int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *cs = cos_table + (size_t)n * half;
        const float *sn = sin_table + (size_t)n * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + ((size_t)n * heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float a = v[i];
                float b = v[i + half];
                float s = direction * sn[i];
                v[i] = a * cs[i] - b * s;
                v[i + half] = b * cs[i] + a * s;
            }
        }
    }
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

void tr_attention_forward(float *out, float *att, const float *q, const float *k,
                          const float *v, const int32_t *segments, int B, int T, int nh,
                          int nkv, int hd, int window)
{
    int QD = nh * hd;
    int KVD = nkv * hd;
    int group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++) {
        const int32_t *seg = segments + (size_t)b * T;
        for (int h = 0; h < nh; h++) {
            const float *qh = q + (size_t)b * T * QD + (size_t)h * hd;
            const float *kh = k + (size_t)b * T * KVD + (size_t)(h / group) * hd;
            const float *vh = v + (size_t)b * T * KVD + (size_t)(h / group) * hd;
            float *p = att + ((size_t)b * nh + h) * T * T;

            // step: scores
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, qh, QD, kh,
                        KVD, 0.0f, p, T);

            // step: masked softmax per row
#pragma omp parallel for schedule(static)
            for (int t = 0; t < T; t++) {
                float *row = p + (size_t)t * T;
                float max = -INFINITY;
                for (int s = 0; s <= t; s++) {
                    if (attends(seg, t, s, window) && row[s] > max)
                        max = row[s];
                }
                float sum = 0.0f;
                for (int s = 0; s < T; s++) {
                    float e = attends(seg, t, s, window) ? expf(row[s] - max) : 0.0f;
                    row[s] = e;
                    sum += e;
                }
                float inverse = 1.0f / sum;
                for (int s = 0; s <= t; s++)
                    row[s] *= inverse;
            }

            // step: weighted sum of values
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, p, T, vh,
                        KVD, 0.0f, out + (size_t)b * T * QD + (size_t)h * hd, QD);
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
            float *dp = scratch;

            // step: dp = dout v^T and dv += p^T dout
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f,
                        dout + q_offset, QD, v + kv_offset, KVD, 0.0f, dp, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, p, T,
                        dout + q_offset, QD, 1.0f, dv + kv_offset, KVD);

            // step: softmax backward, ds = p * (dp - sum(p * dp)); masked entries have p = 0
#pragma omp parallel for schedule(static)
            for (int t = 0; t < T; t++) {
                const float *prow = p + (size_t)t * T;
                float *row = dp + (size_t)t * T;
                float dot = 0.0f;
                for (int s = 0; s <= t; s++)
                    dot += prow[s] * row[s];
                for (int s = 0; s < T; s++)
                    row[s] = prow[s] * (row[s] - dot);
            }

            // step: dq = scale * ds k and dk += scale * ds^T q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, dp, T,
                        k + kv_offset, KVD, 0.0f, dq + q_offset, QD);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, dp, T,
                        q + q_offset, QD, 1.0f, dk + kv_offset, KVD);
        }
    }
}

/* ----------------------------------------------------------------------------
 * swiglu: out = silu(gate) * up, silu(x) = x * sigmoid(x)
 */

void tr_swiglu_forward(float *out, const float *gate, const float *up, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void tr_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + expf(-g));
        float silu = g * sig;
        dup[i] = dout[i] * silu;
        dgate[i] = dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

/* ----------------------------------------------------------------------------
 * embedding
 */

void tr_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int C)
{
#pragma omp parallel for schedule(static)
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

double tr_crossentropy_forward_backward(float *logits, float *losses, const int32_t *targets,
                                        int N, int V, float grad_scale)
{
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int n = 0; n < N; n++) {
        float *row = logits + (size_t)n * V;
        int target = targets[n];
        if (target == TR_IGNORE_INDEX) {
            memset(row, 0, (size_t)V * sizeof(float));
            losses[n] = 0.0f;
            continue;
        }
        float max = -INFINITY;
        for (int i = 0; i < V; i++)
            max = row[i] > max ? row[i] : max;
        float target_shifted = row[target] - max;
        double sum = 0.0;
        for (int i = 0; i < V; i++) {
            float e = expf(row[i] - max);
            row[i] = e;
            sum += e;
        }
        float inverse = (float)(1.0 / sum);
        for (int i = 0; i < V; i++)
            row[i] *= inverse * grad_scale;
        row[target] -= grad_scale;
        float loss = (float)(log(sum) - (double)target_shifted);
        losses[n] = loss;
        total += loss;
    }
    return total;
}

void tr_add_inplace(float *dst, const float *src, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}
