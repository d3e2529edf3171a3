/*
 * fedlora tokenize: turn lines of text into token ids (or tokens) with a
 * Hugging Face tokenizer.json, or ids back into text with --decode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "tok_tokenizer.h"

static const cli_option s_options[] = {
    {"tokenizer", "FILE", "Hugging Face tokenizer.json to use (required)"},
    {"ids", NULL, "write token ids, space-separated (the default)"},
    {"tokens", NULL, "write the tokens' vocabulary strings instead of ids"},
    {"decode", NULL, "read lines of space-separated ids and write their text"},
    {"no-special", NULL, "encode without the BOS/EOS tokens the tokenizer's post-processor "
                         "adds (default: add them); with --decode, drop special tokens"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static void write_line(const tok_tokenizer *tok, const tok_ids *ids, bool as_tokens)
{
    for (size_t i = 0; i < ids->length; i++) {
        if (i > 0)
            fputc(' ', stdout);
        if (as_tokens) {
            size_t length = 0;
            const char *text = tok_token_text(tok, ids->data[i], &length);
            fwrite(text, 1, length, stdout);
        } else {
            printf("%d", (int)ids->data[i]);
        }
    }
    fputc('\n', stdout);
}

static int encode_lines(tok_tokenizer *tok, unsigned flags, bool as_tokens)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    size_t line_number = 0;
    int status = 0;
    tok_ids ids;
    tok_ids_init(&ids);

    while ((length = getline(&line, &capacity, stdin)) >= 0) {
        line_number++;
        if (length > 0 && line[length - 1] == '\n')
            length--;
        ids.length = 0;
        fl_error err = {0};
        if (tok_encode(tok, line, (size_t)length, flags, &ids, &err) != FL_OK) {
            fprintf(stderr, "fedlora tokenize: stdin:%zu: %s\n", line_number, err.msg);
            status = 1;
            break;
        }
        write_line(tok, &ids, as_tokens);
    }
    free(line);
    tok_ids_release(&ids);
    return status;
}

/* Parses "12 7 9" into ids; returns false and names the bad field otherwise. */
static bool parse_ids(const char *line, size_t line_number, tok_ids *ids)
{
    const char *p = line;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        char *end = NULL;
        long value = strtol(p, &end, 10);
        if (end == p || value < 0 || value > INT32_MAX ||
            (*end != '\0' && *end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')) {
            int field = (int)strcspn(p, " \t\r\n");
            fprintf(stderr, "fedlora tokenize: stdin:%zu: '%.*s' is not a token id; --decode "
                            "reads space-separated non-negative integers\n",
                    line_number, field > 40 ? 40 : field, p);
            return false;
        }
        tok_ids_push(ids, (int32_t)value);
        p = end;
    }
    return true;
}

static int decode_lines(const tok_tokenizer *tok, bool skip_special)
{
    char *line = NULL;
    size_t capacity = 0;
    size_t line_number = 0;
    int status = 0;
    tok_ids ids;
    tok_ids_init(&ids);

    while (getline(&line, &capacity, stdin) >= 0) {
        line_number++;
        ids.length = 0;
        if (!parse_ids(line, line_number, &ids)) {
            status = 1;
            break;
        }
        char *text = NULL;
        size_t length = 0;
        fl_error err = {0};
        if (tok_decode(tok, ids.data, ids.length, skip_special, &text, &length, &err) != FL_OK) {
            fprintf(stderr, "fedlora tokenize: stdin:%zu: %s\n", line_number, err.msg);
            status = 1;
            break;
        }
        fwrite(text, 1, length, stdout);
        fputc('\n', stdout);
        free(text);
    }
    free(line);
    tok_ids_release(&ids);
    return status;
}

int cmd_tokenize(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("tokenize", "--tokenizer FILE [--ids|--tokens] [--decode]",
                           "Reads lines from stdin and writes one line of token ids (or\n"
                           "tokens) per input line. With --decode, reads lines of ids and\n"
                           "writes their text; text that contains newlines then spans lines.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);

    const char *path = cli_get(&args, s_options, OPTION_COUNT, "tokenizer");
    bool as_tokens = cli_get(&args, s_options, OPTION_COUNT, "tokens") != NULL;
    bool as_ids = cli_get(&args, s_options, OPTION_COUNT, "ids") != NULL;
    bool decode = cli_get(&args, s_options, OPTION_COUNT, "decode") != NULL;
    bool no_special = cli_get(&args, s_options, OPTION_COUNT, "no-special") != NULL;
    if (path == NULL) {
        fprintf(stderr, "fedlora tokenize: --tokenizer FILE is required\n");
        return 2;
    }
    if (as_tokens && as_ids) {
        fprintf(stderr, "fedlora tokenize: give --ids or --tokens, not both\n");
        return 2;
    }
    if (decode && as_tokens) {
        fprintf(stderr, "fedlora tokenize: --decode reads ids; it cannot be combined with "
                        "--tokens\n");
        return 2;
    }
    if (args.positional_count != 0) {
        fprintf(stderr, "fedlora tokenize: unexpected argument '%s'; text is read from stdin\n",
                args.positional[0]);
        return 2;
    }

    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    if (tok_load(path, &tok, &err) != FL_OK) {
        fprintf(stderr, "fedlora tokenize: %s\n", err.msg);
        return 1;
    }
    int status = decode ? decode_lines(tok, no_special)
                        : encode_lines(tok, no_special ? 0 : TOK_ADD_SPECIAL, as_tokens);
    tok_destroy(&tok);
    return status;
}
