/*
 * coord_setup.h - everything the coordinator loads before it serves: the
 * configuration, its secret keys and the verified project manifest.
 */
#ifndef COORD_SETUP_H
#define COORD_SETUP_H

#include "coord_config.h"
#include "fc_keys.h"
#include "fc_manifest.h"
#include "fl_error.h"

typedef struct coord_setup {
    coord_config config;
    fc_identity *identity;  /* signs global adapters; CURVE server key */
    fc_manifest *manifest;  /* verified with the configured project key */
} coord_setup;

/*
 * Loads and cross-checks config_path, the key file (mode 0600 enforced) and
 * the manifest, whose coordinator entry must carry this key's public half.
 * Release with coord_setup_release in every case.
 */
int coord_setup_load(coord_setup *setup, const char *config_path, fl_error *err) FL_WARN_UNUSED;

void coord_setup_release(coord_setup *setup);

#endif
