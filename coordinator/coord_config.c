#include "coord_config.h"

#include <stddef.h>
#include <string.h>

static const char *const s_log_levels[] = {"debug", "info", "warn", "error", NULL};

/* KEY(section, name, type, field, default, required, min, max, choices, help) */
#define KEY(section, name, type, field, def, req, ...) \
    {section, name, type, offsetof(coord_config, field), def, req, __VA_ARGS__}

const fl_cfg_key coord_config_keys[] = {
    KEY("coordinator", "bind", FL_CFG_STRING, bind, "tcp://0.0.0.0:7700", false,
        FL_CFG_NO_BOUNDS, NULL, "ZeroMQ endpoint that agents connect to (local bind address)"),
    KEY("coordinator", "advertised_endpoint", FL_CFG_STRING, advertised_endpoint, NULL, true,
        FL_CFG_NO_BOUNDS, NULL, "Endpoint that sites dial, as written into their kits"),
    KEY("coordinator", "admin_bind", FL_CFG_STRING, admin_bind, "tcp://127.0.0.1:7701", false,
        FL_CFG_NO_BOUNDS, NULL, "ZeroMQ endpoint of the admin socket for researchers"),
    KEY("coordinator", "state_dir", FL_CFG_PATH, state_dir, "/var/lib/fedlora/coordinator",
        false, FL_CFG_NO_BOUNDS, NULL, "Folder for jobs, round state and checkpoints"),
    KEY("coordinator", "log_level", FL_CFG_ENUM, log_level, "info", false, FL_CFG_NO_BOUNDS,
        s_log_levels, "Minimum level of log lines written to stderr"),
    KEY("keys", "key_file", FL_CFG_PATH, key_file, NULL, true, FL_CFG_NO_BOUNDS, NULL,
        "Secret key file (mode 0600): Ed25519 key that signs adapters, CURVE transport key"),
    KEY("keys", "manifest_file", FL_CFG_PATH, manifest_file, NULL, true, FL_CFG_NO_BOUNDS,
        NULL, "Signed project manifest listing sites, researchers and their public keys"),
    KEY("keys", "project_public_key", FL_CFG_STRING, project_public_key, NULL, true,
        FL_CFG_NO_BOUNDS, NULL, "Ed25519 public key (40 Z85 characters) that signed the manifest"),
    KEY("transport", "heartbeat_interval", FL_CFG_SECONDS, heartbeat_interval, "5s", false, 0.1,
        3600, NULL, "Time between heartbeats, in seconds (suffixes ms, s, m, h accepted)"),
    KEY("transport", "heartbeat_timeout", FL_CFG_SECONDS, heartbeat_timeout, "60s", false, 1,
        86400, NULL, "Silence after which a site counts as dropped, in seconds"),
    KEY("transport", "chunk_size", FL_CFG_BYTES, chunk_size, "4M", false, 4096, 1073741824.0, NULL,
        "Bytes per chunk of a large object on the wire (suffixes K, M, G accepted)"),
    KEY("rounds", "gather_time", FL_CFG_SECONDS, gather_time, "10s", false, 0, 86400, NULL,
        "Once a job's minimum number of sites is ready, time to wait for more before a "
        "round starts, in seconds"),
};

const size_t coord_config_key_count = sizeof(coord_config_keys) / sizeof(coord_config_keys[0]);

int coord_config_load(coord_config *config, const char *path, fl_error *err)
{
    memset(config, 0, sizeof(*config));
    return fl_config_load(coord_config_keys, coord_config_key_count, path, config, err);
}

void coord_config_release(coord_config *config)
{
    fl_config_release(coord_config_keys, coord_config_key_count, config);
}
