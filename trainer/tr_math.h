/*
 * tr_math.h - scalar helpers for the element-wise kernels, written with
 * plain arithmetic only, so that the loops that call them vectorise.
 *
 * The compiler cannot vectorise a loop that calls glibc's expf. The softmax,
 * the cross-entropy and SwiGLU of one step of a 0.5B model at 512 tokens
 * compute about 300 million exponentials.
 */
#ifndef TR_MATH_H
#define TR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * TR_VECTOR_CLONES before a kernel compiles it three times, for AVX-512,
 * for AVX2 with FMA and for the baseline, and picks one when the program
 * loads, so a portable build still uses the wide vectors of the CPU it runs
 * on. Sanitizer builds keep one plain copy.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TR_PLAIN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR_PLAIN_BUILD 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TR_PLAIN_BUILD)
#define TR_VECTOR_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TR_VECTOR_CLONES
#endif

/* Bounds of the range where tr_expf is accurate. */
#define TR_EXPF_LOW (-87.33654f)
#define TR_EXPF_HIGH 88.0f

/*
 * Returns e^x within 2 ulp of the exact value for x in [TR_EXPF_LOW,
 * TR_EXPF_HIGH], 0 below (where e^x is no longer a normal float), +inf above
 * and NaN for NaN. expf overflows only at 88.72, and the callers pass x <= 0
 * (softmax, cross-entropy) or saturate (sigmoid), so the early +inf is harmless.
 *
 * Method: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to
 * degree 7 (truncation error below 6e-9), 2^n written into the exponent bits.
 */
static inline float tr_expf(float x)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float clamped = x < TR_EXPF_LOW ? TR_EXPF_LOW : x;
    clamped = clamped > TR_EXPF_HIGH ? TR_EXPF_HIGH : clamped;

    // step: n = round(x / ln2), r = x - n ln2 with ln2 split in two (hi has 9 zero low bits)
    float shifted = clamped * 1.44269504f + shifter;
    float n = shifted - shifter;
    float r = clamped - n * 0.693145752f;
    r = r - n * 1.42860677e-6f;

    // step: e^r by Horner's rule
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;

    // step: 2^n from the integer in the low bits of shifted
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof(bits));
    bits = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));

    float y = p * scale;
    y = x < TR_EXPF_LOW ? 0.0f : y;
    return x > TR_EXPF_HIGH ? INFINITY : y;
}

/* Returns the logistic function 1 / (1 + e^-x). */
static inline float tr_sigmoidf(float x)
{
    return 1.0f / (1.0f + tr_expf(-x));
}

#endif
