#include "admin_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "fc_keys.h"
#include "fc_manifest.h"
#include "fl_config.h"
#include "fl_file.h"
#include "fl_json.h"
#include "fl_mem.h"
#include "fl_time.h"

#define PATH_SIZE 4096

#define KEY(section, name, type, field, required, help)                                      \
    {section, name, type, offsetof(researcher_config, field), NULL, required, FL_CFG_NO_BOUNDS, \
     NULL, help}

const fl_cfg_key admin_client_config_keys[] = {
    KEY("researcher", "name", FL_CFG_STRING, name, true,
        "Researcher name as listed in the project manifest"),
    KEY("researcher", "key_file", FL_CFG_PATH, key_file, true,
        "Secret key file of the researcher (mode 0600), relative to this file's folder"),
    KEY("project", "admin_endpoint", FL_CFG_STRING, admin_endpoint, true,
        "ZeroMQ endpoint of the coordinator's admin socket"),
    KEY("project", "manifest_file", FL_CFG_PATH, manifest_file, true,
        "Signed project manifest with the coordinator's public keys, relative to this "
        "file's folder"),
    KEY("project", "project_public_key", FL_CFG_STRING, project_public_key, true,
        "Ed25519 public key (40 Z85 characters) that signed the manifest"),
};
const size_t admin_client_config_key_count =
    sizeof(admin_client_config_keys) / sizeof(admin_client_config_keys[0]);

struct admin_client {
    researcher_config config;
    char config_path[PATH_SIZE];
    double timeout_s;
    void *zmq;
    void *socket;
    void *monitor;
};

/* Picks the configuration file: --config, a global --config, $FEDLORA_CONFIG, then the default. */
static int find_config(const char *given, char path[PATH_SIZE], fl_error *err)
{
    const char *chosen = given != NULL ? given : cli_global_config();
    if (chosen == NULL)
        chosen = getenv("FEDLORA_CONFIG");
    if (chosen != NULL && chosen[0] != '\0') {
        if (fl_path_format(path, PATH_SIZE, "%s", chosen) != FL_OK)
            return fl_error_set(err, FL_ERANGE, "configuration path too long");
        return FL_OK;
    }

    const char *home = getenv("HOME");
    if (home == NULL || fl_path_format(path, PATH_SIZE, "%s/.config/fedlora/fedlora.conf",
                                       home) != FL_OK)
        path[0] = '\0';
    if (path[0] == '\0' || access(path, F_OK) != 0)
        return fl_error_set(err, FL_ENOTFOUND,
                            "no researcher configuration found: pass --config FILE (the "
                            "fedlora.conf of your researcher kit), set FEDLORA_CONFIG, or copy "
                            "it to ~/.config/fedlora/fedlora.conf");
    return FL_OK;
}

static int set_option(void *socket, int option, const void *value, size_t length,
                      const char *name, fl_error *err)
{
    if (zmq_setsockopt(socket, option, value, length) != 0)
        return fl_error_set(err, FL_ENET, "cannot set %s on the admin connection: %s", name,
                            zmq_strerror(zmq_errno()));
    return FL_OK;
}

/* Sets the CURVE keys: the coordinator's from the manifest, the researcher's own pair. */
static int set_keys(admin_client *client, const fc_manifest *manifest,
                    const fc_identity *identity, fl_error *err)
{
    fc_public_identity own;
    fc_identity_public(identity, &own);
    int rc = set_option(client->socket, ZMQ_CURVE_SERVERKEY,
                        manifest->coordinator.keys.curve_public, FC_CURVE_PUBLIC_BYTES,
                        "ZMQ_CURVE_SERVERKEY", err);
    if (rc == FL_OK)
        rc = set_option(client->socket, ZMQ_CURVE_PUBLICKEY, own.curve_public,
                        FC_CURVE_PUBLIC_BYTES, "ZMQ_CURVE_PUBLICKEY", err);
    if (rc == FL_OK)
        rc = set_option(client->socket, ZMQ_CURVE_SECRETKEY, fc_identity_curve_secret(identity),
                        FC_CURVE_SECRET_BYTES, "ZMQ_CURVE_SECRETKEY", err);
    return rc;
}

/* Watches the handshake, so a rejected key is reported as such instead of as a timeout. */
static int open_monitor(admin_client *client, fl_error *err)
{
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "inproc://fedlora-admin-monitor-%p", (void *)client);
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(client->socket, endpoint, events) != 0)
        return fl_error_set(err, FL_ENET, "cannot watch the admin connection: %s",
                            zmq_strerror(zmq_errno()));
    client->monitor = zmq_socket(client->zmq, ZMQ_PAIR);
    int zero = 0;
    if (client->monitor == NULL || zmq_connect(client->monitor, endpoint) != 0)
        return fl_error_set(err, FL_ENET, "cannot watch the admin connection: %s",
                            zmq_strerror(zmq_errno()));
    return set_option(client->monitor, ZMQ_LINGER, &zero, sizeof(zero), "ZMQ_LINGER", err);
}

static int connect_socket(admin_client *client, const fc_manifest *manifest,
                          const fc_identity *identity, fl_error *err)
{
    client->zmq = zmq_ctx_new();
    if (client->zmq == NULL)
        return fl_error_set(err, FL_ENET, "cannot create a ZeroMQ context");
    client->socket = zmq_socket(client->zmq, ZMQ_DEALER);
    if (client->socket == NULL)
        return fl_error_set(err, FL_ENET, "cannot create the admin socket: %s",
                            zmq_strerror(zmq_errno()));
    int zero = 0;
    int send_timeout_ms = (int)(client->timeout_s * 1000.0);
    int64_t max_message = PROTO_ADMIN_MAX_FRAME;
    int rc = set_option(client->socket, ZMQ_LINGER, &zero, sizeof(zero), "ZMQ_LINGER", err);
    if (rc == FL_OK)
        rc = set_option(client->socket, ZMQ_SNDTIMEO, &send_timeout_ms,
                        sizeof(send_timeout_ms), "ZMQ_SNDTIMEO", err);
    if (rc == FL_OK)
        rc = set_option(client->socket, ZMQ_MAXMSGSIZE, &max_message, sizeof(max_message),
                        "ZMQ_MAXMSGSIZE", err);
    if (rc == FL_OK)
        rc = set_keys(client, manifest, identity, err);
    if (rc == FL_OK)
        rc = open_monitor(client, err);
    if (rc != FL_OK)
        return rc;
    if (zmq_connect(client->socket, client->config.admin_endpoint) != 0)
        return fl_error_set(err, FL_ENET, "%s: admin_endpoint '%s' is not a valid endpoint: %s",
                            client->config_path, client->config.admin_endpoint,
                            zmq_strerror(zmq_errno()));
    return FL_OK;
}

static int load_and_connect(admin_client *client, fl_error *err)
{
    int rc = fl_config_load(admin_client_config_keys, admin_client_config_key_count, client->config_path, &client->config, err);
    if (rc == FL_OK)
        rc = fc_init();
    if (rc != FL_OK)
        return rc;

    uint8_t project_key[FC_SIGN_PUBLIC_BYTES];
    fc_identity *identity = NULL;
    fc_manifest *manifest = NULL;
    rc = fc_key_from_z85(project_key, client->config.project_public_key,
                         "[project] project_public_key", err);
    if (rc == FL_OK)
        rc = fc_identity_load(client->config.key_file, &identity, err);
    if (rc == FL_OK)
        rc = fc_manifest_load(client->config.manifest_file, project_key, &manifest, err);
    if (rc == FL_OK)
        rc = connect_socket(client, manifest, identity, err);
    fc_manifest_destroy(&manifest);
    fc_identity_destroy(&identity);
    return rc;
}

static int read_timeout(const char *command, const cli_args *args, const cli_option *options,
                        size_t count, double *timeout_s)
{
    const char *text = cli_get(args, options, count, "timeout");
    *timeout_s = ADMIN_CLIENT_DEFAULT_TIMEOUT_S;
    if (text != NULL && !cli_to_double(command, "timeout", text, 0.1, 86400.0, timeout_s))
        return FL_EINVAL;
    return FL_OK;
}

int admin_client_open(admin_client **out, const char *command, const cli_args *args,
                      const cli_option *options, size_t count, fl_error *err)
{
    *out = NULL;
    admin_client *client = fl_xcalloc(1, sizeof(*client));
    int rc = read_timeout(command, args, options, count, &client->timeout_s);
    if (rc != FL_OK)
        rc = fl_error_set(err, rc, "--timeout must be a number of seconds");
    if (rc == FL_OK)
        rc = find_config(cli_get(args, options, count, "config"), client->config_path, err);
    if (rc == FL_OK)
        rc = load_and_connect(client, err);
    if (rc != FL_OK) {
        admin_client_destroy(&client);
        return rc;
    }
    *out = client;
    return FL_OK;
}

void admin_client_destroy(admin_client **client)
{
    if (client == NULL || *client == NULL)
        return;
    admin_client *c = *client;
    if (c->monitor != NULL)
        zmq_close(c->monitor);
    if (c->socket != NULL)
        zmq_close(c->socket);
    if (c->zmq != NULL)
        zmq_ctx_term(c->zmq);
    fl_config_release(admin_client_config_keys, admin_client_config_key_count, &c->config);
    free(c);
    *client = NULL;
}

const char *admin_client_researcher(const admin_client *client)
{
    return client->config.name;
}

/* Reads one monitor event; returns FL_EPERM with a message when it is a failed handshake. */
static int check_monitor(admin_client *client, fl_error *err)
{
    zmq_msg_t event, address;
    zmq_msg_init(&event);
    zmq_msg_init(&address);
    int rc = FL_OK;
    if (zmq_msg_recv(&event, client->monitor, 0) >= 0 && zmq_msg_size(&event) >= 6 &&
        zmq_msg_recv(&address, client->monitor, 0) >= 0) {
        uint16_t kind;
        uint32_t value;
        memcpy(&kind, zmq_msg_data(&event), sizeof(kind));
        memcpy(&value, (uint8_t *)zmq_msg_data(&event) + 2, sizeof(value));
        if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            rc = fl_error_set(err, FL_EPERM,
                              "the coordinator at %s rejected the key in %s (ZAP status %u): it "
                              "is not a researcher key of this project; use your researcher "
                              "kit's key, or ask the project lead to add you",
                              client->config.admin_endpoint, client->config.key_file, value);
        else
            rc = fl_error_set(err, FL_ECRYPTO,
                              "the CURVE handshake with %s failed; check that manifest_file in "
                              "%s is the project's current manifest",
                              client->config.admin_endpoint, client->config_path);
    }
    zmq_msg_close(&event);
    zmq_msg_close(&address);
    return rc;
}

/* Waits for the response to request_id until the deadline. */
static int receive_response(admin_client *client, uint64_t request_id,
                            Fedlora__Admin__Response **response, fl_error *err)
{
    double deadline = fl_time_monotonic() + client->timeout_s;
    for (;;) {
        double left = deadline - fl_time_monotonic();
        if (left <= 0)
            return fl_error_set(err, FL_ETIMEOUT,
                                "no reply from the coordinator at %s within %g s; check that it "
                                "runs and that admin_endpoint in %s is right",
                                client->config.admin_endpoint, client->timeout_s,
                                client->config_path);
        zmq_pollitem_t items[2] = {{.socket = client->socket, .events = ZMQ_POLLIN},
                                   {.socket = client->monitor, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, (long)(left * 1000.0) + 1) < 0)
            return fl_error_set(err, FL_ENET, "waiting for the coordinator failed: %s",
                                zmq_strerror(zmq_errno()));
        if (items[1].revents & ZMQ_POLLIN) {
            int rc = check_monitor(client, err);
            if (rc != FL_OK)
                return rc;
        }
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;

        zmq_msg_t message;
        zmq_msg_init(&message);
        int rc = zmq_msg_recv(&message, client->socket, 0) < 0 ? FL_ENET : FL_OK;
        if (rc == FL_OK)
            rc = proto_admin_decode_response(zmq_msg_data(&message), zmq_msg_size(&message),
                                             response, err);
        zmq_msg_close(&message);
        if (rc != FL_OK)
            return fl_error_prefix(err, "invalid reply from the coordinator: ");
        if ((*response)->request_id == request_id)
            return FL_OK;
        proto_admin_response_free(response); /* a late reply to an earlier request */
    }
}

int admin_client_call(admin_client *client, Fedlora__Admin__Request *request,
                      Fedlora__Admin__Response **response, fl_error *err)
{
    *response = NULL;
    request->protocol_version = PROTO_ADMIN_VERSION;
    request->request_id = 0;
    while (request->request_id == 0)
        randombytes_buf(&request->request_id, sizeof(request->request_id));

    uint8_t *bytes = NULL;
    size_t length = 0;
    int rc = proto_admin_encode_request(request, &bytes, &length, err);
    if (rc != FL_OK)
        return rc;
    /* The DEALER queues the request until the connection is up; ZMQ_SNDTIMEO bounds the wait. */
    if (zmq_send(client->socket, bytes, length, 0) < 0)
        rc = fl_error_set(err, FL_ENET, "sending to %s failed: %s",
                          client->config.admin_endpoint, zmq_strerror(zmq_errno()));
    free(bytes);
    if (rc == FL_OK)
        rc = receive_response(client, request->request_id, response, err);
    if (rc != FL_OK || (*response)->code == FL_OK)
        return rc;

    rc = fl_error_set(err, (*response)->code, "%s", (*response)->error);
    proto_admin_response_free(response);
    return rc;
}

int admin_client_fetch_history(admin_client *client, const char *job_id, json_t **history,
                               fl_error *err)
{
    *history = NULL;
    Fedlora__Admin__LogsRequest logs = FEDLORA__ADMIN__LOGS_REQUEST__INIT;
    logs.job_id = (char *)job_id;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_LOGS;
    request.logs = &logs;

    Fedlora__Admin__Response *response = NULL;
    int rc = admin_client_call(client, &request, &response, err);
    if (rc != FL_OK)
        return rc;
    if (response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_LOGS)
        rc = fl_error_set(err, FL_EPROTO,
                          "unexpected reply from the coordinator: expected a history");
    if (rc == FL_OK) {
        const char *text = response->logs->history_json;
        *history = fl_json_load_text("job history from the coordinator", text, strlen(text),
                                     err);
        if (*history == NULL)
            rc = FL_EFORMAT;
    }
    proto_admin_response_free(&response);
    return rc;
}
