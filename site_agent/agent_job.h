/*
 * agent_job.h - the job a site has accepted, as its rounds need it.
 */
#ifndef AGENT_JOB_H
#define AGENT_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fedlora.pb-c.h"
#include "fl_error.h"
#include "lora.h"
#include "proto_limits.h"

typedef struct agent_job {
    char id[PROTO_MAX_ID + 1];
    Fedlora__Envelope *envelope;          /* the JobDescription, owned */
    const Fedlora__JobDescription *desc;  /* points into envelope */
    lora_options lora;
    bool frozen_a;
    size_t num_params;      /* floats in the adapter arena */
    size_t trained_offset;  /* first float the site trains and uploads */
    size_t trained_count;
    uint64_t examples;      /* training records, counted at acceptance */
} agent_job;

/*
 * Takes ownership of envelope (a JobDescription) and derives the adapter
 * layout from the site's own model folder. FL_EINVAL when the job's LoRA
 * settings name an unknown module.
 */
int agent_job_init(agent_job *job, Fedlora__Envelope *envelope, const char *model_dir,
                   fl_error *err) FL_WARN_UNUSED;

void agent_job_release(agent_job *job);

/* Counts the non-blank lines of the training files: the site's example count. */
uint64_t agent_job_count_examples(const char *const *files, size_t count);

#endif
