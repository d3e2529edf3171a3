/*
 * agent_policy.h - the site's local policy, applied to every job and round.
 *
 * The policy comes only from the site's own configuration file. Each
 * decision names a reason code, which the agent records in its audit log
 * and reports to the coordinator, and a sentence for the administrator.
 */
#ifndef AGENT_POLICY_H
#define AGENT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "agent_config.h"
#include "fl_error.h"

typedef enum agent_policy_reason {
    AGENT_POLICY_ACCEPTED = 0,
    AGENT_POLICY_RESEARCHER_NOT_ACCEPTED,
    AGENT_POLICY_BASE_MODEL_MISMATCH,
    AGENT_POLICY_SECURE_AGGREGATION_REQUIRED,
    AGENT_POLICY_TOO_FEW_SITES,
    AGENT_POLICY_TOO_MANY_LOCAL_STEPS,
    AGENT_POLICY_CLIP_BOUND_TOO_LARGE,
    AGENT_POLICY_DATA_PATH_NOT_ALLOWED
} agent_policy_reason;

/* Reason codes as written in the audit log ("researcher_not_accepted", ...). */
extern const char *const agent_policy_reason_names[];

/* What the policy needs to know of a job, or of one round of it. */
typedef struct agent_job_terms {
    const char *job_id;
    const char *researcher;
    const uint8_t *base_model_hash;  /* 32 bytes */
    bool secure_aggregation;
    uint32_t min_sites;              /* the job's minimum sites per aggregation */
    uint32_t selected_sites;         /* sites selected for this round; 0 before a round */
    uint32_t local_steps;
    double clip_bound;
} agent_job_terms;

typedef struct agent_policy_decision {
    agent_policy_reason reason;
    char detail[512];
} agent_policy_decision;

/*
 * Decides whether this site takes part in a job (or a round, when
 * selected_sites is set). local_model_hash is the hash of the site's own base
 * model folder. Returns true when accepted; decision holds the reason either way.
 */
bool agent_policy_check(const agent_config *config, const uint8_t local_model_hash[32],
                        const agent_job_terms *terms, agent_policy_decision *decision);

/*
 * Checks that every data file of config lies inside one of the allowed data
 * paths (after resolving symbolic links). With no allowed paths configured,
 * every path is allowed. Returns FL_OK or FL_EPERM naming the file.
 */
int agent_policy_check_data_paths(const agent_config *config, fl_error *err) FL_WARN_UNUSED;

#endif
