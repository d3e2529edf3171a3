/*
 * fc_quant.h - fixed-point quantisation of update vectors for masked sums.
 *
 * A value x is clipped to [-B, B], scaled by Q / B with Q = 2^(bits-1) - 1,
 * and rounded stochastically to an integer q in [-Q, Q] with E[q] = x Q / B
 * (unbiased). A site with weight w (for example its example count, capped at
 * weight_max) sends w (q + Q), which lies in [0, 2 Q w], plus w itself as one
 * more element. Sums are taken modulo R = 2^k, the smallest power of two
 * above n_sites * weight_max * 2Q, so the sum of up to n_sites inputs never
 * wraps; a configuration that needs k > 32 is rejected. The weighted mean is
 * (S_i - Q W) / (W Q / B) with W the summed weights: dequantise after summing.
 */
#ifndef FC_QUANT_H
#define FC_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

#define FC_QUANT_SEED_BYTES 32
#define FC_QUANT_MIN_BITS 2
#define FC_QUANT_MAX_BITS 31

/* Settings shared by all sites of a round. */
typedef struct fc_quant_params {
    uint32_t n_sites;    /* most inputs that are ever summed */
    uint32_t bits;       /* bits per quantised value, sign included */
    double clip_bound;   /* B: values are clipped to [-B, B] */
    uint32_t weight_max; /* largest weight a site may send; 1 for a plain sum */
} fc_quant_params;

/* Validated parameters and the numbers derived from them. */
typedef struct fc_quant {
    fc_quant_params params;
    uint32_t level_max;     /* Q = 2^(bits-1) - 1 */
    double scale;           /* Q / B: quantisation levels per unit of value */
    uint32_t modulus_bits;  /* k in R = 2^k */
    uint32_t modulus_mask;  /* R - 1: sums are reduced with & modulus_mask */
} fc_quant;

/*
 * Validates params and fills q. Returns FL_OK, FL_EINVAL for a value out of
 * range, or FL_EOVERFLOW when n_sites * weight_max * 2Q does not fit in 32
 * bits; err names the parameter, its value and the largest value that fits.
 */
int fc_quant_init(fc_quant *q, const fc_quant_params *params, fl_error *err) FL_WARN_UNUSED;

/* Returns the quantisation step B / Q, the value of one level. */
double fc_quant_step(const fc_quant *q);

/* Returns how many of count values fall outside [-clip_bound, clip_bound], so clipping changes them. */
uint64_t fc_quant_count_clipped(const float *values, size_t count, double clip_bound);

/*
 * Quantises count values, the elements first_index.. of a vector, into out
 * as w (q + Q). The rounding noise is word first_index + i of the ChaCha20
 * stream keyed by seed, so chunks give the same result in any order. Adds
 * the number of values that clipping changed to *clipped. Returns FL_EINVAL
 * (naming the element) for NaN or infinity, FL_ERANGE for weight > weight_max.
 */
int fc_quant_encode(uint32_t *out, uint64_t *clipped, const float *values, size_t count,
                    uint64_t first_index, uint32_t weight,
                    const uint8_t seed[FC_QUANT_SEED_BYTES], const fc_quant *q,
                    fl_error *err) FL_WARN_UNUSED;

/*
 * Writes the weighted mean sum_u w_u x_u / sum_u w_u of count elements from
 * their summed encodings and weight_sum (the summed weight element). Returns
 * FL_EINVAL when weight_sum is 0 or an element is not a possible sum.
 */
int fc_quant_decode_mean(float *out, const uint32_t *sums, size_t count, uint64_t weight_sum,
                         const fc_quant *q, fl_error *err) FL_WARN_UNUSED;

/* Writes the weighted sum sum_u w_u x_u instead of the mean; otherwise as above. */
int fc_quant_decode_sum(float *out, const uint32_t *sums, size_t count, uint64_t weight_sum,
                        const fc_quant *q, fl_error *err) FL_WARN_UNUSED;

#endif
