/*
 * fc_secagg_params.h - settings of one secure-aggregation round, their
 * validation, and the session id that binds keys and masks to the round.
 *
 * The protocol is the one of Bonawitz et al., "Practical Secure Aggregation
 * for Privacy-Preserving Machine Learning" (ACM CCS 2017). Sites mask their
 * quantised vectors so that the server learns only the sum over the sites
 * whose input counted. Any t of the n sites can remove a dropped site's masks.
 */
#ifndef FC_SECAGG_PARAMS_H
#define FC_SECAGG_PARAMS_H

#include <stdint.h>

#include "fc_quant.h"
#include "fl_error.h"

#define FC_SECAGG_MIN_SITES 3
#define FC_SECAGG_MAX_SITES 255
#define FC_SESSION_ID_BYTES 32

/* Largest vector, in elements: the mask stream's reach minus the weight element. */
#define FC_SECAGG_MAX_DIM (((uint64_t)1 << 34))
#define FC_SECAGG_MAX_CHUNK_ELEMENTS ((uint32_t)1 << 24)

/* Settings every site and the server of a round must share exactly. */
typedef struct fc_secagg_params {
    uint64_t round;              /* round id, bound into every key and mask */
    uint32_t n_sites;            /* sites invited; site ids are 0..n_sites-1 */
    uint32_t threshold;          /* t: shares that rebuild a key or seed */
    uint32_t expected_survivors; /* sites expected to finish the round */
    uint64_t dim;                /* elements in a site's vector, weight not included */
    uint32_t chunk_elements;     /* elements per masked chunk, a multiple of 16 */
    uint32_t bits;               /* quantisation width, see fc_quant.h */
    double clip_bound;           /* values are clipped to [-clip_bound, clip_bound] */
    uint32_t weight_max;         /* largest site weight; 1 for a plain sum */
} fc_secagg_params;

/*
 * Checks every parameter and fills q with the quantiser of the round.
 * Rules: 3 <= n_sites <= 255 (with 2 sites the sum and one input reveal the
 * other; share ids are bytes); n_sites / 2 < threshold <= n_sites;
 * expected_survivors <= n_sites and threshold >= expected_survivors;
 * 1 <= dim <= FC_SECAGG_MAX_DIM; chunk_elements a multiple of 16 in
 * [16, FC_SECAGG_MAX_CHUNK_ELEMENTS]; quantiser rules of fc_quant_init().
 * Returns FL_OK, FL_EINVAL or FL_EOVERFLOW with err naming the parameter,
 * its value and why it is wrong.
 */
int fc_secagg_params_validate(const fc_secagg_params *params, fc_quant *q,
                              fl_error *err) FL_WARN_UNUSED;

/* Writes a BLAKE2b-256 digest of every field of params, in a fixed byte order. */
void fc_secagg_params_digest(uint8_t digest[32], const fc_secagg_params *params);

/* Returns the number of 32-bit words a site uploads: dim values plus the weight. */
uint64_t fc_secagg_words(const fc_secagg_params *params);

/* Returns the number of masked chunks a site uploads. */
uint64_t fc_secagg_chunks(const fc_secagg_params *params);

#endif
