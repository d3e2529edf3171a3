/*
 * fedlora merge: fold a PEFT LoRA adapter into its base model and write the
 * result as a Hugging Face model folder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "fl_file.h"
#include "lora.h"
#include "tr_model.h"

static const cli_option s_options[] = {
    {"model", "DIR", "base model folder: config.json + safetensors (required)"},
    {"adapter", "DIR", "PEFT adapter folder: adapter_config.json + adapter_model.safetensors "
                       "(required)"},
    {"out", "DIR", "folder for the merged model, created when missing (required)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))
#define COMMAND "merge"

/* Copies tokenizer.json along when the base model has one. */
static int copy_tokenizer(const char *model_dir, const char *out, fl_error *err)
{
    char source[4096];
    snprintf(source, sizeof(source), "%s/tokenizer.json", model_dir);
    if (access(source, F_OK) != 0)
        return FL_OK;
    char *text = NULL;
    size_t length = 0;
    int rc = fl_file_read_all(source, 512u << 20, &text, &length, err);
    if (rc != FL_OK)
        return rc;
    char target[4096];
    snprintf(target, sizeof(target), "%s/tokenizer.json", out);
    rc = fl_file_write_atomic(target, text, length, 0644, err);
    free(text);
    return rc;
}

static int merge(const char *model_dir, const char *adapter_dir, const char *out, fl_error *err)
{
    tr_model model;
    int rc = tr_model_load(&model, model_dir, err);
    if (rc != FL_OK)
        return rc;
    lora_adapter adapter;
    rc = lora_adapter_load(&adapter, adapter_dir, &model.config, err);
    if (rc != FL_OK)
        goto release_model;

    lora_adapter_merge(&model, &adapter);
    rc = fl_file_mkdirs(out, 0755, err);
    if (rc == FL_OK)
        rc = tr_model_save(&model, out, err);
    if (rc == FL_OK)
        rc = copy_tokenizer(model_dir, out, err);
    if (rc == FL_OK)
        printf("%s: %s merged with the rank-%d adapter of %s\n", out,
               tr_arch_class(model.config.arch), adapter.options.rank, adapter_dir);
    lora_adapter_release(&adapter);
release_model:
    tr_model_release(&model);
    return rc;
}

int cmd_merge(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse(COMMAND, "--model DIR --adapter DIR --out DIR",
                           "Adds scaling * B A of every adapted projection to the base weights\n"
                           "and writes the merged model (config.json, model.safetensors in\n"
                           "float32, tokenizer.json when the base model has one).",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *model_dir = cli_get(&args, s_options, OPTION_COUNT, "model");
    const char *adapter_dir = cli_get(&args, s_options, OPTION_COUNT, "adapter");
    const char *out = cli_get(&args, s_options, OPTION_COUNT, "out");
    if (model_dir == NULL || adapter_dir == NULL || out == NULL) {
        fprintf(stderr, "fedlora %s: --model, --adapter and --out are required\n", COMMAND);
        return 2;
    }
    if (!cli_check_model_dir(COMMAND, "model", model_dir))
        return 2;

    fl_error err = {0};
    if (merge(model_dir, adapter_dir, out, &err) != FL_OK) {
        fprintf(stderr, "fedlora %s: %s\n", COMMAND, err.msg);
        return 1;
    }
    return 0;
}
