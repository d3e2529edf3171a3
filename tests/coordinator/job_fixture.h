/* A small valid job for coordinator tests. */
#ifndef JOB_FIXTURE_H
#define JOB_FIXTURE_H

#include "coord_job.h"

#define FIXTURE_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Parses a job with id, the tiny Llama config and extra JSON fields (may be ""). */
void fixture_job(coord_job_spec *job, const char *id, const char *extra_fields);

#endif
