/* Clipping, stochastic rounding and dequantisation for masked sums. */
#include "fc_quant.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "fc_stream.h"

/* Rounding noise comes from its own stream so it never equals a mask stream. */
static const uint8_t s_rounding_nonce[FC_STREAM_NONCE_BYTES] = "fc-quantise";

int fc_quant_init(fc_quant *q, const fc_quant_params *params, fl_error *err)
{
    if (params->n_sites < 1)
        return fl_error_set(err, FL_EINVAL, "n_sites is 0; a sum needs at least one site");
    if (params->bits < FC_QUANT_MIN_BITS || params->bits > FC_QUANT_MAX_BITS)
        return fl_error_set(err, FL_EINVAL,
                            "bits is %" PRIu32 ", outside [%d, %d]; choose a width in that "
                            "range (16 is common)",
                            params->bits, FC_QUANT_MIN_BITS, FC_QUANT_MAX_BITS);
    if (!isfinite(params->clip_bound) || params->clip_bound <= 0)
        return fl_error_set(err, FL_EINVAL,
                            "clip_bound is %g; it must be a finite value above 0", params->clip_bound);
    if (params->weight_max < 1)
        return fl_error_set(err, FL_EINVAL,
                            "weight_max is 0; use 1 for a plain sum or the cap on a site's "
                            "example count for a weighted mean");

    uint64_t level_max = ((uint64_t)1 << (params->bits - 1)) - 1;
    unsigned __int128 largest_sum =
        (unsigned __int128)params->n_sites * params->weight_max * (2 * level_max);
    if (largest_sum > UINT32_MAX) {
        uint64_t weight_fits = UINT32_MAX / ((uint64_t)params->n_sites * 2 * level_max);
        return fl_error_set(err, FL_EOVERFLOW,
                            "n_sites %" PRIu32 " x weight_max %" PRIu32 " x 2^%" PRIu32
                            " levels can exceed 2^32, so the masked sum could wrap; lower "
                            "weight_max to at most %" PRIu64 " or lower bits",
                            params->n_sites, params->weight_max, params->bits, weight_fits);
    }

    uint32_t modulus_bits = 1;
    while (modulus_bits < 32 && ((uint64_t)1 << modulus_bits) <= (uint64_t)largest_sum)
        modulus_bits++;

    q->params = *params;
    q->level_max = (uint32_t)level_max;
    q->scale = (double)level_max / params->clip_bound;
    q->modulus_bits = modulus_bits;
    q->modulus_mask = modulus_bits == 32 ? UINT32_MAX : (uint32_t)((1u << modulus_bits) - 1);
    return FL_OK;
}

double fc_quant_step(const fc_quant *q)
{
    return 1.0 / q->scale;
}

static bool outside(double x, double bound)
{
    return x > bound || x < -bound;
}

uint64_t fc_quant_count_clipped(const float *values, size_t count, double clip_bound)
{
    uint64_t clipped = 0;
    for (size_t i = 0; i < count; i++)
        clipped += outside(values[i], clip_bound);
    return clipped;
}

int fc_quant_encode(uint32_t *out, uint64_t *clipped, const float *values, size_t count,
                    uint64_t first_index, uint32_t weight,
                    const uint8_t seed[FC_QUANT_SEED_BYTES], const fc_quant *q, fl_error *err)
{
    if (weight > q->params.weight_max)
        return fl_error_set(err, FL_ERANGE,
                            "weight %" PRIu32 " exceeds weight_max %" PRIu32
                            "; cap the weight before quantising",
                            weight, q->params.weight_max);

    const double bound = q->params.clip_bound;
    const double level_max = q->level_max;
    uint32_t noise[1024];
    for (size_t start = 0; start < count; start += 1024) {
        size_t piece = count - start < 1024 ? count - start : 1024;
        fc_stream_words(noise, piece, first_index + start, seed, s_rounding_nonce);

        for (size_t i = 0; i < piece; i++) {
            double x = values[start + i];
            if (!isfinite(x))
                return fl_error_set(err, FL_EINVAL,
                                    "element %" PRIu64 " is %g; the update contains a "
                                    "non-finite value, so training diverged",
                                    first_index + start + i, x);
            if (outside(x, bound)) {
                x = x > bound ? bound : -bound;
                (*clipped)++;
            }

            // floor(v + u) with u uniform in [0, 1) rounds v up with probability frac(v).
            double level = floor(x * q->scale + noise[i] * 0x1p-32);
            if (level > level_max)
                level = level_max;
            if (level < -level_max)
                level = -level_max;
            out[start + i] = weight * (uint32_t)(int32_t)(level + level_max);
        }
    }
    return FL_OK;
}

/* Writes sum_u w_u q_u / factor for each element; factor is scale or scale * weight_sum. */
static int decode(float *out, const uint32_t *sums, size_t count, uint64_t weight_sum,
                  double factor, const fc_quant *q, fl_error *err)
{
    if (weight_sum == 0)
        return fl_error_set(err, FL_EINVAL, "summed weight is 0, so no mean exists");

    int64_t offset = (int64_t)weight_sum * q->level_max;
    for (size_t i = 0; i < count; i++) {
        int64_t centred = (int64_t)sums[i] - offset;
        if (centred > offset || sums[i] > q->modulus_mask)
            return fl_error_set(err, FL_EINVAL,
                                "element %zu: sum %" PRIu32 " cannot come from inputs with "
                                "summed weight %" PRIu64,
                                i, sums[i], weight_sum);
        out[i] = (float)((double)centred / factor);
    }
    return FL_OK;
}

int fc_quant_decode_mean(float *out, const uint32_t *sums, size_t count, uint64_t weight_sum,
                         const fc_quant *q, fl_error *err)
{
    return decode(out, sums, count, weight_sum, q->scale * (double)weight_sum, q, err);
}

int fc_quant_decode_sum(float *out, const uint32_t *sums, size_t count, uint64_t weight_sum,
                        const fc_quant *q, fl_error *err)
{
    return decode(out, sums, count, weight_sum, q->scale, q, err);
}
