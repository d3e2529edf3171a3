/*
 * coord_config.h - the coordinator's configuration file.
 */
#ifndef COORD_CONFIG_H
#define COORD_CONFIG_H

#include <stdint.h>

#include "fl_config.h"

typedef struct coord_config {
    /* [coordinator] */
    char *bind;                /* ZeroMQ endpoint the agents' socket binds to */
    char *advertised_endpoint; /* endpoint written into site kits */
    char *admin_bind;          /* endpoint of the researchers' admin socket */
    char *state_dir;           /* jobs, rounds and checkpoints */
    int log_level;             /* index into fl_log_level names */

    /* [keys] */
    char *key_file;            /* secret keys: Ed25519 (signs adapters) and CURVE */
    char *manifest_file;       /* signed project manifest: sites, researchers, public keys */
    char *project_public_key;  /* Ed25519 key that signed the manifest, Z85 */

    /* [transport] */
    double heartbeat_interval; /* seconds */
    double heartbeat_timeout;  /* seconds of silence before a site counts as dropped */
    uint64_t chunk_size;       /* bytes per chunk of a large object */

    /* [rounds] */
    double gather_time;        /* seconds to wait for more sites once min_sites are ready */
} coord_config;

extern const fl_cfg_key coord_config_keys[];
extern const size_t coord_config_key_count;

/* Loads path; on failure err names the file, line and key. Release in both cases. */
int coord_config_load(coord_config *config, const char *path, fl_error *err) FL_WARN_UNUSED;

void coord_config_release(coord_config *config);

#endif
