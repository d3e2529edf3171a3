/*
 * fedlora report: render a job's history as a self-contained HTML page.
 */
#include <stdio.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"
#include "fl_json.h"
#include "report_html.h"

static const cli_option s_options[] = {
    {"job", "ID", "job whose history to fetch from the coordinator (this or --history)"},
    {"history", "FILE", "job history JSON (the coordinator's jobs/ID/history.json) (this or "
                        "--job)"},
    {"out", "FILE", "HTML file to write (required)"},
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

/* Loads the history from the file, or over the admin socket for --job. */
static json_t *load_history(const cli_args *args, const char **where, fl_error *err)
{
    const char *history_path = cli_get(args, s_options, OPTION_COUNT, "history");
    const char *job_id = cli_get(args, s_options, OPTION_COUNT, "job");
    if (history_path != NULL) {
        *where = history_path;
        return fl_json_load_file(history_path, 256u << 20, err);
    }

    *where = job_id;
    admin_client *client = NULL;
    json_t *history = NULL;
    int rc = admin_client_open(&client, "report", args, s_options, OPTION_COUNT, err);
    if (rc == FL_OK)
        rc = admin_client_fetch_history(client, job_id, &history, err);
    admin_client_destroy(&client);
    return history;
}

int cmd_report(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("report", "(--job ID | --history FILE) --out FILE.html",
                           "Writes one self-contained HTML page with plots of each site's\n"
                           "validation loss per round, participation per round and round\n"
                           "durations, followed by the job's settings.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *history_path = cli_get(&args, s_options, OPTION_COUNT, "history");
    const char *job_id = cli_get(&args, s_options, OPTION_COUNT, "job");
    const char *out_path = cli_get(&args, s_options, OPTION_COUNT, "out");
    if ((history_path == NULL) == (job_id == NULL) || out_path == NULL ||
        args.positional_count != 0) {
        fprintf(stderr, "fedlora report: give --out FILE and exactly one of --job ID and "
                        "--history FILE\n");
        return 2;
    }

    fl_error err = {0};
    const char *where = NULL;
    json_t *history = load_history(&args, &where, &err);
    if (history == NULL) {
        fprintf(stderr, "fedlora report: %s\n", err.msg);
        return 1;
    }
    FILE *out = fopen(out_path, "w");
    if (out == NULL) {
        perror(out_path);
        json_decref(history);
        return 1;
    }
    int rc = report_html_write(out, history, where, &err);
    if (fclose(out) != 0 && rc == FL_OK)
        rc = fl_error_set(&err, FL_EIO, "%s: write failed", out_path);
    json_decref(history);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora report: %s\n", err.msg);
        return 1;
    }
    printf("Report written to %s\n", out_path);
    return 0;
}
