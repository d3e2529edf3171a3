/*
 * bench_tokenizer DATA_DIR MODEL TOKENIZER_JSON
 *
 * Encodes every PubMedQA context and JMED question (the texts the Node.js
 * reference encodes) once with a freshly loaded tokenizer on one thread, so
 * the pre-token cache starts empty, and prints {"model", "bytes", "tokens",
 * "seconds"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fl_json.h"
#include "fl_mem.h"
#include "tok_tokenizer.h"

typedef struct text_list {
    char **items;
    size_t *lengths;
    size_t count, capacity;
} text_list;

static void add_text(text_list *list, const json_t *value)
{
    if (!json_is_string(value))
        return;
    if (list->count == list->capacity) {
        list->capacity = list->capacity == 0 ? 1024 : list->capacity * 2;
        list->items = fl_xrealloc(list->items, list->capacity * sizeof(*list->items));
        list->lengths = fl_xrealloc(list->lengths, list->capacity * sizeof(*list->lengths));
    }
    list->lengths[list->count] = json_string_length(value);
    list->items[list->count++] = fl_xstrndup(json_string_value(value), json_string_length(value));
}

static void read_pubmed(const char *data_dir, text_list *list)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/pubmedqa/ori_pqal.json", data_dir);
    json_t *root = fl_json_load_file(path, (size_t)64 << 20, NULL);
    const char *key;
    json_t *entry;
    json_object_foreach(root, key, entry) {
        size_t i;
        json_t *context;
        json_array_foreach(json_object_get(entry, "CONTEXTS"), i, context) add_text(list, context);
    }
    json_decref(root);
}

static void read_jmed(const char *data_dir, text_list *list)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/citrus/jmed.jsonl", data_dir);
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return;
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, file) > 0) {
        json_t *record = json_loads(line, 0, NULL);
        add_text(list, json_object_get(record, "Q"));
        json_decref(record);
    }
    free(line);
    fclose(file);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_tokenizer DATA_DIR MODEL TOKENIZER_JSON\n");
        return 2;
    }
    text_list texts = {0};
    read_pubmed(argv[1], &texts);
    read_jmed(argv[1], &texts);
    if (texts.count == 0) {
        fprintf(stderr, "bench_tokenizer: no texts found under %s\n", argv[1]);
        return 1;
    }

    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    if (tok_load(argv[3], &tok, &err) != FL_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }

    tok_ids ids;
    tok_ids_init(&ids);
    size_t bytes = 0, tokens = 0;
    double seconds;
    double start = now_seconds();
    for (size_t i = 0; i < texts.count; i++) {
        ids.length = 0;
        if (tok_encode(tok, texts.items[i], texts.lengths[i], TOK_ADD_SPECIAL, &ids, &err) !=
            FL_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        tokens += ids.length;
        bytes += texts.lengths[i];
    }
    seconds = now_seconds() - start;
    printf("{\"model\":\"%s\",\"bytes\":%zu,\"tokens\":%zu,\"seconds\":%.6f}\n", argv[2], bytes,
           tokens, seconds);

    tok_ids_release(&ids);
    tok_destroy(&tok);
    for (size_t i = 0; i < texts.count; i++)
        free(texts.items[i]);
    free(texts.items);
    free(texts.lengths);
    return 0;
}
