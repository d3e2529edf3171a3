/*
 * fedlora doctor: checks a site's setup before (or instead of) starting the
 * agent, and prints a checklist with what to fix.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "agent_audit.h"
#include "agent_config.h"
#include "agent_policy.h"
#include "agent_sandbox.h"
#include "chat_format.h"
#include "cli.h"
#include "cmd.h"
#include "fc_keys.h"
#include "fc_manifest.h"
#include "fc_model_hash.h"
#include "fl_file.h"
#include "fl_log.h"
#include "proto_transport.h"
#include "rec_dataset.h"
#include "tok_tokenizer.h"
#include "tr_config.h"
#include "tr_model.h"

static const cli_option s_options[] = {
    {"config", "FILE", "the agent's configuration file (required)"},
    {"no-connect", NULL, "skip the connection to the coordinator (for example while the agent runs)"},
    {"timeout", "SECONDS", "how long to wait for the coordinator's answer (default 10)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

typedef struct doctor {
    int failures;
    agent_config config;
    fc_identity *identity;
    fc_manifest *manifest;
} doctor;

static void report(doctor *d, bool ok, const char *fmt, ...) FL_PRINTF(3, 4);

static void report(doctor *d, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("[%s] ", ok ? " OK " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!ok)
        d->failures++;
}

static void check_keys(doctor *d)
{
    fl_error err = {0};
    int rc = fc_identity_load(d->config.key_file, &d->identity, &err);
    if (rc != FL_OK) {
        report(d, false, "key file: %s", err.msg);
        return;
    }
    fc_public_identity keys;
    fc_identity_public(d->identity, &keys);
    char fingerprint[FC_FINGERPRINT_TEXT_BYTES];
    fc_fingerprint(fingerprint, keys.sign_public);
    report(d, true, "key file %s is private (0600); signing key fingerprint %s", d->config.key_file,
           fingerprint);
}

static void check_manifest(doctor *d)
{
    fl_error err = {0};
    uint8_t project_key[FC_SIGN_PUBLIC_BYTES];
    if (fc_key_from_z85(project_key, d->config.project_public_key, "[project] project_public_key",
                        &err) != FL_OK ||
        fc_manifest_load(d->config.manifest_file, project_key, &d->manifest, &err) != FL_OK) {
        report(d, false, "manifest: %s", err.msg);
        return;
    }
    char project_fingerprint[FC_FINGERPRINT_TEXT_BYTES];
    fc_fingerprint(project_fingerprint, project_key);
    report(d, true,
           "manifest %s is signed by the project key %s (project '%s', %zu sites); compare this "
           "fingerprint with the research lead's",
           d->config.manifest_file, project_fingerprint, d->manifest->project,
           d->manifest->site_count);

    const fc_party *self = fc_manifest_find(d->manifest, FC_ROLE_SITE, d->config.site_id);
    if (self == NULL) {
        report(d, false, "site_id '%s' is not in the manifest; fix [agent] site_id",
               d->config.site_id);
        return;
    }
    if (d->identity != NULL) {
        fc_public_identity keys;
        fc_identity_public(d->identity, &keys);
        report(d, memcmp(&keys, &self->keys, sizeof(keys)) == 0,
               "the manifest lists this key file's public keys for site '%s'%s", self->name,
               memcmp(&keys, &self->keys, sizeof(keys)) == 0
                   ? ""
                   : " -- it does not: send the research lead this site's .pub file");
    }
    for (size_t i = 0; i < d->config.accepted_researchers.count; i++) {
        const char *name = d->config.accepted_researchers.items[i];
        bool known = fc_manifest_find(d->manifest, FC_ROLE_RESEARCHER, name) != NULL;
        report(d, known, "accepted researcher '%s' %s", name,
               known ? "is in the manifest" : "is not in the manifest; fix the policy");
    }
}

static void check_model(doctor *d)
{
    char path[4096];
    tr_config config;
    fl_error err = {0};
    if (fl_path_format(path, sizeof(path), "%s/config.json", d->config.base_model_dir) != FL_OK ||
        tr_config_load(&config, path, &err) != FL_OK) {
        report(d, false, "base model: %s", err.msg[0] ? err.msg : "path too long");
        return;
    }
    uint8_t hash[FC_MODEL_HASH_BYTES];
    if (fc_model_hash(d->config.base_model_dir, hash, &err) != FL_OK) {
        report(d, false, "base model: %s", err.msg);
        return;
    }
    char hex[FC_MODEL_HASH_HEX];
    fc_model_hash_hex(hex, hash);
    report(d, true, "base model %s: %s, hash %s (jobs must name this hash)",
           d->config.base_model_dir, tr_arch_class(config.arch), hex);
    if (fl_path_format(path, sizeof(path), "%s/tokenizer.json", d->config.base_model_dir) == FL_OK)
        report(d, tr_model_check_tokenizer(&config, path, &err) == FL_OK, "tokenizer %s%s%s",
               path, err.msg[0] ? ": " : " fits the model's vocabulary", err.msg);
}

static void check_data_file(doctor *d, const char *file, tok_tokenizer *tok, chat_family chat)
{
    rec_options options;
    rec_options_init(&options);
    options.chat = chat;
    options.seq_len = 4096;
    rec_dataset *data = NULL;
    fl_error err = {0};
    if (rec_dataset_load(file, tok, &options, &data, &err) != FL_OK) {
        report(d, false, "data: %s", err.msg);
        return;
    }
    const rec_stats *stats = rec_dataset_stats(data);
    report(d, true, "data %s: %zu %s records, %zu tokens, %zu trained on", file, stats->records,
           rec_format_name(stats->format), stats->tokens, stats->trained_tokens);
    rec_dataset_destroy(&data);
}

static void check_data(doctor *d)
{
    fl_error err = {0};
    report(d, agent_policy_check_data_paths(&d->config, &err) == FL_OK, "data paths %s%s",
           err.msg[0] ? "-- " : "are inside the allowed folders", err.msg);

    char path[4096], config_path[4096];
    tok_tokenizer *tok = NULL;
    chat_family chat = CHAT_UNKNOWN;
    if (fl_path_format(path, sizeof(path), "%s/tokenizer.json", d->config.base_model_dir) != FL_OK ||
        tok_load(path, &tok, &err) != FL_OK) {
        report(d, false, "data files not checked: the tokenizer does not load: %s", err.msg);
        return;
    }
    if (chat_config_path(path, config_path, sizeof(config_path)) != FL_OK ||
        chat_detect(tok, config_path, &chat, &err) != FL_OK)
        report(d, false, "chat template: %s", err.msg);
    for (size_t i = 0; i < d->config.train_files.count; i++)
        check_data_file(d, d->config.train_files.items[i], tok, chat);
    if (d->config.validation_file != NULL && d->config.validation_file[0] != '\0')
        check_data_file(d, d->config.validation_file, tok, chat);
    tok_destroy(&tok);
}

static void check_local(doctor *d)
{
    fl_error err = {0};
    bool writable = fl_file_mkdirs(d->config.state_dir, 0700, &err) == FL_OK &&
                    access(d->config.state_dir, W_OK) == 0;
    report(d, writable, "state folder %s %s", d->config.state_dir,
           writable ? "is writable" : "is not writable; fix its owner or permissions");

    agent_audit_report audit;
    if (access(d->config.audit_log, F_OK) != 0)
        report(d, true, "audit log %s will be created on first start", d->config.audit_log);
    else
        report(d, agent_audit_verify(d->config.audit_log, &audit, &err) == FL_OK,
               "audit log %s%s%s", d->config.audit_log,
               err.msg[0] ? ": " : ": chain intact", err.msg);

    int abi = agent_sandbox_abi();
    report(d, abi > 0 || !d->config.require_sandbox,
           "trainer sandbox: %s", abi > 0 ? "Landlock is available"
                                           : "this kernel has no Landlock (Linux 5.13 or later "
                                             "needed); training would be refused");
}

/* Connects as this site and waits for the coordinator's Hello. */
static void check_connection(doctor *d, int timeout_s)
{
    if (d->identity == NULL || d->manifest == NULL) {
        report(d, false, "coordinator not contacted: fix the key file and manifest first");
        return;
    }
    const fc_party *self = fc_manifest_find(d->manifest, FC_ROLE_SITE, d->config.site_id);
    void *zmq = zmq_ctx_new();
    proto_link *link = NULL;
    proto_link_options options;
    proto_link_options_default(&options);
    fl_error err = {0};
    bool answered = false;
    fl_log_set_level(FL_LOG_ERROR);
    if (self != NULL &&
        proto_client_new(zmq, d->config.endpoint, d->manifest->coordinator.keys.curve_public,
                         self->keys.curve_public, fc_identity_curve_secret(d->identity),
                         d->config.site_id, &options, &link, &err) == FL_OK) {
        for (int waited = 0; waited < timeout_s * 10 && !answered; waited++) {
            proto_message message;
            if (proto_link_recv(link, 100, &message, NULL) == FL_OK) {
                answered = message.envelope->body_case == FEDLORA__ENVELOPE__BODY_HELLO;
                proto_message_release(&message);
            }
        }
    }
    proto_link_destroy(&link);
    zmq_ctx_term(zmq);
    report(d, answered,
           "coordinator at %s %s", d->config.endpoint,
           answered ? "answered over CURVE with the key the manifest lists"
                    : "did not answer: check that it runs, that the endpoint is reachable from "
                      "here, and that the project lists this site's key");
}

int cmd_doctor(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("doctor", "--config FILE [--no-connect] [--timeout SECONDS]",
                           "Checks a site's setup: the configuration, the key file and its\n"
                           "permissions, the signed manifest, the base model and its hash, the\n"
                           "data files, the state folder, the audit log, the trainer sandbox\n"
                           "and the connection to the coordinator. Run it before the agent\n"
                           "starts: connecting as the site replaces a running agent's session.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *path = cli_get(&args, s_options, OPTION_COUNT, "config");
    const char *timeout_text = cli_get(&args, s_options, OPTION_COUNT, "timeout");
    int64_t timeout = 10;
    if (path == NULL) {
        fprintf(stderr, "fedlora doctor: --config FILE is required\n");
        return 2;
    }
    if (timeout_text != NULL && !cli_to_int("doctor", "timeout", timeout_text, 1, 600, &timeout))
        return 2;

    doctor d;
    memset(&d, 0, sizeof(d));
    fl_error err = {0};
    if (agent_config_load(&d.config, path, &err) != FL_OK) {
        report(&d, false, "configuration: %s", err.msg);
        agent_config_release(&d.config);
        return 1;
    }
    report(&d, true, "configuration %s is valid", path);
    if (fc_init() != FL_OK) {
        report(&d, false, "libsodium failed to initialise");
        return 1;
    }
    check_keys(&d);
    check_manifest(&d);
    check_model(&d);
    check_data(&d);
    check_local(&d);
    if (cli_get(&args, s_options, OPTION_COUNT, "no-connect") == NULL)
        check_connection(&d, (int)timeout);

    printf("%s\n", d.failures == 0 ? "Everything checked is in order."
                                   : "Fix the items marked FAIL, then run fedlora doctor again.");
    fc_identity_destroy(&d.identity);
    fc_manifest_destroy(&d.manifest);
    agent_config_release(&d.config);
    return d.failures == 0 ? 0 : 1;
}
