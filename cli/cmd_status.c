/*
 * fedlora status: sites, the active job, its round and phase, per-site
 * metrics and refusals, as the coordinator reports them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"
#include "fl_json.h"

static const cli_option s_options[] = {
    {"json", NULL, "print the coordinator's status JSON instead of a summary"},
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static void print_sites(const json_t *sites)
{
    printf("Sites:\n");
    size_t index;
    const json_t *site;
    json_array_foreach(sites, index, site) {
        const json_t *ago = json_object_get(site, "last_seen_s_ago");
        char seen[64] = "never seen";
        if (json_is_number(ago))
            snprintf(seen, sizeof(seen), "last seen %.0f s ago", json_number_value(ago));
        printf("  %-24s %-8s %-20s%s\n", json_string_value(json_object_get(site, "name")),
               json_is_true(json_object_get(site, "online")) ? "online" : "offline", seen,
               json_is_true(json_object_get(site, "accepted_job")) ? " accepted the job" : "");
        const char *refusal = json_string_value(json_object_get(site, "refusal"));
        if (refusal != NULL)
            printf("  %-24s refused the job: %s\n", "", refusal);
    }
}

/* Prints each site's metrics of the last round recorded. */
static void print_last_round(const json_t *rounds)
{
    size_t count = json_array_size(rounds);
    if (count == 0)
        return;
    const json_t *last = json_array_get(rounds, count - 1);
    printf("  last recorded round %lld (%s, %.1f s):\n",
           (long long)json_integer_value(json_object_get(last, "round")),
           json_string_value(json_object_get(last, "outcome")),
           json_number_value(json_object_get(last, "duration_s")));
    size_t index;
    const json_t *site;
    json_array_foreach(json_object_get(last, "sites"), index, site) {
        const json_t *loss = json_object_get(site, "val_loss");
        printf("    %-24s %s", json_string_value(json_object_get(site, "site")),
               json_is_true(json_object_get(site, "participated")) ? "took part" : "dropped");
        if (json_is_number(loss))
            printf(", validation loss %.4f", json_number_value(loss));
        printf("\n");
    }
}

static void print_job(const json_t *job)
{
    if (!json_is_object(job)) {
        printf("Job: none active\n");
        return;
    }
    printf("Job: %s of %s, %s, round %lld of %lld, phase %s",
           json_string_value(json_object_get(job, "id")),
           json_string_value(json_object_get(job, "researcher")),
           json_string_value(json_object_get(job, "status")),
           (long long)json_integer_value(json_object_get(job, "round")),
           (long long)json_integer_value(json_object_get(job, "rounds")),
           json_string_value(json_object_get(job, "phase")));
    const json_t *progress = json_object_get(job, "progress");
    if (json_object_get(progress, "sites_expected") != NULL)
        printf(" (%lld of %lld sites done)\n",
               (long long)json_integer_value(json_object_get(progress, "sites_done")),
               (long long)json_integer_value(json_object_get(progress, "sites_expected")));
    else
        printf(" (%lld of %lld sites needed are ready)\n",
               (long long)json_integer_value(json_object_get(progress, "ready_sites")),
               (long long)json_integer_value(json_object_get(progress, "min_sites")));
    print_last_round(json_object_get(job, "rounds_so_far"));
}

/* Prints the job that ended last, if the coordinator reports one. */
static void print_last_job(const json_t *job)
{
    if (!json_is_object(job))
        return;
    const char *reason = json_string_value(json_object_get(job, "reason"));
    printf("Last job: %s, %s after %lld of %lld rounds%s%s\n",
           json_string_value(json_object_get(job, "id")),
           json_string_value(json_object_get(job, "status")),
           (long long)json_integer_value(json_object_get(job, "completed_rounds")),
           (long long)json_integer_value(json_object_get(job, "rounds")),
           reason != NULL && reason[0] != '\0' ? ": " : "", reason != NULL ? reason : "");
}

static int print_status(const char *text, bool as_json, fl_error *err)
{
    json_t *status = fl_json_load_text("status from the coordinator", text, strlen(text), err);
    if (status == NULL)
        return FL_EFORMAT;
    if (as_json) {
        char *pretty = json_dumps(status, JSON_INDENT(2));
        printf("%s\n", pretty != NULL ? pretty : text);
        free(pretty);
    } else {
        print_sites(json_object_get(status, "sites"));
        print_job(json_object_get(status, "job"));
        print_last_job(json_object_get(status, "last_job"));
        size_t queued = json_array_size(json_object_get(status, "queued_jobs"));
        if (queued > 0)
            printf("Queued jobs: %zu ('fedlora job list' shows them)\n", queued);
    }
    json_decref(status);
    return FL_OK;
}

int cmd_status(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("status", "[--json]",
                           "Shows the sites (online, last seen, refusals), the active job, its\n"
                           "round, phase and progress, and each site's metrics.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    if (args.positional_count != 0) {
        fprintf(stderr, "fedlora status: takes no arguments\n");
        return 2;
    }

    Fedlora__Admin__StatusRequest body = FEDLORA__ADMIN__STATUS_REQUEST__INIT;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_STATUS;
    request.status = &body;

    fl_error err = {0};
    admin_client *client = NULL;
    Fedlora__Admin__Response *response = NULL;
    int rc = admin_client_open(&client, "status", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = admin_client_call(client, &request, &response, &err);
    if (rc == FL_OK && response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_STATUS)
        rc = fl_error_set(&err, FL_EPROTO,
                          "unexpected reply from the coordinator: expected a status");
    if (rc == FL_OK)
        rc = print_status(response->status->status_json,
                          cli_get(&args, s_options, OPTION_COUNT, "json") != NULL, &err);
    proto_admin_response_free(&response);
    admin_client_destroy(&client);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora status: %s\n", err.msg);
        return 1;
    }
    return 0;
}
