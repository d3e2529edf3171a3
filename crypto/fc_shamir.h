/*
 * fc_shamir.h - Shamir t-of-n secret sharing of 32-byte secrets.
 *
 * Each byte of the secret is shared separately over GF(2^8) with the AES
 * reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11b). Share i (0-based)
 * has x coordinate i + 1, so at most 255 shares exist. Any threshold shares
 * rebuild the secret; fewer reveal nothing about it. Arithmetic runs in time
 * independent of the secret (no table lookups).
 */
#ifndef FC_SHAMIR_H
#define FC_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

#define FC_SHAMIR_SECRET_BYTES 32
#define FC_SHAMIR_MAX_SHARES 255

/* One share: the x coordinate (1..255) and the polynomials' values there. */
typedef struct fc_shamir_share {
    uint8_t x;
    uint8_t y[FC_SHAMIR_SECRET_BYTES];
} fc_shamir_share;

/*
 * Splits secret into count shares (x = 1..count) of which threshold rebuild
 * it, with random polynomial coefficients. shares has room for count
 * entries. Returns FL_OK, or FL_EINVAL unless 2 <= threshold <= count <= 255.
 */
int fc_shamir_split(fc_shamir_share *shares, const uint8_t secret[FC_SHAMIR_SECRET_BYTES],
                    unsigned threshold, unsigned count) FL_WARN_UNUSED;

/*
 * Same as fc_shamir_split with given coefficients, for known-answer tests:
 * coefficients[(k - 1) * 32 + j] is the coefficient of x^k for byte j,
 * for k = 1..threshold-1.
 */
int fc_shamir_split_with_coefficients(fc_shamir_share *shares,
                                      const uint8_t secret[FC_SHAMIR_SECRET_BYTES],
                                      unsigned threshold, unsigned count,
                                      const uint8_t *coefficients) FL_WARN_UNUSED;

/*
 * Rebuilds the secret from count shares by Lagrange interpolation at 0.
 * Returns FL_EINVAL when count is 0 or an x coordinate is 0 or repeated.
 * WARNING: with fewer shares than the threshold the output is a wrong value,
 * not an error, because shares alone cannot tell; callers check the count.
 */
int fc_shamir_combine(uint8_t secret[FC_SHAMIR_SECRET_BYTES], const fc_shamir_share *shares,
                      unsigned count) FL_WARN_UNUSED;

/* Multiplies two elements of GF(2^8) modulo 0x11b. Exposed for known-answer tests. */
uint8_t fc_gf256_mul(uint8_t a, uint8_t b);

/* Returns the multiplicative inverse in GF(2^8), and 0 for 0. */
uint8_t fc_gf256_inverse(uint8_t a);

#endif
