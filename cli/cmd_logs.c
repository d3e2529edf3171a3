/*
 * fedlora logs: a job's history (settings, status and one record per round).
 */
#include <stdio.h>
#include <stdlib.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"

static const cli_option s_options[] = {
    {"job", "ID", "id of the job (required)"},
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

int cmd_logs(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("logs", "--job ID",
                           "Prints a job's history as JSON: its settings, status and, for each\n"
                           "round, outcome, duration and each site's metrics.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *job_id = cli_get(&args, s_options, OPTION_COUNT, "job");
    if (job_id == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora logs: --job ID is required\n");
        return 2;
    }

    fl_error err = {0};
    admin_client *client = NULL;
    json_t *history = NULL;
    int rc = admin_client_open(&client, "logs", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = admin_client_fetch_history(client, job_id, &history, &err);
    if (rc == FL_OK) {
        char *text = json_dumps(history, JSON_INDENT(2));
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
    }
    json_decref(history);
    admin_client_destroy(&client);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora logs: %s\n", err.msg);
        return 1;
    }
    return 0;
}
