#include "coord_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"

const char *const coord_optim_names[] = {"fedavg", "fedavgm", "fedadam", "fedyogi", NULL};

void coord_optim_defaults(coord_optim_params *params, coord_optim_kind kind)
{
    memset(params, 0, sizeof(*params));
    params->kind = kind;
    params->server_lr = kind == COORD_OPTIM_FEDAVG || kind == COORD_OPTIM_FEDAVGM ? 1.0 : 0.01;
    params->momentum = 0.9;
    params->beta1 = 0.9;
    params->beta2 = 0.99;
    params->tau = 1e-3;
}

static int check_unit_interval(double value, const char *name, fl_error *err)
{
    if (value >= 0.0 && value < 1.0)
        return FL_OK;
    return fl_error_set(err, FL_ERANGE, "server optimizer: %s is %g; use a value in [0, 1)",
                        name, value);
}

int coord_optim_validate(const coord_optim_params *params, fl_error *err)
{
    if ((int)params->kind < COORD_OPTIM_FEDAVG || params->kind > COORD_OPTIM_FEDYOGI)
        return fl_error_set(err, FL_EINVAL, "server optimizer: unknown kind %d",
                            (int)params->kind);
    if (!(params->server_lr > 0.0) || !isfinite(params->server_lr))
        return fl_error_set(err, FL_ERANGE,
                            "server optimizer: server_lr is %g; use a positive number",
                            params->server_lr);

    int rc = FL_OK;
    if (params->kind == COORD_OPTIM_FEDAVGM)
        rc = check_unit_interval(params->momentum, "momentum", err);
    if (rc == FL_OK && params->kind >= COORD_OPTIM_FEDADAM) {
        rc = check_unit_interval(params->beta1, "beta1", err);
        if (rc == FL_OK)
            rc = check_unit_interval(params->beta2, "beta2", err);
        if (rc == FL_OK && !(params->tau > 0.0))
            rc = fl_error_set(err, FL_ERANGE, "server optimizer: tau is %g; use a positive "
                                              "number such as 1e-3",
                              params->tau);
    }
    return rc;
}

int coord_optim_init(coord_optim *optim, const coord_optim_params *params, size_t count,
                     fl_error *err)
{
    memset(optim, 0, sizeof(*optim));
    int rc = coord_optim_validate(params, err);
    if (rc != FL_OK)
        return rc;

    optim->params = *params;
    optim->count = count;
    if (params->kind != COORD_OPTIM_FEDAVG)
        optim->m = fl_xcalloc(count, sizeof(float));
    if (params->kind >= COORD_OPTIM_FEDADAM) {
        optim->v = fl_xmalloc(count * sizeof(float));
        float initial = (float)(params->tau * params->tau);
        for (size_t i = 0; i < count; i++)
            optim->v[i] = initial;
    }
    return FL_OK;
}

void coord_optim_release(coord_optim *optim)
{
    free(optim->m);
    free(optim->v);
    memset(optim, 0, sizeof(*optim));
}

static void step_adaptive(coord_optim *optim, float *weights, const float *delta, int yogi)
{
    const coord_optim_params *p = &optim->params;
    const float lr = (float)p->server_lr;
    const float beta1 = (float)p->beta1;
    const float beta2 = (float)p->beta2;
    const float tau = (float)p->tau;

    for (size_t i = 0; i < optim->count; i++) {
        float d = delta[i];
        float d2 = d * d;
        optim->m[i] = beta1 * optim->m[i] + (1.0f - beta1) * d;
        if (yogi) {
            float gap = optim->v[i] - d2;
            float sign = (float)((gap > 0.0f) - (gap < 0.0f));
            optim->v[i] -= (1.0f - beta2) * d2 * sign;
        } else {
            optim->v[i] = beta2 * optim->v[i] + (1.0f - beta2) * d2;
        }
        weights[i] += lr * optim->m[i] / (sqrtf(optim->v[i]) + tau);
    }
}

void coord_optim_step(coord_optim *optim, float *weights, const float *mean_delta)
{
    const float lr = (float)optim->params.server_lr;

    switch (optim->params.kind) {
    case COORD_OPTIM_FEDAVG:
        for (size_t i = 0; i < optim->count; i++)
            weights[i] += lr * mean_delta[i];
        break;
    case COORD_OPTIM_FEDAVGM: {
        const float beta = (float)optim->params.momentum;
        for (size_t i = 0; i < optim->count; i++) {
            optim->m[i] = beta * optim->m[i] + mean_delta[i];
            weights[i] += lr * optim->m[i];
        }
        break;
    }
    case COORD_OPTIM_FEDADAM:
        step_adaptive(optim, weights, mean_delta, 0);
        break;
    case COORD_OPTIM_FEDYOGI:
        step_adaptive(optim, weights, mean_delta, 1);
        break;
    }
    optim->steps++;
}
