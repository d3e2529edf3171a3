/*
 * agent_setup.h - everything the agent loads before it connects: the
 * configuration with the site's policy, its secret keys and the verified
 * project manifest.
 */
#ifndef AGENT_SETUP_H
#define AGENT_SETUP_H

#include "agent_config.h"
#include "fc_keys.h"
#include "fc_manifest.h"
#include "fl_error.h"

typedef struct agent_setup {
    agent_config config;
    fc_identity *identity;  /* site identity and CURVE client key */
    fc_manifest *manifest;  /* verified with the configured project key */
    const fc_party *self;   /* this site's manifest entry */
} agent_setup;

/*
 * Loads and cross-checks config_path, the key file (mode 0600 enforced) and
 * the manifest, which must list site_id with this key's public half, and
 * every accepted researcher. Release with agent_setup_release in every case.
 */
int agent_setup_load(agent_setup *setup, const char *config_path, fl_error *err) FL_WARN_UNUSED;

void agent_setup_release(agent_setup *setup);

#endif
