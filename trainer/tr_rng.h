/*
 * tr_rng.h - deterministic random numbers for initialisation and dropout.
 *
 * The generator is SplitMix64, so the same seed gives the same numbers on
 * every machine; frozen-A LoRA relies on that to share A between sites. It
 * does not reproduce PyTorch's generator.
 */
#ifndef TR_RNG_H
#define TR_RNG_H

#include <stdint.h>

typedef struct tr_rng {
    uint64_t state;
    float spare;    /* second normal of the last Box-Muller pair */
    int has_spare;
} tr_rng;

void tr_rng_seed(tr_rng *rng, uint64_t seed);
uint64_t tr_rng_next(tr_rng *rng);

/* Returns a float in [0, 1). */
float tr_rng_uniform(tr_rng *rng);

/* Returns a standard normal float (Box-Muller). */
float tr_rng_normal(tr_rng *rng);

/* Returns a float in [0, 1) that depends only on key and index (counter-based). */
float tr_rng_hash_uniform(uint64_t key, uint64_t index);

#endif
