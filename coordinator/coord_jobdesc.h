/*
 * coord_jobdesc.h - a job as the JobDescription message that sites receive.
 */
#ifndef COORD_JOBDESC_H
#define COORD_JOBDESC_H

#include "coord_job.h"
#include "fedlora.pb-c.h"

/* Storage behind a JobDescription built from a job spec; valid while job lives. */
typedef struct coord_jobdesc {
    Fedlora__JobDescription message;
    Fedlora__LoraSettings lora;
    Fedlora__ServerOptimizer optimizer;
    Fedlora__SecAggParams secagg;
    char *targets[COORD_JOB_TARGETS_MAX];
    uint8_t hash[32];
} coord_jobdesc;

/* Fills desc from job. The message points into job and desc. */
void coord_jobdesc_init(coord_jobdesc *desc, const coord_job_spec *job);

#endif
