#define PCRE2_CODE_UNIT_WIDTH 8
#include "tok_train.h"

#include <jansson.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_json.h"
#include "fl_mem.h"
#include "tok_map.h"

/* Qwen2's pre-tokenizer: contractions, letters, single digits, punctuation runs, spaces. */
static const char s_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char *const s_special[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
#define SPECIAL_COUNT 3

/* A distinct pre-token and how often it occurs; symbols shrink as merges apply. */
typedef struct train_word {
    int32_t *symbols;
    size_t length;
    uint64_t count;
} train_word;

typedef struct trainer_state {
    tok_strmap index;      /* pre-token bytes -> position in words */
    train_word *words;
    size_t word_count, word_capacity;
    char **symbols;        /* symbol id -> its ByteLevel text */
    int32_t symbol_count;
    int32_t (*merges)[2];
    int32_t merge_count;
} trainer_state;

/* Writes the ByteLevel character of byte b as UTF-8; returns its length. */
static size_t byte_char(unsigned b, char out[3])
{
    unsigned code = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))) {
        unsigned shifted = 0;
        for (unsigned c = 0; c < b; c++) {
            if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE)))
                shifted++;
        }
        code = 0x100 + shifted;
    }
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    out[0] = (char)(0xC0 | (code >> 6));
    out[1] = (char)(0x80 | (code & 0x3F));
    return 2;
}

static void add_word(trainer_state *s, const char *bytes, size_t length)
{
    int32_t known = tok_strmap_get(&s->index, bytes, length);
    if (known >= 0) {
        s->words[known].count++;
        return;
    }
    if (s->word_count == s->word_capacity) {
        s->word_capacity = s->word_capacity ? 2 * s->word_capacity : 1024;
        s->words = fl_xrealloc(s->words, s->word_capacity * sizeof(train_word));
    }
    train_word *word = &s->words[s->word_count];
    word->symbols = fl_xmalloc(length * sizeof(int32_t));
    for (size_t i = 0; i < length; i++)
        word->symbols[i] = (unsigned char)bytes[i];
    word->length = length;
    word->count = 1;
    tok_strmap_put(&s->index, bytes, length, (int32_t)s->word_count);
    s->word_count++;
}

static int collect_words(trainer_state *s, const char *const *texts, const size_t *lengths,
                         size_t count, fl_error *err)
{
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *regex = pcre2_compile((PCRE2_SPTR)s_pattern, PCRE2_ZERO_TERMINATED,
                                      PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
    if (regex == NULL)
        return fl_error_set(err, FL_EINVAL, "tokenizer training: the pre-tokenizer regex does "
                                            "not compile (PCRE2 error %d)",
                            code);
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(regex, NULL);
    for (size_t t = 0; t < count; t++) {
        PCRE2_SIZE start = 0;
        while (start < lengths[t]) {
            int rc = pcre2_match(regex, (PCRE2_SPTR)texts[t], lengths[t], start, 0, match, NULL);
            if (rc < 0)
                break;
            PCRE2_SIZE *span = pcre2_get_ovector_pointer(match);
            if (span[1] == span[0])
                break;
            add_word(s, texts[t] + span[0], span[1] - span[0]);
            start = span[1];
        }
    }
    pcre2_match_data_free(match);
    pcre2_code_free(regex);
    return FL_OK;
}

/* Finds the most frequent adjacent pair; returns its count (0 when none occurs twice). */
static uint64_t best_pair(const trainer_state *s, uint64_t *counts, int32_t *best)
{
    size_t width = (size_t)s->symbol_count;
    uint64_t best_count = 1;
    best[0] = best[1] = -1;
    for (size_t w = 0; w < s->word_count; w++) {
        const train_word *word = &s->words[w];
        for (size_t i = 0; i + 1 < word->length; i++)
            counts[(size_t)word->symbols[i] * width + (size_t)word->symbols[i + 1]] += word->count;
    }
    for (size_t w = 0; w < s->word_count; w++) {
        const train_word *word = &s->words[w];
        for (size_t i = 0; i + 1 < word->length; i++) {
            int32_t a = word->symbols[i], b = word->symbols[i + 1];
            uint64_t *slot = &counts[(size_t)a * width + (size_t)b];
            if (*slot == 0)
                continue;
            int better = *slot > best_count ||
                         (*slot == best_count && best[0] >= 0 &&
                          (strcmp(s->symbols[a], s->symbols[best[0]]) < 0 ||
                           (a == best[0] && strcmp(s->symbols[b], s->symbols[best[1]]) < 0)));
            if (*slot > 1 && (better || best[0] < 0)) {
                best_count = *slot;
                best[0] = a;
                best[1] = b;
            }
            *slot = 0; /* each pair is compared once; the array is clean for the next pass */
        }
    }
    return best[0] >= 0 ? best_count : 0;
}

static void apply_merge(trainer_state *s, int32_t a, int32_t b, int32_t merged)
{
    for (size_t w = 0; w < s->word_count; w++) {
        train_word *word = &s->words[w];
        size_t out = 0;
        for (size_t i = 0; i < word->length; i++) {
            if (i + 1 < word->length && word->symbols[i] == a && word->symbols[i + 1] == b) {
                word->symbols[out++] = merged;
                i++;
            } else {
                word->symbols[out++] = word->symbols[i];
            }
        }
        word->length = out;
    }
}

static void learn_merges(trainer_state *s, int vocab_size)
{
    int32_t target = vocab_size - SPECIAL_COUNT;
    s->symbols = fl_xcalloc((size_t)target, sizeof(char *));
    s->merges = fl_xcalloc((size_t)target, sizeof(*s->merges));
    for (unsigned b = 0; b < 256; b++) {
        char text[3] = {0};
        byte_char(b, text);
        s->symbols[b] = fl_xstrdup(text);
    }
    s->symbol_count = 256;

    uint64_t *counts = fl_xcalloc((size_t)target * (size_t)target, sizeof(uint64_t));
    while (s->symbol_count < target) {
        int32_t pair[2];
        if (best_pair(s, counts, pair) == 0)
            break;
        size_t length = strlen(s->symbols[pair[0]]) + strlen(s->symbols[pair[1]]) + 1;
        char *text = fl_xmalloc(length);
        snprintf(text, length, "%s%s", s->symbols[pair[0]], s->symbols[pair[1]]);
        s->symbols[s->symbol_count] = text;
        s->merges[s->merge_count][0] = pair[0];
        s->merges[s->merge_count][1] = pair[1];
        s->merge_count++;
        apply_merge(s, pair[0], pair[1], s->symbol_count);
        s->symbol_count++;
    }
    free(counts);
}

static json_t *special_token(int32_t id, const char *content)
{
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (int)id, "content", content,
                     "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
}

static json_t *model_json(const trainer_state *s)
{
    json_t *vocab = json_object();
    for (int32_t i = 0; i < s->symbol_count; i++)
        json_object_set_new(vocab, s->symbols[i], json_integer(i));
    json_t *merges = json_array();
    for (int32_t i = 0; i < s->merge_count; i++) {
        const char *a = s->symbols[s->merges[i][0]], *b = s->symbols[s->merges[i][1]];
        json_array_append_new(merges, json_pack("[s, s]", a, b));
    }
    return json_pack("{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                     "dropout", "unk_token", "continuing_subword_prefix", "",
                     "end_of_word_suffix", "", "fuse_unk", 0, "byte_fallback", 0,
                     "ignore_merges", 0, "vocab", vocab, "merges", merges);
}

static json_t *tokenizer_json(const trainer_state *s)
{
    json_t *added = json_array();
    for (int i = 0; i < SPECIAL_COUNT; i++)
        json_array_append_new(added, special_token(s->symbol_count + i, s_special[i]));

    json_t *split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex",
                              s_pattern, "behavior", "Isolated", "invert", 0);
    json_t *byte_level = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel",
                                   "add_prefix_space", 0, "trim_offsets", 0, "use_regex", 0);
    json_t *pre = json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", split,
                            byte_level);
    json_t *post = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                             "trim_offsets", 0, "use_regex", 0);
    json_t *decoder = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel",
                                "add_prefix_space", 0, "trim_offsets", 0, "use_regex", 0);
    return json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:o, s:o}", "version", "1.0",
                     "truncation", "padding", "added_tokens", added, "normalizer",
                     "pre_tokenizer", pre, "post_processor", post, "decoder", decoder, "model",
                     model_json(s));
}

static void release_state(trainer_state *s)
{
    for (size_t w = 0; w < s->word_count; w++)
        free(s->words[w].symbols);
    free(s->words);
    for (int32_t i = 0; s->symbols != NULL && i < s->symbol_count; i++)
        free(s->symbols[i]);
    free(s->symbols);
    free(s->merges);
    tok_strmap_release(&s->index);
}

int tok_train_bpe(const char *const *texts, const size_t *lengths, size_t count, int vocab_size,
                  const char *path, fl_error *err)
{
    if (vocab_size < 256 + SPECIAL_COUNT || vocab_size > TOK_TRAIN_MAX_VOCAB)
        return fl_error_set(err, FL_ERANGE,
                            "vocabulary size %d is out of range; use %d to %d", vocab_size,
                            256 + SPECIAL_COUNT, TOK_TRAIN_MAX_VOCAB);
    trainer_state s;
    memset(&s, 0, sizeof(s));
    tok_strmap_init(&s.index);
    int rc = collect_words(&s, texts, lengths, count, err);
    if (rc == FL_OK) {
        learn_merges(&s, vocab_size);
        json_t *json = tokenizer_json(&s);
        rc = fl_json_save_file(path, json, 0644, err);
        json_decref(json);
    }
    release_state(&s);
    return rc;
}
