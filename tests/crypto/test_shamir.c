/* Tests of Shamir secret sharing over GF(2^8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fc_keys.h"
#include "fc_shamir.h"

static int init_sodium(void **state)
{
    (void)state;
    return fc_init() == FL_OK ? 0 : -1;
}

static void hex_to_bytes(uint8_t *out, const char *hex)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned value = 0;
        sscanf(hex + 2 * i, "%2x", &value);
        out[i] = (uint8_t)value;
    }
}

/* Products from FIPS 197, section 4.2: {53}{ca} = {01} and {57}{83} = {c1}. */
static void test_field_known_answer(void **state)
{
    (void)state;
    assert_int_equal(fc_gf256_mul(0x53, 0xca), 0x01);
    assert_int_equal(fc_gf256_mul(0x57, 0x83), 0xc1);
    assert_int_equal(fc_gf256_inverse(0x53), 0xca);
    assert_int_equal(fc_gf256_inverse(0), 0);
    for (int a = 1; a < 256; a++)
        assert_int_equal(fc_gf256_mul((uint8_t)a, fc_gf256_inverse((uint8_t)a)), 1);
}

/* Shares computed by an independent Python implementation of the same field. */
static void test_split_known_answer(void **state)
{
    (void)state;
    static const char *expected[5] = {
        "606162636465662728292a2b2cedeeeff0f1f2333435363738397a7b7c7d7e7f",
        "5d4e633821021f0425367b4059f7ead18093bebea78499c2e3f0665d44071a21",
        "3d2e035841627f2405165b6079170a3160735e9e87a4b9e2c3d0063d24677a41",
        "f89572b4f73a7d16fd902cb1f26621bc1c7196cb884502c42f4224b9fa6c2bb6",
        "98f512d4975a1d36ddb00c91d286c15cfc9176eba86522e40f6244d99a0c4bd6",
    };
    uint8_t secret[32];
    uint8_t coefficients[2 * 32];
    for (int j = 0; j < 32; j++)
        secret[j] = (uint8_t)j;
    for (int k = 1; k <= 2; k++) {
        for (int j = 0; j < 32; j++)
            coefficients[(k - 1) * 32 + j] = (uint8_t)((k * 32 + j * 5 + 1) & 255);
    }

    fc_shamir_share shares[5];
    assert_int_equal(fc_shamir_split_with_coefficients(shares, secret, 3, 5, coefficients),
                     FL_OK);
    for (int i = 0; i < 5; i++) {
        uint8_t want[32];
        hex_to_bytes(want, expected[i]);
        assert_int_equal(shares[i].x, i + 1);
        assert_memory_equal(shares[i].y, want, 32);
    }

    uint8_t rebuilt[32];
    fc_shamir_share subset[3] = {shares[4], shares[1], shares[3]};
    assert_int_equal(fc_shamir_combine(rebuilt, subset, 3), FL_OK);
    assert_memory_equal(rebuilt, secret, 32);
}

/* Every threshold-sized subset rebuilds the secret; one share fewer does not. */
static void test_any_threshold_subset_rebuilds(void **state)
{
    (void)state;
    uint8_t secret[32];
    randombytes_buf(secret, sizeof(secret));
    fc_shamir_share shares[7];
    assert_int_equal(fc_shamir_split(shares, secret, 4, 7), FL_OK);

    for (unsigned mask = 0; mask < (1u << 7); mask++) {
        fc_shamir_share subset[7];
        unsigned count = 0;
        for (unsigned i = 0; i < 7; i++) {
            if (mask & (1u << i))
                subset[count++] = shares[i];
        }
        if (count == 0)
            continue;
        uint8_t rebuilt[32];
        assert_int_equal(fc_shamir_combine(rebuilt, subset, count), FL_OK);
        if (count >= 4)
            assert_memory_equal(rebuilt, secret, 32);
        else
            assert_memory_not_equal(rebuilt, secret, 32);
    }
}

/*
 * With threshold - 1 shares nothing about the secret shows: over many splits
 * of a fixed secret, each share byte is uniform (chi-square over 256 bins).
 */
static void test_fewer_shares_look_uniform(void **state)
{
    (void)state;
    uint8_t secret[32] = {0};
    unsigned counts[256] = {0};
    const unsigned splits = 2048;
    for (unsigned s = 0; s < splits; s++) {
        fc_shamir_share shares[5];
        assert_int_equal(fc_shamir_split(shares, secret, 3, 5), FL_OK);
        for (int j = 0; j < 32; j++)
            counts[shares[1].y[j]]++;
    }
    double expected = splits * 32.0 / 256.0;
    double chi_square = 0;
    for (int v = 0; v < 256; v++)
        chi_square += (counts[v] - expected) * (counts[v] - expected) / expected;
    printf("chi-square of one share's bytes: %.1f (255 degrees of freedom)\n", chi_square);
    // The 1e-6 upper tail of chi-square with 255 degrees of freedom is about 377
    // (Wilson-Hilferty approximation), so this fails by chance once in a million runs.
    assert_true(chi_square < 377.0);
}

static void test_invalid_arguments_rejected(void **state)
{
    (void)state;
    uint8_t secret[32] = {0};
    fc_shamir_share shares[FC_SHAMIR_MAX_SHARES + 1];
    assert_int_equal(fc_shamir_split(shares, secret, 1, 5), FL_EINVAL);
    assert_int_equal(fc_shamir_split(shares, secret, 6, 5), FL_EINVAL);
    assert_int_equal(fc_shamir_split(shares, secret, 3, 256), FL_EINVAL);
    assert_int_equal(fc_shamir_split(shares, secret, 3, 5), FL_OK);

    uint8_t rebuilt[32];
    fc_shamir_share repeated[3] = {shares[0], shares[1], shares[0]};
    assert_int_equal(fc_shamir_combine(rebuilt, repeated, 3), FL_EINVAL);
    fc_shamir_share zero_x = shares[0];
    zero_x.x = 0;
    assert_int_equal(fc_shamir_combine(rebuilt, &zero_x, 1), FL_EINVAL);
    assert_int_equal(fc_shamir_combine(rebuilt, shares, 0), FL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_known_answer),
        cmocka_unit_test(test_split_known_answer),
        cmocka_unit_test(test_any_threshold_subset_rebuilds),
        cmocka_unit_test(test_fewer_shares_look_uniform),
        cmocka_unit_test(test_invalid_arguments_rejected),
    };
    return cmocka_run_group_tests(tests, init_sodium, NULL);
}
