/* Tests of clipping, stochastic rounding, modulus choice and dequantisation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fc_keys.h"
#include "fc_quant.h"

static int init_sodium(void **state)
{
    (void)state;
    return fc_init() == FL_OK ? 0 : -1;
}

static void expect_init_error(const fc_quant_params *params, int code, const char *needle)
{
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, params, &err), code);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_invalid_params_named(void **state)
{
    (void)state;
    fc_quant_params good = {.n_sites = 3, .bits = 16, .clip_bound = 1.0, .weight_max = 1};
    fc_quant_params params = good;
    params.n_sites = 0;
    expect_init_error(&params, FL_EINVAL, "n_sites is 0");
    params = good;
    params.bits = 1;
    expect_init_error(&params, FL_EINVAL, "bits is 1");
    params.bits = 32;
    expect_init_error(&params, FL_EINVAL, "bits is 32");
    params = good;
    params.clip_bound = -1;
    expect_init_error(&params, FL_EINVAL, "clip_bound is -1");
    params.clip_bound = NAN;
    expect_init_error(&params, FL_EINVAL, "clip_bound is nan");
    params = good;
    params.weight_max = 0;
    expect_init_error(&params, FL_EINVAL, "weight_max is 0");
}

/* 64 x 1024 x 65534 fits below 2^32; one more unit of weight does not. */
static void test_overflow_rejected_up_front(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 64, .bits = 16, .clip_bound = 1.0, .weight_max = 1024};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);
    assert_int_equal(q.modulus_bits, 32);

    params.weight_max = 1025;
    expect_init_error(&params, FL_EOVERFLOW, "lower weight_max to at most 1024");
    params.weight_max = 1;
    params.bits = 31;
    expect_init_error(&params, FL_EOVERFLOW, "could wrap");
}

/* 3 sites x 1 x 2 x 127 = 762 needs R = 2^10. */
static void test_modulus_from_sites_and_bits(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 3, .bits = 8, .clip_bound = 2.0, .weight_max = 1};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);
    assert_int_equal(q.level_max, 127);
    assert_int_equal(q.modulus_bits, 10);
    assert_int_equal(q.modulus_mask, 1023);
    assert_true(fabs(fc_quant_step(&q) - 2.0 / 127) < 1e-15);
}

static void test_rounding_unbiased(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 3, .bits = 8, .clip_bound = 1.0, .weight_max = 1};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);

    const size_t count = 100000;
    float *values = malloc(count * sizeof(float));
    uint32_t *encoded = malloc(count * sizeof(uint32_t));
    for (size_t i = 0; i < count; i++)
        values[i] = (float)(10.3 * fc_quant_step(&q));
    uint8_t seed[FC_QUANT_SEED_BYTES] = {1, 2, 3};
    uint64_t clipped = 0;
    assert_int_equal(fc_quant_encode(encoded, &clipped, values, count, 0, 1, seed, &q, &err),
                     FL_OK);

    double total = 0;
    for (size_t i = 0; i < count; i++) {
        int level = (int)encoded[i] - (int)q.level_max;
        assert_true(level == 10 || level == 11);
        total += level;
    }
    double mean = total / (double)count;
    printf("mean level %.4f, expected 10.3 (standard error 0.0015)\n", mean);
    assert_true(fabs(mean - 10.3) < 0.01);
    assert_int_equal(clipped, 0);
    free(values);
    free(encoded);
}

static void test_clipping_counted(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 3, .bits = 8, .clip_bound = 1.0, .weight_max = 1};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);

    const float values[5] = {2.0f, -3.0f, 0.5f, 1.0f, -1.0f};
    uint32_t encoded[5];
    uint8_t seed[FC_QUANT_SEED_BYTES] = {0};
    uint64_t clipped = 0;
    assert_int_equal(fc_quant_encode(encoded, &clipped, values, 5, 0, 1, seed, &q, &err), FL_OK);
    assert_int_equal(clipped, 2);
    assert_int_equal(encoded[0], 254);
    assert_int_equal(encoded[1], 0);
    assert_int_equal(encoded[3], 254);
    assert_int_equal(encoded[4], 0);
}

static void test_chunks_match_whole_vector(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 5, .bits = 12, .clip_bound = 1.0, .weight_max = 7};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);

    const size_t count = 3000;
    float values[3000];
    uint32_t whole[3000];
    uint32_t pieces[3000];
    for (size_t i = 0; i < count; i++)
        values[i] = (float)sin((double)i);
    uint8_t seed[FC_QUANT_SEED_BYTES] = {9};
    uint64_t clipped = 0;
    assert_int_equal(fc_quant_encode(whole, &clipped, values, count, 0, 7, seed, &q, &err),
                     FL_OK);
    // Pieces of 37 elements, encoded from the last to the first.
    for (size_t start = (count - 1) / 37 * 37;; start -= 37) {
        size_t piece = count - start < 37 ? count - start : 37;
        assert_int_equal(fc_quant_encode(pieces + start, &clipped, values + start, piece, start,
                                         7, seed, &q, &err),
                         FL_OK);
        if (start == 0)
            break;
    }
    assert_memory_equal(whole, pieces, sizeof(whole));
}

static void test_bad_values_rejected(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 3, .bits = 8, .clip_bound = 1.0, .weight_max = 4};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);
    float values[3] = {0.1f, NAN, 0.2f};
    uint32_t encoded[3];
    uint8_t seed[FC_QUANT_SEED_BYTES] = {0};
    uint64_t clipped = 0;
    assert_int_equal(fc_quant_encode(encoded, &clipped, values, 3, 100, 1, seed, &q, &err),
                     FL_EINVAL);
    assert_non_null(strstr(err.msg, "element 101"));
    values[1] = 0;
    assert_int_equal(fc_quant_encode(encoded, &clipped, values, 3, 0, 5, seed, &q, &err),
                     FL_ERANGE);
    assert_non_null(strstr(err.msg, "weight 5 exceeds weight_max 4"));

    uint32_t impossible[1] = {3 * 254 + 1};
    float out[1];
    assert_int_equal(fc_quant_decode_mean(out, impossible, 1, 3, &q, &err), FL_EINVAL);
    assert_int_equal(fc_quant_decode_mean(out, impossible, 1, 0, &q, &err), FL_EINVAL);
}

/* Plain sums of encodings give a weighted mean within one step of the float mean. */
static void test_weighted_mean_within_step(void **state)
{
    (void)state;
    enum { SITES = 5, COUNT = 10000 };
    fc_quant_params params = {.n_sites = SITES, .bits = 16, .clip_bound = 0.5,
                              .weight_max = 1000};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);

    static float values[SITES][COUNT];
    static uint32_t sums[COUNT];
    static uint32_t encoded[COUNT];
    static float mean[COUNT];
    const uint32_t weights[SITES] = {1000, 3, 250, 17, 640};
    uint64_t weight_sum = 0;
    uint64_t clipped = 0;
    srand(7);
    for (int u = 0; u < SITES; u++) {
        for (int i = 0; i < COUNT; i++)
            values[u][i] = (float)((double)rand() / RAND_MAX - 0.5);
        uint8_t seed[FC_QUANT_SEED_BYTES] = {(uint8_t)u};
        assert_int_equal(fc_quant_encode(encoded, &clipped, values[u], COUNT, 0, weights[u],
                                         seed, &q, &err),
                         FL_OK);
        for (int i = 0; i < COUNT; i++)
            sums[i] = (sums[i] + encoded[i]) & q.modulus_mask;
        weight_sum += weights[u];
    }
    assert_int_equal(fc_quant_decode_mean(mean, sums, COUNT, weight_sum, &q, &err), FL_OK);

    double max_difference = 0;
    for (int i = 0; i < COUNT; i++) {
        double expected = 0;
        for (int u = 0; u < SITES; u++)
            expected += (double)weights[u] * values[u][i];
        expected /= (double)weight_sum;
        double difference = fabs(mean[i] - expected);
        max_difference = difference > max_difference ? difference : max_difference;
    }
    printf("weighted mean: max difference %.3g, step %.3g\n", max_difference,
           fc_quant_step(&q));
    assert_true(max_difference <= fc_quant_step(&q));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_params_named),
        cmocka_unit_test(test_overflow_rejected_up_front),
        cmocka_unit_test(test_modulus_from_sites_and_bits),
        cmocka_unit_test(test_rounding_unbiased),
        cmocka_unit_test(test_clipping_counted),
        cmocka_unit_test(test_chunks_match_whole_vector),
        cmocka_unit_test(test_bad_values_rejected),
        cmocka_unit_test(test_weighted_mean_within_step),
    };
    return cmocka_run_group_tests(tests, init_sodium, NULL);
}
