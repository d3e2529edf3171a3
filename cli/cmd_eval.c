/*
 * fedlora eval: mean loss and perplexity of a model, with or without a PEFT
 * adapter, on JSONL records.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cmd.h"
#include "tr_round.h"

static const cli_option s_options[] = {
    {"model", "DIR", "Hugging Face model folder with tokenizer.json (required)"},
    {"adapter", "DIR", "PEFT adapter folder to apply (default: the base model alone)"},
    {"data", "FILE", "JSONL records to evaluate on; every record counts (required)"},
    {"seq-len", "N", "tokens per sequence; longer records are cut (default 256)"},
    {"batch-size", "N", "sequences per forward pass (default 4)"},
    {"json", NULL, "print one JSON object with keys loss, perplexity, tokens"},
    {"threads", "N", "threads (default: one per core)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

int cmd_eval(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("eval", "--model DIR [--adapter DIR] --data FILE.jsonl [--json]",
                           "Computes the mean cross-entropy over the trained tokens of the\n"
                           "records (replies for chat formats, everything for text) and the\n"
                           "perplexity.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);

    tr_round_options o;
    tr_round_options_init(&o);
    o.model_dir = cli_get(&args, s_options, OPTION_COUNT, "model");
    o.adapter_dir = cli_get(&args, s_options, OPTION_COUNT, "adapter");
    o.train_path = cli_get(&args, s_options, OPTION_COUNT, "data");
    o.validation_path = o.train_path;
    o.eval_only = true;
    o.max_val_batches = 0;
    if (o.model_dir == NULL || o.train_path == NULL) {
        fprintf(stderr, "fedlora eval: --model and --data are required\n");
        return 2;
    }
    if (!cli_check_model_dir("eval", "model", o.model_dir))
        return 2;
    const char *text;
    int64_t number;
    if ((text = cli_get(&args, s_options, OPTION_COUNT, "seq-len")) != NULL) {
        if (!cli_to_int("eval", "seq-len", text, 8, 131072, &number))
            return 2;
        o.seq_len = (int)number;
    }
    if ((text = cli_get(&args, s_options, OPTION_COUNT, "batch-size")) != NULL) {
        if (!cli_to_int("eval", "batch-size", text, 1, 4096, &number))
            return 2;
        o.batch_size = (int)number;
    }
    if ((text = cli_get(&args, s_options, OPTION_COUNT, "threads")) != NULL) {
        if (!cli_to_int("eval", "threads", text, 1, 1024, &number))
            return 2;
        o.threads = (int)number;
    }

    tr_round_result result;
    fl_error err = {0};
    if (tr_round_run(&o, NULL, NULL, &result, &err) != FL_OK) {
        fprintf(stderr, "fedlora eval: %s\n", err.msg);
        return 1;
    }
    free(result.delta);
    double perplexity = exp(result.val_loss_before);
    if (cli_get(&args, s_options, OPTION_COUNT, "json") != NULL)
        printf("{\"loss\": %.6f, \"perplexity\": %.6f, \"tokens\": %ld}\n", result.val_loss_before,
               perplexity, result.val_tokens);
    else
        printf("loss %.4f  perplexity %.3f  over %ld tokens\n", result.val_loss_before,
               perplexity, result.val_tokens);
    return 0;
}
