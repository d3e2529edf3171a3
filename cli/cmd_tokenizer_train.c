/*
 * fedlora tokenizer train: learn a small byte-level BPE tokenizer from JSONL
 * records, for models built from scratch (the demo, tests).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "fl_json.h"
#include "fl_mem.h"
#include "tok_train.h"

static const cli_option s_options[] = {
    {"data", "FILE", "JSONL file whose string fields are the training text (required)"},
    {"vocab", "N", "vocabulary size in tokens, 259 to 4096 (default 1024)"},
    {"out", "FILE", "tokenizer.json to write (required)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

/* Appends every string inside value (recursively) to the text list. */
static void collect_strings(const json_t *value, char ***texts, size_t **lengths, size_t *count)
{
    if (json_is_string(value)) {
        *texts = fl_xrealloc(*texts, (*count + 1) * sizeof(char *));
        *lengths = fl_xrealloc(*lengths, (*count + 1) * sizeof(size_t));
        (*texts)[*count] = fl_xstrndup(json_string_value(value), json_string_length(value));
        (*lengths)[*count] = json_string_length(value);
        (*count)++;
        return;
    }
    size_t index;
    const char *key;
    json_t *item;
    if (json_is_array(value)) {
        json_array_foreach((json_t *)value, index, item)
            collect_strings(item, texts, lengths, count);
    } else if (json_is_object(value)) {
        json_object_foreach((json_t *)value, key, item)
            collect_strings(item, texts, lengths, count);
    }
}

static int read_texts(const char *path, char ***texts, size_t **lengths, size_t *count)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        perror(path);
        return 1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int number = 0, status = 0;
    while ((length = getline(&line, &capacity, file)) >= 0) {
        number++;
        if (length <= 1)
            continue;
        json_error_t error;
        json_t *record = json_loadb(line, (size_t)length, 0, &error);
        if (record == NULL) {
            fprintf(stderr, "fedlora tokenizer train: %s:%d:%d: invalid JSON: %s\n", path,
                    number, error.column, error.text);
            status = 1;
            break;
        }
        collect_strings(record, texts, lengths, count);
        json_decref(record);
    }
    free(line);
    fclose(file);
    return status;
}

int cmd_tokenizer_train(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("tokenizer train", "--data FILE.jsonl --out tokenizer.json [--vocab N]",
                           "Learns a byte-level BPE tokenizer (Qwen2 pre-tokenizer, ChatML\n"
                           "special tokens) from the text of JSONL records and writes it as a\n"
                           "Hugging Face tokenizer.json.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *data = cli_get(&args, s_options, OPTION_COUNT, "data");
    const char *out = cli_get(&args, s_options, OPTION_COUNT, "out");
    const char *vocab_text = cli_get(&args, s_options, OPTION_COUNT, "vocab");
    int64_t vocab = 1024;
    if (data == NULL || out == NULL) {
        fprintf(stderr, "fedlora tokenizer train: --data FILE and --out FILE are required\n");
        return 2;
    }
    if (vocab_text != NULL &&
        !cli_to_int("tokenizer train", "vocab", vocab_text, 259, TOK_TRAIN_MAX_VOCAB, &vocab))
        return 2;

    char **texts = NULL;
    size_t *lengths = NULL, count = 0;
    int status = read_texts(data, &texts, &lengths, &count);
    fl_error err = {0};
    if (status == 0 &&
        tok_train_bpe((const char *const *)texts, lengths, count, (int)vocab, out, &err) != FL_OK) {
        fprintf(stderr, "fedlora tokenizer train: %s\n", err.msg);
        status = 1;
    }
    for (size_t i = 0; i < count; i++)
        free(texts[i]);
    free(texts);
    free(lengths);
    if (status == 0)
        printf("Tokenizer with %lld tokens written to %s\n", (long long)vocab, out);
    return status;
}
