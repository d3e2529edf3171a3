#include "agent_policy.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_model_hash.h"

const char *const agent_policy_reason_names[] = {
    "accepted",
    "researcher_not_accepted",
    "base_model_mismatch",
    "secure_aggregation_required",
    "too_few_sites",
    "too_many_local_steps",
    "clip_bound_too_large",
    "data_path_not_allowed",
};

static bool reject(agent_policy_decision *decision, agent_policy_reason reason, const char *fmt,
                   ...) FL_PRINTF(3, 4);

static bool reject(agent_policy_decision *decision, agent_policy_reason reason, const char *fmt,
                   ...)
{
    decision->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(decision->detail, sizeof(decision->detail), fmt, ap);
    va_end(ap);
    return false;
}

bool agent_policy_check(const agent_config *config, const uint8_t local_model_hash[32],
                        const agent_job_terms *terms, agent_policy_decision *decision)
{
    if (!fl_strlist_contains(&config->accepted_researchers, terms->researcher))
        return reject(decision, AGENT_POLICY_RESEARCHER_NOT_ACCEPTED,
                      "job %s comes from researcher '%s', who is not in this site's "
                      "[policy] accepted_researchers",
                      terms->job_id, terms->researcher);

    if (memcmp(local_model_hash, terms->base_model_hash, FC_MODEL_HASH_BYTES) != 0) {
        char ours[FC_MODEL_HASH_HEX], theirs[FC_MODEL_HASH_HEX];
        fc_model_hash_hex(ours, local_model_hash);
        fc_model_hash_hex(theirs, terms->base_model_hash);
        return reject(decision, AGENT_POLICY_BASE_MODEL_MISMATCH,
                      "job %s expects base model %.16s..., but %s hashes to %.16s...",
                      terms->job_id, theirs, config->base_model_dir, ours);
    }

    if (config->require_secure_aggregation && !terms->secure_aggregation)
        return reject(decision, AGENT_POLICY_SECURE_AGGREGATION_REQUIRED,
                      "job %s does not use secure aggregation, which this site's policy "
                      "requires",
                      terms->job_id);

    uint32_t sites = terms->selected_sites ? terms->selected_sites : terms->min_sites;
    if ((int64_t)sites < config->min_sites)
        return reject(decision, AGENT_POLICY_TOO_FEW_SITES,
                      "job %s aggregates %s%u sites, fewer than this site's minimum of %lld",
                      terms->job_id, terms->selected_sites ? "" : "as few as ", sites,
                      (long long)config->min_sites);

    if ((int64_t)terms->local_steps > config->max_local_steps)
        return reject(decision, AGENT_POLICY_TOO_MANY_LOCAL_STEPS,
                      "job %s asks for %u local steps per round; this site allows at most %lld",
                      terms->job_id, terms->local_steps, (long long)config->max_local_steps);

    if (terms->clip_bound > config->clip_bound)
        return reject(decision, AGENT_POLICY_CLIP_BOUND_TOO_LARGE,
                      "job %s clips updates at %g; this site allows at most %g",
                      terms->job_id, terms->clip_bound, config->clip_bound);

    decision->reason = AGENT_POLICY_ACCEPTED;
    snprintf(decision->detail, sizeof(decision->detail), "job %s accepted", terms->job_id);
    return true;
}

/* Returns true when resolved path lies inside resolved folder. */
static bool path_inside(const char *path, const char *folder)
{
    size_t length = strlen(folder);
    if (length == 1 && folder[0] == '/')
        return true;
    return strncmp(path, folder, length) == 0 && (path[length] == '/' || path[length] == '\0');
}

static int check_one(const agent_config *config, const char *file, fl_error *err)
{
    char resolved[PATH_MAX];
    if (realpath(file, resolved) == NULL)
        return fl_error_set(err, FL_ENOTFOUND, "data file %s: %s", file, strerror(errno));

    for (size_t i = 0; i < config->allowed_data_paths.count; i++) {
        char folder[PATH_MAX];
        if (realpath(config->allowed_data_paths.items[i], folder) != NULL &&
            path_inside(resolved, folder))
            return FL_OK;
    }
    return fl_error_set(err, FL_EPERM,
                        "data file %s (%s) is outside [policy] allowed_data_paths; move it or "
                        "add its folder to that list",
                        file, resolved);
}

int agent_policy_check_data_paths(const agent_config *config, fl_error *err)
{
    if (config->allowed_data_paths.count == 0)
        return FL_OK;
    for (size_t i = 0; i < config->train_files.count; i++) {
        int rc = check_one(config, config->train_files.items[i], err);
        if (rc != FL_OK)
            return rc;
    }
    if (config->validation_file != NULL && config->validation_file[0] != '\0')
        return check_one(config, config->validation_file, err);
    return FL_OK;
}
