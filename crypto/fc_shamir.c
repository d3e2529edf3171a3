/* Shamir secret sharing over GF(2^8), one polynomial per secret byte. */
#include "fc_shamir.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

uint8_t fc_gf256_mul(uint8_t a, uint8_t b)
{
    uint8_t product = 0;
    for (int bit = 0; bit < 8; bit++) {
        product ^= (uint8_t)(-(b & 1) & a);
        uint8_t carry = (uint8_t)-(a >> 7);
        a = (uint8_t)((a << 1) ^ (0x1b & carry));
        b >>= 1;
    }
    return product;
}

/* a^254 = a^-1 in GF(2^8), by a fixed square-and-multiply chain. */
uint8_t fc_gf256_inverse(uint8_t a)
{
    uint8_t result = a;
    for (int bit = 0; bit < 6; bit++) {
        result = fc_gf256_mul(result, result);
        result = fc_gf256_mul(result, a);
    }
    return fc_gf256_mul(result, result);
}

/* Evaluates, for each byte j, secret[j] + sum_k coefficient(k, j) x^k at x (Horner). */
static void evaluate(fc_shamir_share *share, const uint8_t *secret, unsigned threshold,
                     const uint8_t *coefficients, uint8_t x)
{
    share->x = x;
    for (size_t j = 0; j < FC_SHAMIR_SECRET_BYTES; j++) {
        uint8_t value = 0;
        for (unsigned k = threshold - 1; k >= 1; k--) {
            value ^= coefficients[(k - 1) * FC_SHAMIR_SECRET_BYTES + j];
            value = fc_gf256_mul(value, x);
        }
        share->y[j] = (uint8_t)(value ^ secret[j]);
    }
}

int fc_shamir_split_with_coefficients(fc_shamir_share *shares,
                                      const uint8_t secret[FC_SHAMIR_SECRET_BYTES],
                                      unsigned threshold, unsigned count,
                                      const uint8_t *coefficients)
{
    if (threshold < 2 || threshold > count || count > FC_SHAMIR_MAX_SHARES)
        return FL_EINVAL;
    for (unsigned i = 0; i < count; i++)
        evaluate(&shares[i], secret, threshold, coefficients, (uint8_t)(i + 1));
    return FL_OK;
}

int fc_shamir_split(fc_shamir_share *shares, const uint8_t secret[FC_SHAMIR_SECRET_BYTES],
                    unsigned threshold, unsigned count)
{
    if (threshold < 2 || threshold > count || count > FC_SHAMIR_MAX_SHARES)
        return FL_EINVAL;

    size_t size = (size_t)(threshold - 1) * FC_SHAMIR_SECRET_BYTES;
    uint8_t *coefficients = sodium_malloc(size);
    if (coefficients == NULL) {
        fprintf(stderr, "fatal: sodium_malloc(%zu) failed\n", size);
        abort();
    }
    randombytes_buf(coefficients, size);
    int status = fc_shamir_split_with_coefficients(shares, secret, threshold, count,
                                                   coefficients);
    sodium_free(coefficients);
    return status;
}

int fc_shamir_combine(uint8_t secret[FC_SHAMIR_SECRET_BYTES], const fc_shamir_share *shares,
                      unsigned count)
{
    if (count == 0 || count > FC_SHAMIR_MAX_SHARES)
        return FL_EINVAL;
    bool seen[256] = {false};
    for (unsigned i = 0; i < count; i++) {
        if (shares[i].x == 0 || seen[shares[i].x])
            return FL_EINVAL;
        seen[shares[i].x] = true;
    }

    uint8_t result[FC_SHAMIR_SECRET_BYTES] = {0};
    for (unsigned i = 0; i < count; i++) {
        // Lagrange basis at 0: prod over j != i of x_j / (x_j - x_i); minus is XOR here.
        uint8_t numerator = 1;
        uint8_t denominator = 1;
        for (unsigned j = 0; j < count; j++) {
            if (j == i)
                continue;
            numerator = fc_gf256_mul(numerator, shares[j].x);
            denominator = fc_gf256_mul(denominator, (uint8_t)(shares[j].x ^ shares[i].x));
        }
        uint8_t basis = fc_gf256_mul(numerator, fc_gf256_inverse(denominator));
        for (size_t b = 0; b < FC_SHAMIR_SECRET_BYTES; b++)
            result[b] ^= fc_gf256_mul(shares[i].y[b], basis);
    }
    for (size_t b = 0; b < FC_SHAMIR_SECRET_BYTES; b++)
        secret[b] = result[b];
    sodium_memzero(result, sizeof(result));
    return FL_OK;
}
