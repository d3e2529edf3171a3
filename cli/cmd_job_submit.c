/*
 * fedlora job submit: send a job file to the coordinator. With --model the
 * base model's hash and config.json are filled in from a model folder.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "cmd.h"
#include "coord_job.h"
#include "fc_model_hash.h"
#include "fl_file.h"
#include "fl_json.h"
#include "fl_mem.h"

static const cli_option s_options[] = {
    {"model", "DIR", "base model folder (Hugging Face layout); fills base_model.hash and "
                     "base_model.config, and base_model.name when missing (default: none)"},
    ADMIN_CLIENT_OPTIONS,
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

/* Sets base_model.hash, .config and (when absent) .name in root from the model folder. */
static int fill_base_model(json_t *root, const char *model_dir, fl_error *err)
{
    uint8_t hash[FC_MODEL_HASH_BYTES];
    char hash_text[FC_MODEL_HASH_HEX], config_path[4096];
    int rc = fc_model_hash(model_dir, hash, err);
    if (rc != FL_OK)
        return rc;
    fc_model_hash_hex(hash_text, hash);
    if (fl_path_format(config_path, sizeof(config_path), "%s/config.json", model_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "--model: path too long");
    json_t *config = fl_json_load_file(config_path, COORD_JOB_CONFIG_MAX, err);
    if (config == NULL)
        return FL_EFORMAT;

    json_t *base = json_object_get(root, "base_model");
    if (!json_is_object(base)) {
        base = json_object();
        json_object_set_new(root, "base_model", base);
    }
    json_object_set_new(base, "hash", json_string(hash_text));
    json_object_set_new(base, "config", config);
    if (json_object_get(base, "name") == NULL) {
        char *copy = fl_xstrdup(model_dir);
        json_object_set_new(base, "name", json_string(basename(copy)));
        free(copy);
    }
    return FL_OK;
}

/* Loads the job file, fills in the model and checks it as the coordinator will. */
static json_t *prepare_job(const char *path, const char *model_dir, fl_error *err)
{
    json_t *root = fl_json_load_file(path, PROTO_ADMIN_MAX_JOB_JSON, err);
    if (root == NULL)
        return NULL;
    if (!json_is_object(root)) {
        fl_error_set(err, FL_EFORMAT, "%s: a job must be a JSON object", path);
        json_decref(root);
        return NULL;
    }
    int rc = model_dir != NULL ? fill_base_model(root, model_dir, err) : FL_OK;
    coord_job_spec *job = malloc(sizeof(*job));
    if (rc == FL_OK && job != NULL)
        rc = coord_job_from_json(job, root, path, err);
    free(job);
    if (rc != FL_OK) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static int submit(admin_client *client, const json_t *job, fl_error *err)
{
    char *text = json_dumps(job, JSON_COMPACT);
    Fedlora__Admin__SubmitRequest body = FEDLORA__ADMIN__SUBMIT_REQUEST__INIT;
    body.job_json = text;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_SUBMIT;
    request.submit = &body;

    Fedlora__Admin__Response *response = NULL;
    int rc = text != NULL ? admin_client_call(client, &request, &response, err)
                          : fl_error_set(err, FL_ENOMEM, "cannot serialise the job");
    free(text);
    if (rc != FL_OK)
        return rc;
    if (response->body_case != FEDLORA__ADMIN__RESPONSE__BODY_SUBMIT) {
        proto_admin_response_free(&response);
        return fl_error_set(err, FL_EPROTO,
                            "unexpected reply from the coordinator: expected a submit");
    }
    if (response->submit->created)
        printf("job %s submitted; it is queued and starts once no other job runs\n",
               response->submit->job_id);
    else
        printf("job %s already exists with the same settings; nothing changed\n",
               response->submit->job_id);
    proto_admin_response_free(&response);
    return FL_OK;
}

int cmd_job_submit(int argc, char **argv)
{
    /* Option parsing stops at the first operand, so move a leading FILE behind the options. */
    char **reordered = fl_xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i <= argc; i++)
        reordered[i] = argv[i];
    if (argc > 1 && argv[1][0] != '-') {
        for (int i = 1; i < argc - 1; i++)
            reordered[i] = argv[i + 1];
        reordered[argc - 1] = argv[1];
    }

    cli_args args;
    int parsed = cli_parse("job submit", "FILE [--model DIR]",
                           "Sends a job file (JSON) to the coordinator. Submitting the same\n"
                           "id again with the same settings changes nothing, so a retry is safe.",
                           s_options, OPTION_COUNT, argc, reordered, &args);
    if (parsed == CLI_PARSE_OK && args.positional_count != 1) {
        fprintf(stderr, "fedlora job submit: give exactly one job FILE\n");
        parsed = CLI_PARSE_USAGE;
    }
    if (parsed != CLI_PARSE_OK) {
        free(reordered);
        return cli_parse_exit(parsed);
    }

    fl_error err = {0};
    admin_client *client = NULL;
    json_t *job = prepare_job(args.positional[0],
                              cli_get(&args, s_options, OPTION_COUNT, "model"), &err);
    int rc = job != NULL ? FL_OK : FL_EINVAL;
    if (rc == FL_OK)
        rc = admin_client_open(&client, "job submit", &args, s_options, OPTION_COUNT, &err);
    if (rc == FL_OK)
        rc = submit(client, job, &err);
    admin_client_destroy(&client);
    json_decref(job);
    free(reordered);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora job submit: %s\n", err.msg);
        return 1;
    }
    return 0;
}
