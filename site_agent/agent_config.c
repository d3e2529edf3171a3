#include "agent_config.h"

#include <stddef.h>
#include <string.h>

static const char *const s_log_levels[] = {"debug", "info", "warn", "error", NULL};

/* KEY(section, name, type, field, default, required, min, max, choices, help) */
#define KEY(section, name, type, field, def, req, ...) \
    {section, name, type, offsetof(agent_config, field), def, req, __VA_ARGS__}

const fl_cfg_key agent_config_keys[] = {
    KEY("agent", "site_id", FL_CFG_STRING, site_id, NULL, true, FL_CFG_NO_BOUNDS, NULL,
        "This site's name, exactly as in the project manifest"),
    KEY("agent", "state_dir", FL_CFG_PATH, state_dir, "/var/lib/fedlora/agent", false,
        FL_CFG_NO_BOUNDS, NULL, "Folder for downloaded adapters and round state"),
    KEY("agent", "audit_log", FL_CFG_PATH, audit_log, "/var/log/fedlora/audit.jsonl", false,
        FL_CFG_NO_BOUNDS, NULL, "Append-only audit log of every message that leaves the site"),
    KEY("agent", "log_level", FL_CFG_ENUM, log_level, "info", false, FL_CFG_NO_BOUNDS,
        s_log_levels, "Minimum level of log lines written to stderr"),
    KEY("project", "endpoint", FL_CFG_STRING, endpoint, NULL, true, FL_CFG_NO_BOUNDS, NULL,
        "ZeroMQ endpoint of the coordinator, for example tcp://coord.example.org:7700"),
    KEY("project", "manifest_file", FL_CFG_PATH, manifest_file, NULL, true, FL_CFG_NO_BOUNDS,
        NULL, "Signed project manifest: the coordinator's, sites' and researchers' public keys"),
    KEY("project", "project_public_key", FL_CFG_STRING, project_public_key, NULL, true,
        FL_CFG_NO_BOUNDS, NULL,
        "Ed25519 public key (40 Z85 characters) that signed the manifest; check its "
        "fingerprint with the research lead"),
    KEY("keys", "key_file", FL_CFG_PATH, key_file, NULL, true, FL_CFG_NO_BOUNDS, NULL,
        "This site's secret key file (mode 0600), made by 'fedlora keygen' or the kit"),
    KEY("data", "train_files", FL_CFG_LIST, train_files, NULL, true, FL_CFG_NO_BOUNDS, NULL,
        "Comma-separated JSONL training files"),
    KEY("data", "validation_file", FL_CFG_PATH, validation_file, NULL, false,
        FL_CFG_NO_BOUNDS, NULL, "JSONL validation file; empty holds out 10% of training"),
    KEY("data", "base_model_dir", FL_CFG_PATH, base_model_dir, NULL, true, FL_CFG_NO_BOUNDS,
        NULL, "Hugging Face model folder (config.json, *.safetensors, tokenizer.json)"),
    KEY("policy", "accepted_researchers", FL_CFG_LIST, accepted_researchers, NULL, true,
        FL_CFG_NO_BOUNDS, NULL, "Comma-separated researcher names whose jobs this site runs"),
    KEY("policy", "min_sites", FL_CFG_INT, min_sites, "3", false, 3, 1000, NULL,
        "Minimum number of sites in one aggregation (3 or more)"),
    KEY("policy", "clip_bound", FL_CFG_DOUBLE, clip_bound, "1.0", false, 1e-6, 1e6, NULL,
        "Largest absolute value of one adapter delta element before quantisation"),
    KEY("policy", "require_secure_aggregation", FL_CFG_BOOL, require_secure_aggregation, "true",
        false, FL_CFG_NO_BOUNDS, NULL, "Reject jobs that do not use secure aggregation"),
    KEY("policy", "max_local_steps", FL_CFG_INT, max_local_steps, "1000", false, 1, 10000000, NULL,
        "Most optimizer steps this site runs in one round"),
    KEY("policy", "allowed_data_paths", FL_CFG_LIST, allowed_data_paths, NULL, false,
        FL_CFG_NO_BOUNDS, NULL, "Comma-separated folders that data files must be inside"),
    KEY("trainer", "threads", FL_CFG_INT, threads, "0", false, 0, 1024, NULL,
        "Trainer threads; 0 uses one per core"),
    KEY("trainer", "require_sandbox", FL_CFG_BOOL, require_sandbox, "true", false,
        FL_CFG_NO_BOUNDS, NULL,
        "Refuse to train when the kernel lacks Landlock, which keeps the trainer process away "
        "from the site key"),
    KEY("trainer", "stop_timeout", FL_CFG_SECONDS, stop_timeout, "30s", false, 1, 3600, NULL,
        "Maximum time the trainer process runs on after an abort: it gets SIGTERM at once and "
        "SIGKILL when this time has passed, in seconds (suffixes ms, s, m, h accepted)"),
};

const size_t agent_config_key_count = sizeof(agent_config_keys) / sizeof(agent_config_keys[0]);

int agent_config_load(agent_config *config, const char *path, fl_error *err)
{
    memset(config, 0, sizeof(*config));
    return fl_config_load(agent_config_keys, agent_config_key_count, path, config, err);
}

void agent_config_release(agent_config *config)
{
    fl_config_release(agent_config_keys, agent_config_key_count, config);
}
