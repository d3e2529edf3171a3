/*
 * Tests of tr_expf against the double-precision exponential: relative error
 * within 2 float ulp on a fine grid of its accurate range, and the documented
 * results outside that range.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tr_math.h"

#define ULP (1.0 / 8388608.0) /* 2^-23, one float ulp relative to the value */

static double relative_error(float x)
{
    double exact = exp((double)x);
    return fabs((double)tr_expf(x) - exact) / exact;
}

static void test_expf_range(void **state)
{
    (void)state;
    double worst = 0.0;
    float worst_x = 0.0f;
    for (float x = TR_EXPF_LOW; x <= TR_EXPF_HIGH; x = nextafterf(x, INFINITY) + 1e-5f) {
        double error = relative_error(x);
        if (error > worst) {
            worst = error;
            worst_x = x;
        }
    }
    printf("tr_expf: largest relative error %.3g (%.2f ulp) at x = %.6f\n", worst, worst / ULP,
           (double)worst_x);
    assert_true(worst <= 2.0 * ULP);
}

static void test_expf_small_arguments(void **state)
{
    (void)state;
    /* Near 0, where softmax and cross-entropy put most of their inputs. */
    double worst = 0.0;
    for (int i = -100000; i <= 100000; i++)
        worst = fmax(worst, relative_error((float)i * 1e-6f));
    printf("tr_expf: largest relative error in [-0.1, 0.1]: %.3g\n", worst);
    assert_true(worst <= 2.0 * ULP);
    assert_true(tr_expf(0.0f) == 1.0f);
}

static void test_expf_outside_range(void **state)
{
    (void)state;
    assert_true(tr_expf(-88.0f) == 0.0f);
    assert_true(tr_expf(-1e30f) == 0.0f);
    assert_true(tr_expf(-INFINITY) == 0.0f);
    assert_true(isinf(tr_expf(89.0f)));
    assert_true(isinf(tr_expf(INFINITY)));
    assert_true(isnan(tr_expf(NAN)));
}

static void test_sigmoid(void **state)
{
    (void)state;
    double worst = 0.0;
    for (float x = -30.0f; x <= 30.0f; x += 0.001f) {
        double exact = 1.0 / (1.0 + exp(-(double)x));
        worst = fmax(worst, fabs((double)tr_sigmoidf(x) - exact) / exact);
    }
    printf("tr_sigmoidf: largest relative error in [-30, 30]: %.3g\n", worst);
    assert_true(worst <= 4.0 * ULP);
    assert_true(tr_sigmoidf(-200.0f) == 0.0f);
    assert_true(tr_sigmoidf(200.0f) == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expf_range),
        cmocka_unit_test(test_expf_small_arguments),
        cmocka_unit_test(test_expf_outside_range),
        cmocka_unit_test(test_sigmoid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
