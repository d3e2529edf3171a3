/*
 * fedlora round start: start the active job's next round now.
 */
#include <stdio.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"

static const cli_option s_options[] = {
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

int cmd_round_start(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("round start", "",
                           "Starts the active job's next round now with the sites that are\n"
                           "ready, instead of waiting gather_time for more sites to join. At\n"
                           "least the job's min_sites must be online and have accepted it.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    if (args.positional_count != 0) {
        fprintf(stderr, "fedlora round start: takes no arguments\n");
        return 2;
    }

    Fedlora__Admin__RoundStartRequest body = FEDLORA__ADMIN__ROUND_START_REQUEST__INIT;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_ROUND_START;
    request.round_start = &body;

    fl_error err = {0};
    admin_client *client = NULL;
    Fedlora__Admin__Response *response = NULL;
    int rc = admin_client_open(&client, "round start", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = admin_client_call(client, &request, &response, &err);
    if (rc == FL_OK && response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_ROUND_START)
        rc = fl_error_set(&err, FL_EPROTO,
                          "unexpected reply from the coordinator: expected a round");
    if (rc == FL_OK)
        printf("round %llu of job %s started with %u sites\n",
               (unsigned long long)response->round_start->round, response->round_start->job_id,
               response->round_start->site_count);
    proto_admin_response_free(&response);
    admin_client_destroy(&client);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora round start: %s\n", err.msg);
        return 1;
    }
    return 0;
}
