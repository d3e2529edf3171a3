/*
 * fedlora job list: the coordinator's jobs with their status and rounds.
 */
#include <stdio.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"

static const cli_option s_options[] = {
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static void print_jobs(const Fedlora__Admin__ListResponse *list)
{
    if (list->n_jobs == 0) {
        printf("no jobs; submit one with 'fedlora job submit FILE'\n");
        return;
    }
    printf("%-32s %-10s %-9s %-16s %s\n", "JOB", "STATUS", "ROUNDS", "RESEARCHER", "REASON");
    for (size_t i = 0; i < list->n_jobs; i++) {
        const Fedlora__Admin__JobSummary *job = list->jobs[i];
        char rounds[32];
        snprintf(rounds, sizeof(rounds), "%u/%u", job->completed_rounds, job->rounds);
        printf("%-32s %-10s %-9s %-16s %s\n", job->id, job->status, rounds, job->researcher,
               job->reason);
    }
}

int cmd_job_list(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("job list", "",
                           "Lists the coordinator's jobs: status, completed and planned rounds,\n"
                           "researcher and why a job was aborted or failed.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    if (args.positional_count != 0) {
        fprintf(stderr, "fedlora job list: takes no arguments\n");
        return 2;
    }

    fl_error err = {0};
    admin_client *client = NULL;
    Fedlora__Admin__Response *response = NULL;
    Fedlora__Admin__ListRequest body = FEDLORA__ADMIN__LIST_REQUEST__INIT;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_LIST;
    request.list = &body;

    int rc = admin_client_open(&client, "job list", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = admin_client_call(client, &request, &response, &err);
    if (rc == FL_OK && response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_LIST)
        rc = fl_error_set(&err, FL_EPROTO,
                          "unexpected reply from the coordinator: expected a job list");
    if (rc == FL_OK)
        print_jobs(response->list);
    proto_admin_response_free(&response);
    admin_client_destroy(&client);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora job list: %s\n", err.msg);
        return 1;
    }
    return 0;
}
