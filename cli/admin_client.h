/*
 * admin_client.h - the researcher's side of the coordinator's admin socket.
 *
 * The researcher's configuration (fedlora.conf in the researcher kit that
 * `fedlora provision` writes) names the researcher, the secret key file,
 * the admin endpoint and the signed manifest:
 *
 *   [researcher]
 *   name = alice
 *   key_file = researcher.key
 *   [project]
 *   admin_endpoint = "tcp://coord.example.org:7701"
 *   manifest_file = manifest.json
 *   project_public_key = "<40 Z85 characters>"
 *
 * The file is the one given with --config (after the command, or before it:
 * `fedlora --config FILE COMMAND`), else $FEDLORA_CONFIG, else
 * ~/.config/fedlora/fedlora.conf. The coordinator's CURVE key comes from the
 * manifest, which is checked against the project key first.
 */
#ifndef ADMIN_CLIENT_H
#define ADMIN_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "cli.h"
#include "fl_config.h"
#include "fl_error.h"
#include "proto_admin.h"

/* Option rows every admin command adds to its cli_option table. */
#define ADMIN_CLIENT_OPTIONS                                                                    \
    {"config", "FILE",                                                                          \
     "researcher configuration file (default: $FEDLORA_CONFIG, else "                          \
     "~/.config/fedlora/fedlora.conf)"},                                                        \
    {"timeout", "SECONDS", "time to wait for the coordinator's reply, in seconds (default 15)"}

#define ADMIN_CLIENT_DEFAULT_TIMEOUT_S 15.0

typedef struct admin_client admin_client;

/* The researcher configuration, as admin_client_config_keys reads it. */
typedef struct researcher_config {
    char *name;
    char *key_file;
    char *admin_endpoint;
    char *manifest_file;
    char *project_public_key;
} researcher_config;

extern const fl_cfg_key admin_client_config_keys[];
extern const size_t admin_client_config_key_count;

/*
 * Reads the researcher configuration chosen by the --config and --timeout
 * values in args (see ADMIN_CLIENT_OPTIONS), loads the key and the verified
 * manifest, and connects to the admin endpoint. Caller owns *out. Returns
 * FL_OK, or a negative fl_status with err saying what to fix.
 */
int admin_client_open(admin_client **out, const char *command, const cli_args *args,
                      const cli_option *options, size_t count, fl_error *err) FL_WARN_UNUSED;

/* Closes the connection, wipes the key and frees the client; clears the pointer. NULL-safe. */
void admin_client_destroy(admin_client **client);

/*
 * Sends request (whose body the caller set; the header is filled in here)
 * and waits for its response. On FL_OK the caller owns *response (free it
 * with proto_admin_response_free()). A request the coordinator rejected
 * returns its code with its message in err; FL_EPERM means the handshake
 * was rejected, FL_ETIMEOUT that no reply came in time.
 */
int admin_client_call(admin_client *client, Fedlora__Admin__Request *request,
                      Fedlora__Admin__Response **response, fl_error *err) FL_WARN_UNUSED;

/*
 * Fetches the history of job_id (settings, status and one record per
 * round) as `fedlora logs` prints it. Caller owns *history (json_decref).
 */
int admin_client_fetch_history(admin_client *client, const char *job_id, json_t **history,
                               fl_error *err) FL_WARN_UNUSED;

/* Returns the researcher's name from the configuration. */
const char *admin_client_researcher(const admin_client *client);

#endif
