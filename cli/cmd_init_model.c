/*
 * fedlora init-model: write a randomly initialised model in Hugging Face
 * format, for tests, benchmarks and demonstrations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "fl_file.h"
#include "fl_json.h"
#include "tr_model.h"

static const cli_option s_options[] = {
    {"arch", "ARCH", "architecture: llama, mistral, qwen2 or qwen3 (required)"},
    {"config", "FILE", "JSON with the Hugging Face config.json size fields: vocab_size, "
                       "hidden_size, intermediate_size, num_hidden_layers, num_attention_heads "
                       "(required; others take transformers' defaults)"},
    {"out", "DIR", "folder to write config.json and model.safetensors into (required)"},
    {"seed", "N", "random seed of the weights (default 0)"},
    {"tokenizer", "FILE", "tokenizer.json to check against vocab_size and copy into DIR"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))
#define COMMAND "init-model"

static int copy_tokenizer(const char *source, const char *folder, fl_error *err)
{
    char *text = NULL;
    size_t length = 0;
    int rc = fl_file_read_all(source, 512u << 20, &text, &length, err);
    if (rc != FL_OK)
        return rc;
    char path[4096];
    snprintf(path, sizeof(path), "%s/tokenizer.json", folder);
    rc = fl_file_write_atomic(path, text, length, 0644, err);
    free(text);
    return rc;
}

static int build(const cli_args *args, tr_arch arch, uint64_t seed, fl_error *err)
{
    const char *config_path = cli_get(args, s_options, OPTION_COUNT, "config");
    const char *out = cli_get(args, s_options, OPTION_COUNT, "out");
    const char *tokenizer = cli_get(args, s_options, OPTION_COUNT, "tokenizer");

    json_t *json = fl_json_load_file(config_path, 4u << 20, err);
    if (json == NULL)
        return err->code;
    tr_config config;
    int rc = tr_config_from_json(&config, json, config_path, (int)arch, err);
    json_decref(json);
    if (rc == FL_OK && tokenizer != NULL)
        rc = tr_model_check_tokenizer(&config, tokenizer, err);
    if (rc == FL_OK)
        rc = fl_file_mkdirs(out, 0755, err);
    if (rc != FL_OK)
        return rc;

    tr_model model;
    tr_model_init(&model, &config);
    tr_model_randomize(&model, seed, 0);
    rc = tr_model_save(&model, out, err);
    if (rc == FL_OK && tokenizer != NULL)
        rc = copy_tokenizer(tokenizer, out, err);
    if (rc == FL_OK)
        printf("%s: %s with %zu parameters (seed %llu)\n", out, tr_arch_class(arch),
               model.num_params, (unsigned long long)seed);
    tr_model_release(&model);
    return rc;
}

int cmd_init_model(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse(COMMAND, "--arch ARCH --config FILE --out DIR [--seed N]",
                           "Writes a randomly initialised model (weights N(0, 0.02), norms 1)\n"
                           "as config.json and model.safetensors in float32.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *arch_name = cli_get(&args, s_options, OPTION_COUNT, "arch");
    tr_arch arch;
    if (arch_name == NULL || tr_arch_parse(arch_name, &arch) != FL_OK) {
        fprintf(stderr, "fedlora %s: --arch must be llama, mistral, qwen2 or qwen3\n", COMMAND);
        return 2;
    }
    if (cli_get(&args, s_options, OPTION_COUNT, "config") == NULL ||
        cli_get(&args, s_options, OPTION_COUNT, "out") == NULL) {
        fprintf(stderr, "fedlora %s: --config and --out are required\n", COMMAND);
        return 2;
    }
    int64_t seed = 0;
    const char *seed_text = cli_get(&args, s_options, OPTION_COUNT, "seed");
    if (seed_text != NULL && !cli_to_int(COMMAND, "seed", seed_text, 0, INT64_MAX, &seed))
        return 2;

    fl_error err = {0};
    if (build(&args, arch, (uint64_t)seed, &err) != FL_OK) {
        fprintf(stderr, "fedlora %s: %s\n", COMMAND, err.msg);
        return 1;
    }
    return 0;
}
