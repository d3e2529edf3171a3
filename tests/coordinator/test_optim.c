/* Tests of the server optimizers against values worked out by hand in double precision. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coord_optim.h"

#define COUNT 4

static const float s_deltas[3][COUNT] = {
    {0.5f, -0.25f, 0.0f, 2.0f},
    {0.1f, 0.3f, -0.7f, -1.0f},
    {-0.4f, 0.05f, 0.2f, 0.0f},
};

static void assert_close(double expected, float actual)
{
    double tolerance = 1e-5 * fmax(1.0, fabs(expected));
    if (fabs(expected - (double)actual) > tolerance)
        fail_msg("expected %.9g, got %.9g (difference %.3g)", expected, (double)actual,
                 fabs(expected - (double)actual));
}

/* Runs three rounds of kind from weights 1.0 and compares with a double-precision model. */
static void check_kind(coord_optim_kind kind)
{
    coord_optim_params params;
    coord_optim_defaults(&params, kind);
    params.server_lr = 0.5;

    coord_optim optim;
    fl_error err = {0};
    assert_int_equal(coord_optim_init(&optim, &params, COUNT, &err), FL_OK);
    float weights[COUNT] = {1.0f, 1.0f, 1.0f, 1.0f};

    double x[COUNT], m[COUNT] = {0}, v[COUNT];
    for (int i = 0; i < COUNT; i++) {
        x[i] = 1.0;
        v[i] = params.tau * params.tau;
    }

    for (int round = 0; round < 3; round++) {
        coord_optim_step(&optim, weights, s_deltas[round]);
        for (int i = 0; i < COUNT; i++) {
            double d = s_deltas[round][i];
            if (kind == COORD_OPTIM_FEDAVG) {
                x[i] += params.server_lr * d;
            } else if (kind == COORD_OPTIM_FEDAVGM) {
                m[i] = params.momentum * m[i] + d;
                x[i] += params.server_lr * m[i];
            } else {
                m[i] = params.beta1 * m[i] + (1 - params.beta1) * d;
                if (kind == COORD_OPTIM_FEDADAM)
                    v[i] = params.beta2 * v[i] + (1 - params.beta2) * d * d;
                else
                    v[i] -= (1 - params.beta2) * d * d * ((v[i] > d * d) - (v[i] < d * d));
                x[i] += params.server_lr * m[i] / (sqrt(v[i]) + params.tau);
            }
            assert_close(x[i], weights[i]);
        }
    }
    assert_int_equal(optim.steps, 3);
    coord_optim_release(&optim);
}

static void test_fedavg_matches_model(void **state)
{
    (void)state;
    check_kind(COORD_OPTIM_FEDAVG);
}

static void test_fedavgm_matches_model(void **state)
{
    (void)state;
    check_kind(COORD_OPTIM_FEDAVGM);
}

static void test_fedadam_matches_model(void **state)
{
    (void)state;
    check_kind(COORD_OPTIM_FEDADAM);
}

static void test_fedyogi_matches_model(void **state)
{
    (void)state;
    check_kind(COORD_OPTIM_FEDYOGI);
}

static void test_fedavg_unit_lr_takes_mean(void **state)
{
    (void)state;
    coord_optim_params params;
    coord_optim_defaults(&params, COORD_OPTIM_FEDAVG);
    coord_optim optim;
    fl_error err = {0};
    assert_int_equal(coord_optim_init(&optim, &params, COUNT, &err), FL_OK);
    float weights[COUNT] = {0};
    coord_optim_step(&optim, weights, s_deltas[0]);
    assert_memory_equal(weights, s_deltas[0], sizeof(weights));
    coord_optim_release(&optim);
}

static void test_invalid_params_named(void **state)
{
    (void)state;
    coord_optim_params params;
    fl_error err = {0};

    coord_optim_defaults(&params, COORD_OPTIM_FEDADAM);
    params.beta2 = 1.0;
    assert_int_equal(coord_optim_validate(&params, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "beta2"));

    coord_optim_defaults(&params, COORD_OPTIM_FEDYOGI);
    params.tau = 0.0;
    assert_int_equal(coord_optim_validate(&params, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "tau"));

    coord_optim_defaults(&params, COORD_OPTIM_FEDAVG);
    params.server_lr = -1.0;
    assert_int_equal(coord_optim_validate(&params, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "server_lr"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fedavg_matches_model),
        cmocka_unit_test(test_fedavgm_matches_model),
        cmocka_unit_test(test_fedadam_matches_model),
        cmocka_unit_test(test_fedyogi_matches_model),
        cmocka_unit_test(test_fedavg_unit_lr_takes_mean),
        cmocka_unit_test(test_invalid_params_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
