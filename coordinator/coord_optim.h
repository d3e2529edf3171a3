/*
 * coord_optim.h - server optimizers applied to the aggregated client delta
 * (Reddi et al., "Adaptive Federated Optimization", ICLR 2021).
 *
 * With Δ the weighted mean of the sites' deltas for one round:
 *   FedAvg   x += η Δ
 *   FedAvgM  m = β m + Δ;                       x += η m
 *   FedAdam  m = β1 m + (1-β1) Δ; v = β2 v + (1-β2) Δ²;        x += η m / (√v + τ)
 *   FedYogi  as FedAdam with v -= (1-β2) Δ² sign(v - Δ²)
 * Adaptive optimizers start with m = 0 and v = τ², as in the paper's
 * algorithms, and apply no bias correction.
 */
#ifndef COORD_OPTIM_H
#define COORD_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

typedef enum coord_optim_kind {
    COORD_OPTIM_FEDAVG = 0,
    COORD_OPTIM_FEDAVGM = 1,
    COORD_OPTIM_FEDADAM = 2,
    COORD_OPTIM_FEDYOGI = 3
} coord_optim_kind;

/* Names as written in job files: "fedavg", "fedavgm", "fedadam", "fedyogi". */
extern const char *const coord_optim_names[];

typedef struct coord_optim_params {
    coord_optim_kind kind;
    double server_lr; /* η; FedAvg with η = 1 takes the mean model */
    double momentum;  /* β of FedAvgM */
    double beta1;     /* FedAdam, FedYogi */
    double beta2;     /* FedAdam, FedYogi */
    double tau;       /* adaptivity floor of FedAdam, FedYogi */
} coord_optim_params;

/* Fills params with the defaults of kind: η 1 (FedAvg, FedAvgM) or 0.01, β 0.9, β1 0.9, β2 0.99, τ 1e-3. */
void coord_optim_defaults(coord_optim_params *params, coord_optim_kind kind);

/* Checks ranges: η > 0, β and β1 in [0, 1), β2 in [0, 1), τ > 0. err names the parameter. */
int coord_optim_validate(const coord_optim_params *params, fl_error *err) FL_WARN_UNUSED;

typedef struct coord_optim {
    coord_optim_params params;
    size_t count;   /* parameters */
    int64_t steps;  /* rounds applied so far */
    float *m;       /* [count] first moment; NULL for FedAvg */
    float *v;       /* [count] second moment; NULL for FedAvg and FedAvgM */
} coord_optim;

/* Initialises the state for count parameters. Release with coord_optim_release. */
int coord_optim_init(coord_optim *optim, const coord_optim_params *params, size_t count,
                     fl_error *err) FL_WARN_UNUSED;

void coord_optim_release(coord_optim *optim);

/* Applies one round: updates weights[count] in place from mean_delta[count]. */
void coord_optim_step(coord_optim *optim, float *weights, const float *mean_delta);

#endif
