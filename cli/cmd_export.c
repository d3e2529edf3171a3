/*
 * fedlora export: download a job's adapter of a completed round as a PEFT
 * folder (adapter_config.json and adapter_model.safetensors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"
#include "fl_file.h"
#include "fl_mem.h"

/* Bytes requested per message; the adapter file is fetched in pieces of this size. */
#define EXPORT_PIECE_BYTES (4u << 20)

static const cli_option s_options[] = {
    {"job", "ID", "id of the job (required)"},
    {"round", "N", "round whose adapter to export, from 1 (default: the last completed round)"},
    {"out", "DIR", "folder to write the PEFT adapter into; created when missing (required)"},
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

typedef struct export_file {
    uint8_t *data;
    uint64_t size;
    uint32_t round;     /* 0 until the first piece names the round */
} export_file;

/* Requests the piece of file at file->size and appends it; sets *done at the end. */
static int fetch_piece(admin_client *client, const char *job_id, const char *name,
                       export_file *file, bool *done, fl_error *err)
{
    Fedlora__Admin__ExportRequest body = FEDLORA__ADMIN__EXPORT_REQUEST__INIT;
    body.job_id = (char *)job_id;
    body.round = file->round;
    body.file = (char *)name;
    body.offset = file->size;
    body.max_bytes = EXPORT_PIECE_BYTES;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_EXPORT;
    request.export = &body;

    Fedlora__Admin__Response *response = NULL;
    int rc = admin_client_call(client, &request, &response, err);
    if (rc != FL_OK)
        return rc;
    const Fedlora__Admin__ExportResponse *piece = response->export;
    if (response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_EXPORT ||
        piece->offset != file->size || strcmp(piece->file, name) != 0 ||
        (file->round != 0 && piece->round != file->round))
        rc = fl_error_set(err, FL_EPROTO,
                          "unexpected reply from the coordinator: expected the piece of %s at "
                          "offset %llu", name, (unsigned long long)file->size);
    if (rc == FL_OK && piece->data.len == 0 && piece->offset < piece->total_size)
        rc = fl_error_set(err, FL_EPROTO, "the coordinator sent an empty piece of %s", name);
    if (rc == FL_OK) {
        file->round = piece->round;
        file->data = fl_xrealloc(file->data, file->size + piece->data.len + 1);
        memcpy(file->data + file->size, piece->data.data, piece->data.len);
        file->size += piece->data.len;
        *done = file->size == piece->total_size;
    }
    proto_admin_response_free(&response);
    return rc;
}

/* Downloads file name of the round and writes it into out_dir; *round is resolved. */
static int export_one(admin_client *client, const char *job_id, const char *name,
                      uint32_t *round, const char *out_dir, fl_error *err)
{
    export_file file = {.round = *round};
    bool done = false;
    int rc = FL_OK;
    while (rc == FL_OK && !done)
        rc = fetch_piece(client, job_id, name, &file, &done, err);

    char path[4096];
    if (rc == FL_OK && fl_path_format(path, sizeof(path), "%s/%s", out_dir, name) != FL_OK)
        rc = fl_error_set(err, FL_ERANGE, "--out: path too long");
    if (rc == FL_OK)
        rc = fl_file_mkdirs(out_dir, 0755, err);
    if (rc == FL_OK)
        rc = fl_file_write_atomic(path, file.data, (size_t)file.size, 0644, err);
    if (rc == FL_OK) {
        *round = file.round;
        printf("  %-28s %llu bytes\n", name, (unsigned long long)file.size);
    }
    free(file.data);
    return rc;
}

static int run_export(admin_client *client, const char *job_id, uint32_t round,
                      const char *out_dir, fl_error *err)
{
    /* The weights first: they name the round that the config must then match. */
    int rc = export_one(client, job_id, PROTO_ADMIN_WEIGHTS_FILE, &round, out_dir, err);
    if (rc == FL_OK)
        rc = export_one(client, job_id, PROTO_ADMIN_CONFIG_FILE, &round, out_dir, err);
    if (rc == FL_OK)
        printf("exported the adapter of job %s after round %u to %s\n", job_id, round, out_dir);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("export", "--job ID [--round N] --out DIR",
                           "Downloads the global adapter of a completed round as a PEFT folder:\n"
                           "adapter_config.json and adapter_model.safetensors.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *job_id = cli_get(&args, s_options, OPTION_COUNT, "job");
    const char *out_dir = cli_get(&args, s_options, OPTION_COUNT, "out");
    const char *round_text = cli_get(&args, s_options, OPTION_COUNT, "round");
    if (job_id == NULL || out_dir == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora export: --job ID and --out DIR are required\n");
        return 2;
    }
    int64_t round = 0;
    if (round_text != NULL &&
        !cli_to_int("export", "round", round_text, 1, PROTO_MAX_ROUNDS, &round))
        return 2;

    fl_error err = {0};
    admin_client *client = NULL;
    int rc = admin_client_open(&client, "export", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = run_export(client, job_id, (uint32_t)round, out_dir, &err);
    admin_client_destroy(&client);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora export: %s\n", err.msg);
        return 1;
    }
    return 0;
}
