/*
 * fedlora data stats: what a JSONL training file becomes for a given
 * tokenizer: format, records, tokens, share of tokens trained on, cuts to
 * the sequence length and skipped lines.
 */
#include <stdio.h>
#include <string.h>

#include "chat_format.h"
#include "cli.h"
#include "cmd.h"
#include "rec_dataset.h"
#include "tok_tokenizer.h"

static const cli_option s_options[] = {
    {"tokenizer", "FILE", "Hugging Face tokenizer.json of the model (required); its "
                          "tokenizer_config.json beside it selects the chat format"},
    {"data", "FILE", "JSONL training file (required)"},
    {"format", "NAME", "record format: text, alpaca, messages or prompt (default: detected "
                       "from the first record)"},
    {"chat-format", "NAME", "chat template: chatml, llama3 or llama2 (default: detected from "
                            "the tokenizer)"},
    {"seq-len", "N", "sequence length in tokens; longer records are cut (default: 256, as in train)"},
    {"skip-invalid", NULL, "skip invalid lines and list them instead of stopping at the first"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static const char *option(const cli_args *args, const char *name)
{
    return cli_get(args, s_options, OPTION_COUNT, name);
}

/* Fills options from the command line; returns 0, or 2 for a usage error. */
static int read_options(const cli_args *args, const tok_tokenizer *tok, const char *tokenizer,
                        rec_options *options)
{
    rec_options_init(options);
    options->shuffle = false;
    options->skip_invalid = option(args, "skip-invalid") != NULL;

    const char *format = option(args, "format");
    if (format != NULL && rec_format_parse(format, &options->format) != FL_OK) {
        fprintf(stderr, "fedlora data stats: --format '%s' is not one of text, alpaca, "
                        "messages, prompt\n", format);
        return 2;
    }
    const char *seq_len = option(args, "seq-len");
    int64_t value = 256;
    if (seq_len != NULL &&
        !cli_to_int("data stats", "seq-len", seq_len, 2, 1 << 20, &value))
        return 2;
    options->seq_len = (int)value;

    const char *chat = option(args, "chat-format");
    fl_error err = {0};
    int rc = chat_resolve(tok, tokenizer, chat, &options->chat, &err);
    if (rc != FL_OK && chat != NULL) {
        fprintf(stderr, "fedlora data stats: --chat-format: %s\n", err.msg);
        return 2;
    }
    /* Undetected is fine for text records; other formats then report it per line. */
    return 0;
}

static void print_stats(const char *path, const rec_options *options, const rec_stats *stats)
{
    printf("file:             %s\n", path);
    printf("format:           %s\n", rec_format_name(stats->format));
    printf("chat format:      %s\n", stats->format == REC_FORMAT_TEXT
                                         ? "(none, text records)"
                                         : chat_family_name(options->chat));
    printf("lines:            %zu\n", stats->lines);
    printf("records:          %zu\n", stats->records);
    printf("tokens:           %zu\n", stats->tokens);
    printf("trained tokens:   %zu (%.1f%%)\n", stats->trained_tokens,
           stats->tokens > 0 ? 100.0 * (double)stats->trained_tokens / (double)stats->tokens
                             : 0.0);
    printf("truncated:        %zu records cut to %d tokens (%zu tokens dropped)\n",
           stats->truncated, options->seq_len, stats->truncated_tokens);
    printf("skipped lines:    %zu", stats->skipped);
    for (size_t i = 0; i < stats->skipped && i < 20; i++)
        printf("%s%zu", i == 0 ? " (" : ", ", stats->skipped_lines[i]);
    if (stats->skipped > 20)
        printf(", ... %zu more", stats->skipped - 20);
    printf("%s\n", stats->skipped > 0 ? ")" : "");
}

int cmd_data_stats(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("data stats", "--tokenizer FILE --data FILE.jsonl",
                           "Tokenizes a JSONL training file as training would and prints\n"
                           "its format, records, tokens, the share of tokens trained on,\n"
                           "records cut to the sequence length and skipped lines.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *tokenizer = option(&args, "tokenizer");
    const char *data = option(&args, "data");
    if (tokenizer == NULL || data == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora data stats: give --tokenizer FILE and --data FILE.jsonl\n");
        return 2;
    }

    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    if (tok_load(tokenizer, &tok, &err) != FL_OK) {
        fprintf(stderr, "fedlora data stats: %s\n", err.msg);
        return 1;
    }
    rec_options options;
    int status = read_options(&args, tok, tokenizer, &options);
    if (status != 0)
        goto destroy_tokenizer;

    rec_dataset *ds = NULL;
    if (rec_dataset_load(data, tok, &options, &ds, &err) != FL_OK) {
        fprintf(stderr, "fedlora data stats: %s\n", err.msg);
        status = 1;
        goto destroy_tokenizer;
    }
    print_stats(data, &options, rec_dataset_stats(ds));
    rec_dataset_destroy(&ds);

destroy_tokenizer:
    tok_destroy(&tok);
    return status;
}
