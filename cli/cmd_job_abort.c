/*
 * fedlora job abort: stop a queued or running job for good.
 */
#include <stdio.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"

static const cli_option s_options[] = {
    {"job", "ID", "id of the job to abort (required)"},
    {"reason", "TEXT", "why, shown in status, the job history and to the sites; at most 512 "
                       "bytes (default: none)"},
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

int cmd_job_abort(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("job abort", "--job ID [--reason TEXT]",
                           "Aborts a job: its running round stops, the sites are told, and the\n"
                           "job stays aborted, also after a coordinator restart.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *job_id = cli_get(&args, s_options, OPTION_COUNT, "job");
    const char *reason = cli_get(&args, s_options, OPTION_COUNT, "reason");
    if (job_id == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora job abort: --job ID is required\n");
        return 2;
    }

    Fedlora__Admin__AbortRequest body = FEDLORA__ADMIN__ABORT_REQUEST__INIT;
    body.job_id = (char *)job_id;
    body.reason = (char *)(reason != NULL ? reason : "");
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_ABORT;
    request.abort = &body;

    fl_error err = {0};
    admin_client *client = NULL;
    Fedlora__Admin__Response *response = NULL;
    int rc = admin_client_open(&client, "job abort", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = admin_client_call(client, &request, &response, &err);
    if (rc == FL_OK && response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_ABORT)
        rc = fl_error_set(&err, FL_EPROTO,
                          "unexpected reply from the coordinator: expected an abort");
    if (rc == FL_OK)
        printf("job %s aborted (it was %s)\n", response->abort->job_id,
               response->abort->previous_status);
    proto_admin_response_free(&response);
    admin_client_destroy(&client);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora job abort: %s\n", err.msg);
        return 1;
    }
    return 0;
}
