/* SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014). */
#include "tr_rng.h"

#include <math.h>

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tr_rng_seed(tr_rng *rng, uint64_t seed)
{
    rng->state = seed;
    rng->has_spare = 0;
}

uint64_t tr_rng_next(tr_rng *rng)
{
    rng->state += 0x9e3779b97f4a7c15ull;
    return mix(rng->state);
}

float tr_rng_uniform(tr_rng *rng)
{
    return (float)(tr_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

float tr_rng_normal(tr_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1 = ((double)(tr_rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(tr_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    double radius = sqrt(-2.0 * log(u1));
    rng->spare = (float)(radius * sin(2.0 * M_PI * u2));
    rng->has_spare = 1;
    return (float)(radius * cos(2.0 * M_PI * u2));
}

float tr_rng_hash_uniform(uint64_t key, uint64_t index)
{
    uint64_t z = mix(key + 0x9e3779b97f4a7c15ull * (index + 1));
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}
