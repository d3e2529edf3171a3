/*
 * agent_config.h - the site agent's configuration file, including the
 * site's local policy. Only the site administrator edits this file; nothing
 * a coordinator or researcher sends can change it.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_config.h"

typedef struct agent_config {
    /* [agent] */
    char *site_id;             /* this site's name in the project manifest */
    char *state_dir;           /* downloaded adapters, round state */
    char *audit_log;           /* append-only JSON lines of every outbound message */
    int log_level;

    /* [project] */
    char *endpoint;            /* ZeroMQ endpoint of the coordinator */
    char *manifest_file;       /* signed manifest: coordinator, sites, researchers, keys */
    char *project_public_key;  /* Ed25519 key that signed the manifest, Z85 */

    /* [keys] */
    char *key_file;            /* site's secret keys (mode 0600): Ed25519 and CURVE */

    /* [data] */
    fl_strlist train_files;    /* JSONL training files */
    char *validation_file;     /* JSONL validation file */
    char *base_model_dir;      /* Hugging Face model folder */

    /* [policy] */
    fl_strlist accepted_researchers; /* researcher names whose jobs this site runs */
    int64_t min_sites;         /* minimum number of sites in one aggregation */
    double clip_bound;         /* L-infinity bound of each delta element */
    bool require_secure_aggregation;
    int64_t max_local_steps;
    fl_strlist allowed_data_paths; /* folders that data files must be inside */

    /* [trainer] */
    int64_t threads;           /* 0 = one per core */
    bool require_sandbox;      /* refuse to train without the Landlock sandbox */
    double stop_timeout;       /* seconds from SIGTERM to SIGKILL of an aborted trainer */
} agent_config;

extern const fl_cfg_key agent_config_keys[];
extern const size_t agent_config_key_count;

/* Loads path; on failure err names the file, line and key. Release in both cases. */
int agent_config_load(agent_config *config, const char *path, fl_error *err) FL_WARN_UNUSED;

void agent_config_release(agent_config *config);

#endif
