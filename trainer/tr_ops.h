/*
 * tr_ops.h - forward and backward kernels of the decoder, one pair per
 * operation, written as llm.c writes them: outputs first, then inputs, then
 * sizes. N is the number of token positions (B*T). Backward kernels
 * accumulate (+=) into parameter gradients; whether they overwrite or
 * accumulate activation gradients is stated per kernel.
 *
 * Matrix products go through cblas_sgemm; the _ref variants are plain loops
 * kept for tests. Element-wise loops run in parallel on the threads of tr_pool.h.
 */
#ifndef TR_OPS_H
#define TR_OPS_H

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>

/* out[N,OC] = beta*out + inp[N,C] @ weight[OC,C]^T + bias[OC] (bias may be NULL). */
void tr_matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int C, int OC, float beta);
void tr_matmul_forward_ref(float *out, const float *inp, const float *weight,
                           const float *bias, int N, int C, int OC, float beta);

/*
 * Computes row-major C[m,n] = alpha * op(A) op(B) + beta * C as cblas_sgemm does, for an
 * output with few columns (n about a LoRA rank). Each pool thread runs a single-threaded
 * sgemm on a block of C's rows. On 2 cores, in a microbenchmark with the shapes of a
 * rank-16 adapter of a 0.5B model, this was 1.2 to 1.8 times as fast as OpenBLAS's own
 * threads. OpenBLAS runs one thread for the duration, so no other thread may call it then.
 */
void tr_sgemm_narrow(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc);

/*
 * dinp[N,C] = dinp_beta*dinp + dout[N,OC] @ weight[OC,C]; dweight[OC,C] += dout^T @ inp;
 * dbias[OC] += column sums of dout. NULL outputs are skipped.
 */
void tr_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C, int OC,
                        float dinp_beta);
void tr_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int C, int OC,
                            float dinp_beta);

/* out[N,C] = inp * rsqrt(mean(inp^2) + eps) * weight[C]; rstd[N] keeps the scale. */
void tr_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                        int C, float eps);
/* dinp[N,C] += ...; dweight[C] += ... (dweight may be NULL). */
void tr_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const float *rstd, int N, int C);

/* cos, sin [N, hd/2] of position * inv_freq for each token. */
void tr_rope_tables(float *cos_table, float *sin_table, const int32_t *positions,
                    const float *inv_freq, int N, int half);
/* Rotates x[N, heads*hd] in place, pairing dimension i with i + hd/2 (Hugging Face layout). */
void tr_rope_forward(float *x, const float *cos_table, const float *sin_table, int N, int heads,
                     int hd);
/* Applies the inverse rotation to the gradient dx[N, heads*hd] in place. */
void tr_rope_backward(float *dx, const float *cos_table, const float *sin_table, int N,
                      int heads, int hd);

/*
 * Causal attention within segments: out[B*T, nh*hd], att[B, nh, T, T] the
 * probabilities; q[B*T, nh*hd], k and v [B*T, nkv*hd]. Position t attends to
 * s <= t with segments[s] == segments[t] (and t - s < window when window > 0).
 */
void tr_attention_forward(float *out, float *att, const float *q, const float *k,
                          const float *v, const int32_t *segments, int B, int T, int nh,
                          int nkv, int hd, int window);
/* Overwrites dq, dk, dv; scratch has room for T*T floats per (b, h) pair. */
void tr_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int nh, int nkv, int hd);

/* out[n] = silu(gate) * up. */
void tr_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
/* Overwrites dgate and dup. */
void tr_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, size_t n);

/* out[N,C] = table[tokens[n]]. */
void tr_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int C);
/* dtable[tokens[n]] += dout[n]. */
void tr_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N,
                           int C);

/*
 * Cross-entropy of logits[N,V] against targets (TR_IGNORE_INDEX rows skipped),
 * fused with its backward: logits are replaced by grad_scale * (softmax -
 * one_hot), and by 0 on ignored rows. losses[N] gets each row's loss (0 when
 * ignored). Returns the sum of the losses.
 */
double tr_crossentropy_forward_backward(float *logits, float *losses, const int32_t *targets,
                                        int N, int V, float grad_scale);

/* Adds src to dst, n floats. */
void tr_add_inplace(float *dst, const float *src, size_t n);

#endif
