/* Validation and digest of secure-aggregation round settings. */
#include "fc_secagg_params.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "fc_wire.h"

static const char s_params_label[] = "fedlora secagg params v1";

int fc_secagg_params_validate(const fc_secagg_params *params, fc_quant *q, fl_error *err)
{
    uint32_t n = params->n_sites;
    if (n < FC_SECAGG_MIN_SITES)
        return fl_error_set(err, FL_EINVAL,
                            "n_sites is %" PRIu32 ", but secure aggregation needs at least %d "
                            "sites: with 2, either site can subtract its own input from the "
                            "sum and read the other's",
                            n, FC_SECAGG_MIN_SITES);
    if (n > FC_SECAGG_MAX_SITES)
        return fl_error_set(err, FL_EINVAL,
                            "n_sites is %" PRIu32 ", above %d, the largest number of Shamir "
                            "shares over GF(2^8)",
                            n, FC_SECAGG_MAX_SITES);
    if (params->threshold <= n / 2 || params->threshold > n)
        return fl_error_set(err, FL_EINVAL,
                            "threshold is %" PRIu32 " for n_sites %" PRIu32 "; it must be "
                            "above n_sites / 2 (at least %" PRIu32 ") so that two disjoint "
                            "groups of sites cannot each rebuild keys, and at most n_sites",
                            params->threshold, n, n / 2 + 1);
    if (params->expected_survivors < 1 || params->expected_survivors > n)
        return fl_error_set(err, FL_EINVAL,
                            "expected_survivors is %" PRIu32 "; it must be between 1 and "
                            "n_sites (%" PRIu32 ")",
                            params->expected_survivors, n);
    if (params->threshold < params->expected_survivors)
        return fl_error_set(err, FL_EINVAL,
                            "threshold is %" PRIu32 " but expected_survivors is %" PRIu32
                            "; the threshold must be at least the number of sites expected "
                            "to survive, or fewer sites than needed could rebuild a key",
                            params->threshold, params->expected_survivors);
    if (params->dim < 1 || params->dim > FC_SECAGG_MAX_DIM)
        return fl_error_set(err, FL_EINVAL,
                            "dim is %" PRIu64 "; it must be between 1 and %" PRIu64,
                            params->dim, FC_SECAGG_MAX_DIM);
    if (params->chunk_elements < 16 || params->chunk_elements % 16 != 0 ||
        params->chunk_elements > FC_SECAGG_MAX_CHUNK_ELEMENTS)
        return fl_error_set(err, FL_EINVAL,
                            "chunk_elements is %" PRIu32 "; it must be a multiple of 16 (one "
                            "ChaCha20 block) between 16 and %" PRIu32,
                            params->chunk_elements, FC_SECAGG_MAX_CHUNK_ELEMENTS);

    fc_quant_params quant = {
        .n_sites = n,
        .bits = params->bits,
        .clip_bound = params->clip_bound,
        .weight_max = params->weight_max,
    };
    return fc_quant_init(q, &quant, err);
}

void fc_secagg_params_digest(uint8_t digest[32], const fc_secagg_params *params)
{
    uint8_t bytes[64];
    fc_wire_writer writer;
    fc_wire_writer_init(&writer, bytes, sizeof(bytes));
    fc_wire_put_u64(&writer, params->round);
    fc_wire_put_u32(&writer, params->n_sites);
    fc_wire_put_u32(&writer, params->threshold);
    fc_wire_put_u32(&writer, params->expected_survivors);
    fc_wire_put_u64(&writer, params->dim);
    fc_wire_put_u32(&writer, params->chunk_elements);
    fc_wire_put_u32(&writer, params->bits);
    uint64_t bound_bits;
    memcpy(&bound_bits, &params->clip_bound, sizeof(bound_bits));
    fc_wire_put_u64(&writer, bound_bits);
    fc_wire_put_u32(&writer, params->weight_max);

    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, 32);
    crypto_generichash_update(&state, (const uint8_t *)s_params_label, sizeof(s_params_label));
    crypto_generichash_update(&state, bytes, writer.used);
    crypto_generichash_final(&state, digest, 32);
}

uint64_t fc_secagg_words(const fc_secagg_params *params)
{
    return params->dim + 1;
}

uint64_t fc_secagg_chunks(const fc_secagg_params *params)
{
    return (fc_secagg_words(params) + params->chunk_elements - 1) / params->chunk_elements;
}
