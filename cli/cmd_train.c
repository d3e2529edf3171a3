/*
 * fedlora train: a standalone local fine-tune, so a site can try its data
 * before joining a project, and so a base model can be built from scratch
 * (--mode full).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "fl_file.h"
#include "lora.h"
#include "tr_round.h"

static const cli_option s_options[] = {
    {"model", "DIR", "Hugging Face model folder with tokenizer.json (required)"},
    {"data", "FILE", "JSONL training records (required)"},
    {"out", "DIR", "folder for the PEFT adapter, or the model in --mode full (required)"},
    {"validation", "FILE", "JSONL validation records (default: hold out 10% of --data)"},
    {"mode", "MODE", "lora, frozen-a (A fixed, B trained) or full (every weight; default lora)"},
    {"lora-r", "N", "LoRA rank (default 16)"},
    {"lora-alpha", "X", "LoRA alpha; the update is scaled by alpha/r (default 32)"},
    {"lora-dropout", "P", "dropout probability on the LoRA input, 0 to 0.95 (default 0)"},
    {"rslora", NULL, "scale by alpha/sqrt(r) (rank-stabilised LoRA)"},
    {"targets", "LIST", "comma-separated modules or 'all' (default q_proj,v_proj)"},
    {"steps", "N", "optimizer steps (default: from --epochs)"},
    {"epochs", "X", "passes over the training records when --steps is not given (default 1)"},
    {"lr", "X", "learning rate (default 2e-4; full mode 1e-3)"},
    {"batch-size", "N", "sequences per step (default 4)"},
    {"seq-len", "N", "tokens per sequence (default 256)"},
    {"seed", "N", "seed of the data order, dropout and LoRA initialisation (default 1)"},
    {"threads", "N", "trainer threads (default: one per core)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static int print_progress(void *context, const tr_round_step *step)
{
    (void)context;
    double per_step = step->elapsed_s / step->step;
    double eta = per_step * (step->steps - step->step);
    printf("step %5d/%d  loss %.4f  %7.0f tokens/s  ETA %4.0f s\n", step->step, step->steps,
           step->loss, step->tokens / per_step, eta);
    fflush(stdout);
    return 0;
}

static bool parse_numbers(const cli_args *args, tr_round_options *o)
{
    const char *text;
    int64_t number = 0;
    double value = 0;
#define INT_OPTION(name, min, max, field)                                                      \
    if ((text = cli_get(args, s_options, OPTION_COUNT, name)) != NULL) {                       \
        if (!cli_to_int("train", name, text, min, max, &number))                               \
            return false;                                                                      \
        field = number;                                                                        \
    }
#define REAL_OPTION(name, min, max, field)                                                     \
    if ((text = cli_get(args, s_options, OPTION_COUNT, name)) != NULL) {                       \
        if (!cli_to_double("train", name, text, min, max, &value))                             \
            return false;                                                                      \
        field = value;                                                                         \
    }
    INT_OPTION("lora-r", 1, 1024, o->lora.rank)
    REAL_OPTION("lora-alpha", 1e-6, 1e6, o->lora.alpha)
    REAL_OPTION("lora-dropout", 0, 0.95, o->lora.dropout)
    INT_OPTION("steps", 1, 100000000, o->steps)
    REAL_OPTION("epochs", 1e-6, 1e6, o->epochs)
    REAL_OPTION("lr", 1e-9, 10, o->lr)
    INT_OPTION("batch-size", 1, 4096, o->batch_size)
    INT_OPTION("seq-len", 8, 131072, o->seq_len)
    INT_OPTION("seed", 0, INT64_MAX, o->seed)
    INT_OPTION("threads", 1, 1024, o->threads)
#undef INT_OPTION
#undef REAL_OPTION
    return true;
}

static bool parse_mode(const cli_args *args, tr_round_options *o)
{
    const char *mode = cli_get(args, s_options, OPTION_COUNT, "mode");
    if (mode == NULL || strcmp(mode, "lora") == 0)
        return true;
    if (strcmp(mode, "frozen-a") == 0) {
        o->frozen_a = true;
        return true;
    }
    if (strcmp(mode, "full") == 0) {
        o->full = true;
        o->lr = 1e-3f;
        return true;
    }
    fprintf(stderr, "fedlora train: --mode '%s' is not one of lora, frozen-a, full\n", mode);
    return false;
}

int cmd_train(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("train", "--model DIR --data FILE.jsonl --out DIR [OPTIONS]",
                           "Fine-tunes a model on local JSONL records: LoRA (written as a PEFT\n"
                           "adapter folder) or every weight (--mode full, written as a model\n"
                           "folder). Prints each step's loss, speed and remaining time, and the\n"
                           "validation loss before and after.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);

    tr_round_options o;
    tr_round_options_init(&o);
    o.steps = 0;
    o.epochs = 1.0;
    o.max_val_batches = 0;
    o.eval_after = true;
    o.seed = 1;
    o.model_dir = cli_get(&args, s_options, OPTION_COUNT, "model");
    o.train_path = cli_get(&args, s_options, OPTION_COUNT, "data");
    o.save_dir = cli_get(&args, s_options, OPTION_COUNT, "out");
    o.validation_path = cli_get(&args, s_options, OPTION_COUNT, "validation");
    o.base_model_name = o.model_dir;
    o.lora.use_rslora = cli_get(&args, s_options, OPTION_COUNT, "rslora") != NULL;
    if (o.model_dir == NULL || o.train_path == NULL || o.save_dir == NULL) {
        fprintf(stderr, "fedlora train: --model, --data and --out are required\n");
        return 2;
    }
    if (!cli_check_model_dir("train", "model", o.model_dir) || !parse_mode(&args, &o) ||
        !parse_numbers(&args, &o))
        return 2;
    o.lora_seed = o.seed;
    const char *targets = cli_get(&args, s_options, OPTION_COUNT, "targets");
    fl_error err = {0};
    if (targets != NULL && lora_targets_parse(targets, &o.lora.targets, &err) != FL_OK) {
        fprintf(stderr, "fedlora train: --targets: %s\n", err.msg);
        return 2;
    }

    /* Creating the output folder first reports a bad --out before hours of training. */
    if (fl_file_mkdirs(o.save_dir, 0755, &err) != FL_OK) {
        fprintf(stderr, "fedlora train: --out: %s\n", err.msg);
        return 1;
    }

    tr_round_result result;
    if (tr_round_run(&o, print_progress, NULL, &result, &err) != FL_OK) {
        fprintf(stderr, "fedlora train: %s\n", err.msg);
        return 1;
    }
    printf("validation loss %.4f before, %.4f after (%ld tokens); %d steps in %.1f s\n",
           result.val_loss_before, result.val_loss_after, result.val_tokens, result.steps,
           result.train_s);
    printf("%s written to %s\n", o.full ? "model" : "PEFT adapter", o.save_dir);
    free(result.delta);
    return 0;
}
