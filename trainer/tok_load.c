/*
 * tok_load.c - reads tokenizer.json into a tok_tokenizer: vocabulary,
 * merges, added tokens, normalizer, pre-tokenizer, post-processor and
 * decoder. Everything the file sets is either implemented or rejected with
 * FL_EUNSUPPORTED naming the component.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_json.h"
#include "fl_mem.h"
#include "tok_internal.h"

/* Largest tokenizer.json accepted (Qwen3's is 11 MB). */
#define TOK_MAX_FILE_BYTES ((size_t)512 << 20)

/* The GPT-2 split that a ByteLevel pre-tokenizer with use_regex applies. */
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Parsing state: the tokenizer being built and the file name for messages. */
typedef struct load_ctx {
    tok_tokenizer *tok;
    const char *path;
    fl_error *err;
} load_ctx;

static int unsupported(load_ctx *ctx, const char *where, const char *what)
{
    return fl_error_set(ctx->err, FL_EUNSUPPORTED,
                        "%s: %s '%s' is not supported by fedlora's tokenizer; supported are "
                        "BPE models with NFC/NFD/NFKC/NFKD/Prepend/Replace normalizers, "
                        "Split/ByteLevel/Metaspace pre-tokenizers and "
                        "ByteLevel/TemplateProcessing post-processors",
                        ctx->path, where, what);
}

static int malformed(load_ctx *ctx, const char *where, const char *what)
{
    return fl_error_set(ctx->err, FL_EFORMAT, "%s: %s: %s", ctx->path, where, what);
}

static const char *type_of(const json_t *object)
{
    const char *type = json_string_value(json_object_get(object, "type"));
    return type != NULL ? type : "";
}

static bool flag(const json_t *object, const char *key)
{
    return json_is_true(json_object_get(object, key));
}

/* Reads a {"String": s} pattern; a {"Regex": r} pattern is rejected. */
static int read_literal_pattern(load_ctx *ctx, const char *where, const json_t *object,
                                char **out, size_t *length)
{
    const json_t *pattern = json_object_get(object, "pattern");
    const json_t *literal = json_object_get(pattern, "String");
    if (!json_is_string(literal))
        return unsupported(ctx, where, "pattern other than {\"String\": ...}");
    *out = fl_xstrndup(json_string_value(literal), json_string_length(literal));
    *length = json_string_length(literal);
    return FL_OK;
}

static int compile_regex(load_ctx *ctx, const char *where, const char *pattern, size_t length,
                         bool literal, pcre2_code **out)
{
    int code;
    PCRE2_SIZE offset;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK;
    if (literal)
        options |= PCRE2_LITERAL;
    *out = pcre2_compile((PCRE2_SPTR)pattern, length, options, &code, &offset, NULL);
    if (*out == NULL) {
        PCRE2_UCHAR text[256];
        pcre2_get_error_message(code, text, sizeof(text));
        return fl_error_set(ctx->err, FL_EFORMAT, "%s: %s: regex invalid at offset %zu: %s",
                            ctx->path, where, (size_t)offset, (const char *)text);
    }
    /* JIT is optional: where PCRE2 was built without it, pcre2_match interprets. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return FL_OK;
}

/* normalizer */

static void add_norm(tok_tokenizer *tok, tok_norm_step step)
{
    tok->norm = fl_xrealloc(tok->norm, (tok->norm_count + 1) * sizeof(*tok->norm));
    tok->norm[tok->norm_count++] = step;
}

static int load_normalizer(load_ctx *ctx, const json_t *node)
{
    if (node == NULL || json_is_null(node))
        return FL_OK;
    const char *type = type_of(node);
    tok_norm_step step = {0};

    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(node, "normalizers");
        size_t i;
        const json_t *item;
        json_array_foreach(list, i, item) {
            int rc = load_normalizer(ctx, item);
            if (rc != FL_OK)
                return rc;
        }
        return FL_OK;
    }
    if (strcmp(type, "NFC") == 0) {
        step.kind = TOK_NORM_NFC;
    } else if (strcmp(type, "NFD") == 0) {
        step.kind = TOK_NORM_NFD;
    } else if (strcmp(type, "NFKC") == 0) {
        step.kind = TOK_NORM_NFKC;
    } else if (strcmp(type, "NFKD") == 0) {
        step.kind = TOK_NORM_NFKD;
    } else if (strcmp(type, "Prepend") == 0) {
        const json_t *text = json_object_get(node, "prepend");
        if (!json_is_string(text))
            return malformed(ctx, "normalizer Prepend", "missing string 'prepend'");
        step.kind = TOK_NORM_PREPEND;
        step.text = fl_xstrdup(json_string_value(text));
        step.text_length = json_string_length(text);
    } else if (strcmp(type, "Replace") == 0) {
        const json_t *content = json_object_get(node, "content");
        if (!json_is_string(content))
            return malformed(ctx, "normalizer Replace", "missing string 'content'");
        step.kind = TOK_NORM_REPLACE;
        int rc = read_literal_pattern(ctx, "normalizer Replace", node, &step.text,
                                      &step.text_length);
        if (rc != FL_OK)
            return rc;
        if (step.text_length == 0) {
            free(step.text);
            return malformed(ctx, "normalizer Replace", "empty pattern");
        }
        step.with = fl_xstrdup(json_string_value(content));
        step.with_length = json_string_length(content);
    } else {
        return unsupported(ctx, "normalizer", type);
    }
    add_norm(ctx->tok, step);
    return FL_OK;
}

/* pre-tokenizer */

static void add_pretok(tok_tokenizer *tok, tok_pretok_step step)
{
    tok->pretok = fl_xrealloc(tok->pretok, (tok->pretok_count + 1) * sizeof(*tok->pretok));
    tok->pretok[tok->pretok_count++] = step;
}

static int load_split(load_ctx *ctx, const json_t *node)
{
    const char *behavior = json_string_value(json_object_get(node, "behavior"));
    tok_pretok_step step = {.kind = TOK_PRETOK_SPLIT};
    if (behavior != NULL && strcmp(behavior, "Removed") == 0)
        step.remove_matches = true;
    else if (behavior == NULL || strcmp(behavior, "Isolated") != 0)
        return unsupported(ctx, "Split behavior", behavior != NULL ? behavior : "(missing)");
    if (flag(node, "invert"))
        return unsupported(ctx, "Split option", "invert: true");

    const json_t *pattern = json_object_get(node, "pattern");
    const json_t *regex = json_object_get(pattern, "Regex");
    const json_t *literal = json_object_get(pattern, "String");
    int rc;
    if (json_is_string(regex))
        rc = compile_regex(ctx, "Split pattern", json_string_value(regex),
                           json_string_length(regex), false, &step.code);
    else if (json_is_string(literal))
        rc = compile_regex(ctx, "Split pattern", json_string_value(literal),
                           json_string_length(literal), true, &step.code);
    else
        return malformed(ctx, "pre_tokenizer Split", "pattern needs 'Regex' or 'String'");
    if (rc != FL_OK)
        return rc;
    add_pretok(ctx->tok, step);
    return FL_OK;
}

static int parse_prepend(load_ctx *ctx, const json_t *node, enum tok_prepend *out)
{
    const char *scheme = json_string_value(json_object_get(node, "prepend_scheme"));
    const json_t *legacy = json_object_get(node, "add_prefix_space");
    if (scheme == NULL)
        *out = legacy == NULL || json_is_true(legacy) ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    else if (strcmp(scheme, "always") == 0)
        *out = TOK_PREPEND_ALWAYS;
    else if (strcmp(scheme, "first") == 0)
        *out = TOK_PREPEND_FIRST;
    else if (strcmp(scheme, "never") == 0)
        *out = TOK_PREPEND_NEVER;
    else
        return unsupported(ctx, "Metaspace prepend_scheme", scheme);
    return FL_OK;
}

static int load_metaspace(load_ctx *ctx, const json_t *node)
{
    tok_metaspace *meta = &ctx->tok->metaspace;
    const json_t *replacement = json_object_get(node, "replacement");
    if (!json_is_string(replacement) || json_string_length(replacement) == 0)
        return malformed(ctx, "pre_tokenizer Metaspace", "missing string 'replacement'");
    if (meta->enabled || ctx->tok->pretok_count > 0)
        return unsupported(ctx, "pre_tokenizer order", "Metaspace after another pre-tokenizer");
    int rc = parse_prepend(ctx, node, &meta->prepend);
    if (rc != FL_OK)
        return rc;
    meta->enabled = true;
    meta->replacement = fl_xstrdup(json_string_value(replacement));
    meta->replacement_length = json_string_length(replacement);
    const json_t *split = json_object_get(node, "split");
    meta->split = split == NULL || json_is_true(split);
    return FL_OK;
}

static int load_pre_tokenizer(load_ctx *ctx, const json_t *node)
{
    if (node == NULL || json_is_null(node))
        return FL_OK;
    const char *type = type_of(node);

    if (strcmp(type, "Sequence") == 0) {
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(node, "pretokenizers"), i, item) {
            int rc = load_pre_tokenizer(ctx, item);
            if (rc != FL_OK)
                return rc;
        }
        return FL_OK;
    }
    if (strcmp(type, "Split") == 0)
        return load_split(ctx, node);
    if (strcmp(type, "ByteLevel") == 0) {
        if (flag(node, "add_prefix_space"))
            return unsupported(ctx, "ByteLevel pre-tokenizer option", "add_prefix_space: true");
        ctx->tok->byte_level = true;
        const json_t *use_regex = json_object_get(node, "use_regex");
        if (use_regex == NULL || json_is_true(use_regex)) {
            tok_pretok_step step = {.kind = TOK_PRETOK_BYTE_REGEX};
            int rc = compile_regex(ctx, "ByteLevel regex", GPT2_PATTERN, strlen(GPT2_PATTERN),
                                   false, &step.code);
            if (rc != FL_OK)
                return rc;
            add_pretok(ctx->tok, step);
        }
        return FL_OK;
    }
    if (strcmp(type, "Metaspace") == 0)
        return load_metaspace(ctx, node);
    return unsupported(ctx, "pre_tokenizer", type);
}

/* model */

static void set_token(tok_tokenizer *tok, int32_t id, const char *text, size_t length)
{
    free(tok->id_text[id]);
    tok->id_text[id] = fl_xstrndup(text, length);
    tok->id_length[id] = (uint32_t)length;
}

static int32_t max_id(load_ctx *ctx, const json_t *vocab, const json_t *added)
{
    int32_t top = -1;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        json_int_t id = json_integer_value(value);
        if (id > top)
            top = (int32_t)id;
    }
    size_t i;
    json_array_foreach(added, i, value) {
        json_int_t id = json_integer_value(json_object_get(value, "id"));
        if (id > top)
            top = (int32_t)id;
    }
    (void)ctx;
    return top;
}

static int load_vocab(load_ctx *ctx, const json_t *vocab)
{
    tok_tokenizer *tok = ctx->tok;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        json_int_t id = json_integer_value(value);
        if (!json_is_integer(value) || id < 0 || id >= tok->id_count)
            return malformed(ctx, "model.vocab", "every value must be a token id >= 0");
        size_t length = strlen(key);
        tok_strmap_put(&tok->vocab, key, length, (int32_t)id);
        set_token(tok, (int32_t)id, key, length);
    }
    return FL_OK;
}

/* Splits one merge, "a b" or ["a", "b"], into its two parts; fails when a part is empty. */
static int merge_parts(const json_t *merge, const char **left, size_t *left_length,
                       const char **right, size_t *right_length)
{
    if (json_is_array(merge) && json_array_size(merge) == 2) {
        const json_t *a = json_array_get(merge, 0);
        const json_t *b = json_array_get(merge, 1);
        if (!json_is_string(a) || !json_is_string(b))
            return -1;
        *left = json_string_value(a);
        *left_length = json_string_length(a);
        *right = json_string_value(b);
        *right_length = json_string_length(b);
        return *left_length > 0 && *right_length > 0 ? 0 : -1;
    }
    if (!json_is_string(merge))
        return -1;
    const char *text = json_string_value(merge);
    const char *space = strchr(text, ' ');
    if (space == NULL)
        return -1;
    *left = text;
    *left_length = (size_t)(space - text);
    *right = space + 1;
    const char *second_space = strchr(*right, ' ');
    *right_length = second_space != NULL ? (size_t)(second_space - *right) : strlen(*right);
    return *left_length > 0 && *right_length > 0 ? 0 : -1;
}

static int load_merges(load_ctx *ctx, const json_t *merges)
{
    tok_tokenizer *tok = ctx->tok;
    if (!json_is_array(merges))
        return malformed(ctx, "model.merges", "must be an array");

    char *joined = NULL;
    size_t joined_capacity = 0;
    size_t i;
    const json_t *merge;
    json_array_foreach(merges, i, merge) {
        const char *left, *right;
        size_t left_length, right_length;
        if (merge_parts(merge, &left, &left_length, &right, &right_length) != 0) {
            free(joined);
            return fl_error_set(ctx->err, FL_EFORMAT,
                                "%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"] "
                                "with two non-empty parts",
                                ctx->path, i);
        }
        int32_t left_id = tok_strmap_get(&tok->vocab, left, left_length);
        int32_t right_id = tok_strmap_get(&tok->vocab, right, right_length);
        if (left_length + right_length > joined_capacity) {
            joined_capacity = (left_length + right_length) * 2;
            joined = fl_xrealloc(joined, joined_capacity);
        }
        memcpy(joined, left, left_length);
        memcpy(joined + left_length, right, right_length);
        int32_t merged_id = tok_strmap_get(&tok->vocab, joined, left_length + right_length);
        /* Hugging Face refuses such files; a merge whose parts or result are not
           tokens can never apply, so it is skipped. */
        if (left_id >= 0 && right_id >= 0 && merged_id >= 0)
            tok_pairmap_put(&tok->merges, left_id, right_id, (int32_t)i, merged_id);
    }
    free(joined);
    return FL_OK;
}

static int load_model(load_ctx *ctx, const json_t *model)
{
    tok_tokenizer *tok = ctx->tok;
    if (strcmp(type_of(model), "BPE") != 0)
        return unsupported(ctx, "model type", type_of(model));

    const char *prefix = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suffix = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((prefix != NULL && prefix[0] != '\0') || (suffix != NULL && suffix[0] != '\0'))
        return unsupported(ctx, "BPE option", "continuing_subword_prefix/end_of_word_suffix");
    const json_t *dropout = json_object_get(model, "dropout");
    if (dropout != NULL && !json_is_null(dropout) && json_number_value(dropout) != 0.0)
        return unsupported(ctx, "BPE option", "dropout");

    tok->byte_fallback = flag(model, "byte_fallback");
    tok->ignore_merges = flag(model, "ignore_merges");
    return load_merges(ctx, json_object_get(model, "merges"));
}

static int load_added(load_ctx *ctx, const json_t *added)
{
    tok_tokenizer *tok = ctx->tok;
    size_t count = json_array_size(added);
    tok->added = fl_xcalloc(count > 0 ? count : 1, sizeof(*tok->added));

    size_t i;
    const json_t *item;
    json_array_foreach(added, i, item) {
        const json_t *content = json_object_get(item, "content");
        const json_t *id = json_object_get(item, "id");
        if (!json_is_string(content) || json_string_length(content) == 0 ||
            !json_is_integer(id) || json_integer_value(id) < 0)
            return fl_error_set(ctx->err, FL_EFORMAT,
                                "%s: added_tokens[%zu]: needs a non-empty 'content' and an "
                                "'id' >= 0",
                                ctx->path, i);
        if (flag(item, "single_word"))
            return unsupported(ctx, "added token option", "single_word: true");

        tok_added *token = &tok->added[tok->added_count++];
        token->content = fl_xstrndup(json_string_value(content), json_string_length(content));
        token->length = json_string_length(content);
        token->id = (int32_t)json_integer_value(id);
        token->special = flag(item, "special");
        token->lstrip = flag(item, "lstrip");
        token->rstrip = flag(item, "rstrip");

        tok_strmap_put(&tok->vocab, token->content, token->length, token->id);
        set_token(tok, token->id, token->content, token->length);
        tok->id_special[token->id] = token->special;
        tok->added_first[(unsigned char)token->content[0]] = 1;
    }
    return FL_OK;
}

/* post-processor */

static int template_ids(load_ctx *ctx, const json_t *node, const json_t *piece, tok_ids *ids)
{
    const char *name = json_string_value(json_object_get(json_object_get(piece, "SpecialToken"),
                                                         "id"));
    const json_t *entry = json_object_get(json_object_get(node, "special_tokens"), name);
    const json_t *list = json_object_get(entry, "ids");
    if (name == NULL || !json_is_array(list))
        return malformed(ctx, "post_processor TemplateProcessing",
                         "a SpecialToken is missing from special_tokens");
    size_t i;
    const json_t *id;
    json_array_foreach(list, i, id) tok_ids_push(ids, (int32_t)json_integer_value(id));
    return FL_OK;
}

static int load_template(load_ctx *ctx, const json_t *node)
{
    tok_ids prefix, suffix;
    tok_ids_init(&prefix);
    tok_ids_init(&suffix);
    bool seen_sequence = false;
    int rc = FL_OK;

    size_t i;
    const json_t *piece;
    json_array_foreach(json_object_get(node, "single"), i, piece) {
        if (json_object_get(piece, "Sequence") != NULL) {
            seen_sequence = true;
            continue;
        }
        rc = template_ids(ctx, node, piece, seen_sequence ? &suffix : &prefix);
        if (rc != FL_OK)
            goto release_ids;
    }
    ctx->tok->prefix_ids = prefix.data;
    ctx->tok->prefix_count = prefix.length;
    ctx->tok->suffix_ids = suffix.data;
    ctx->tok->suffix_count = suffix.length;
    return FL_OK;

release_ids:
    tok_ids_release(&prefix);
    tok_ids_release(&suffix);
    return rc;
}

static int load_post_processor(load_ctx *ctx, const json_t *node)
{
    if (node == NULL || json_is_null(node))
        return FL_OK;
    const char *type = type_of(node);
    if (strcmp(type, "ByteLevel") == 0)
        return FL_OK; /* only adjusts offsets, never ids */
    if (strcmp(type, "TemplateProcessing") == 0)
        return load_template(ctx, node);
    if (strcmp(type, "Sequence") == 0) {
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(node, "processors"), i, item) {
            int rc = load_post_processor(ctx, item);
            if (rc != FL_OK)
                return rc;
        }
        return FL_OK;
    }
    return unsupported(ctx, "post_processor", type);
}

/* decoder */

static void add_decoder(tok_tokenizer *tok, tok_decode_step step)
{
    tok->decoder = fl_xrealloc(tok->decoder, (tok->decoder_count + 1) * sizeof(*tok->decoder));
    tok->decoder[tok->decoder_count++] = step;
}

static int load_decoder(load_ctx *ctx, const json_t *node)
{
    if (node == NULL || json_is_null(node))
        return FL_OK;
    const char *type = type_of(node);
    tok_decode_step step = {0};

    if (strcmp(type, "Sequence") == 0) {
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(node, "decoders"), i, item) {
            int rc = load_decoder(ctx, item);
            if (rc != FL_OK)
                return rc;
        }
        return FL_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        step.kind = TOK_DEC_BYTE_LEVEL;
    } else if (strcmp(type, "ByteFallback") == 0) {
        step.kind = TOK_DEC_BYTE_FALLBACK;
    } else if (strcmp(type, "Fuse") == 0) {
        step.kind = TOK_DEC_FUSE;
    } else if (strcmp(type, "Replace") == 0) {
        const json_t *content = json_object_get(node, "content");
        if (!json_is_string(content))
            return malformed(ctx, "decoder Replace", "missing string 'content'");
        int rc = read_literal_pattern(ctx, "decoder Replace", node, &step.text,
                                      &step.text_length);
        if (rc != FL_OK)
            return rc;
        step.kind = TOK_DEC_REPLACE;
        step.with = fl_xstrdup(json_string_value(content));
        step.with_length = json_string_length(content);
    } else if (strcmp(type, "Metaspace") == 0) {
        const json_t *replacement = json_object_get(node, "replacement");
        if (!json_is_string(replacement) || json_string_length(replacement) == 0)
            return malformed(ctx, "decoder Metaspace", "missing string 'replacement'");
        enum tok_prepend prepend;
        int rc = parse_prepend(ctx, node, &prepend);
        if (rc != FL_OK)
            return rc;
        step.kind = TOK_DEC_METASPACE;
        step.text = fl_xstrdup(json_string_value(replacement));
        step.text_length = json_string_length(replacement);
        step.with = fl_xstrdup(" ");
        step.with_length = 1;
        step.start = prepend != TOK_PREPEND_NEVER;
    } else if (strcmp(type, "Strip") == 0) {
        const json_t *content = json_object_get(node, "content");
        if (!json_is_string(content) || json_string_length(content) == 0)
            return malformed(ctx, "decoder Strip", "missing string 'content'");
        step.kind = TOK_DEC_STRIP;
        step.text = fl_xstrdup(json_string_value(content));
        step.text_length = json_string_length(content);
        step.start = (int)json_integer_value(json_object_get(node, "start"));
        step.stop = (int)json_integer_value(json_object_get(node, "stop"));
    } else {
        return unsupported(ctx, "decoder", type);
    }
    add_decoder(ctx->tok, step);
    return FL_OK;
}

/* symbol tables the encoder uses on every character */

static int fill_symbol_tables(load_ctx *ctx)
{
    tok_tokenizer *tok = ctx->tok;
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int length = tok_byte_level_encode_byte((unsigned char)b, buf);
        tok->byte_symbol[b] = tok_strmap_get(&tok->vocab, buf, (size_t)length);
        if (tok->byte_level && tok->byte_symbol[b] < 0)
            return fl_error_set(ctx->err, FL_EFORMAT,
                                "%s: byte-level vocabulary lacks the token for byte 0x%02X",
                                ctx->path, b);
        snprintf(buf, sizeof(buf), "<0x%02X>", b);
        tok->byte_fallback_id[b] = tok_strmap_get(&tok->vocab, buf, 6);
    }
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        tok->ascii_symbol[c] = tok_strmap_get(&tok->vocab, &ch, 1);
    }
    if (!tok->byte_level && !tok->byte_fallback && tok->unk_id < 0)
        return unsupported(ctx, "BPE model", "without byte_fallback, ByteLevel or unk_token");
    return FL_OK;
}

/* True when some token has U+2581 right after a character other than U+2581. */
static bool has_inner_metaspace(const tok_tokenizer *tok)
{
    for (int32_t id = 0; id < tok->id_count; id++) {
        const char *text = tok->id_text[id];
        if (text == NULL)
            continue;
        for (uint32_t i = 1; i + 3 <= tok->id_length[id]; i++) {
            if (memcmp(text + i, "\xE2\x96\x81", 3) != 0)
                continue;
            if (i < 3 || memcmp(text + i - 3, "\xE2\x96\x81", 3) != 0)
                return true;
        }
    }
    return false;
}

static int load_parts(load_ctx *ctx, const json_t *root)
{
    tok_tokenizer *tok = ctx->tok;
    const json_t *model = json_object_get(root, "model");
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *added = json_object_get(root, "added_tokens");
    if (!json_is_object(model) || !json_is_object(vocab))
        return malformed(ctx, "model", "missing object 'model' with 'vocab'");
    if (added != NULL && !json_is_array(added))
        return malformed(ctx, "added_tokens", "must be an array");

    tok->id_count = max_id(ctx, vocab, added) + 1;
    tok->id_text = fl_xcalloc((size_t)tok->id_count + 1, sizeof(*tok->id_text));
    tok->id_length = fl_xcalloc((size_t)tok->id_count + 1, sizeof(*tok->id_length));
    tok->id_special = fl_xcalloc((size_t)tok->id_count + 1, sizeof(*tok->id_special));

    int rc = load_vocab(ctx, vocab);
    if (rc == FL_OK)
        rc = load_added(ctx, added);
    if (rc == FL_OK)
        rc = load_model(ctx, model);
    if (rc == FL_OK)
        rc = load_normalizer(ctx, json_object_get(root, "normalizer"));
    if (rc == FL_OK)
        rc = load_pre_tokenizer(ctx, json_object_get(root, "pre_tokenizer"));
    if (rc == FL_OK)
        rc = load_post_processor(ctx, json_object_get(root, "post_processor"));
    if (rc == FL_OK)
        rc = load_decoder(ctx, json_object_get(root, "decoder"));
    if (rc != FL_OK)
        return rc;

    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    tok->unk_id = unk != NULL ? tok_strmap_get(&tok->vocab, unk, strlen(unk)) : -1;
    tok_index_added(tok);
    tok->split_words = !tok->byte_level && !tok->ignore_merges && !has_inner_metaspace(tok);
    return fill_symbol_tables(ctx);
}

int tok_load(const char *path, tok_tokenizer **out, fl_error *err)
{
    *out = NULL;
    json_t *root = fl_json_load_file(path, TOK_MAX_FILE_BYTES, err);
    if (root == NULL)
        return err != NULL ? err->code : FL_EFORMAT;

    tok_tokenizer *tok = fl_xcalloc(1, sizeof(*tok));
    tok->path = fl_xstrdup(path);
    tok_strmap_init(&tok->vocab);
    tok_pairmap_init(&tok->merges);
    tok_strmap_init(&tok->cache);
    tok_ids_init(&tok->cache_ids);

    load_ctx ctx = {.tok = tok, .path = path, .err = err};
    int rc = load_parts(&ctx, root);
    json_decref(root);
    if (rc != FL_OK) {
        tok_destroy(&tok);
        return rc;
    }
    tok->match_data = pcre2_match_data_create(4, NULL);
    *out = tok;
    return FL_OK;
}

void tok_destroy(tok_tokenizer **tokp)
{
    if (tokp == NULL || *tokp == NULL)
        return;
    tok_tokenizer *tok = *tokp;

    for (int32_t i = 0; i < tok->id_count; i++)
        free(tok->id_text[i]);
    free(tok->id_text);
    free(tok->id_length);
    free(tok->id_special);
    tok_strmap_release(&tok->vocab);
    tok_pairmap_release(&tok->merges);
    tok_strmap_release(&tok->cache);
    tok_ids_release(&tok->cache_ids);

    for (size_t i = 0; i < tok->norm_count; i++) {
        free(tok->norm[i].text);
        free(tok->norm[i].with);
    }
    free(tok->norm);
    free(tok->metaspace.replacement);
    free(tok->meta_buffer);
    for (size_t i = 0; i < tok->pretok_count; i++)
        pcre2_code_free(tok->pretok[i].code);
    free(tok->pretok);
    for (size_t i = 0; i < tok->decoder_count; i++) {
        free(tok->decoder[i].text);
        free(tok->decoder[i].with);
    }
    free(tok->decoder);
    for (size_t i = 0; i < tok->added_count; i++)
        free(tok->added[i].content);
    free(tok->added);
    free(tok->added_order);
    free(tok->prefix_ids);
    free(tok->suffix_ids);

    pcre2_match_data_free(tok->match_data);
    free(tok->norm_buffer);
    free(tok->norm_buffer2);
    free(tok->symbols);
    free(tok->heap);
    free(tok->byte_text);
    free(tok->spans);
    free(tok->spans2);
    free(tok->path);
    free(tok);
    *tokp = NULL;
}

/* small accessors */

void tok_ids_init(tok_ids *ids)
{
    memset(ids, 0, sizeof(*ids));
}

void tok_ids_release(tok_ids *ids)
{
    free(ids->data);
    memset(ids, 0, sizeof(*ids));
}

void tok_ids_push(tok_ids *ids, int32_t id)
{
    if (ids->length == ids->capacity) {
        ids->capacity = ids->capacity == 0 ? 64 : ids->capacity * 2;
        ids->data = fl_xrealloc(ids->data, ids->capacity * sizeof(*ids->data));
    }
    ids->data[ids->length++] = id;
}

int32_t tok_token_id(const tok_tokenizer *tok, const char *token)
{
    return tok_strmap_get(&tok->vocab, token, strlen(token));
}

const char *tok_token_text(const tok_tokenizer *tok, int32_t id, size_t *length)
{
    if (id < 0 || id >= tok->id_count || tok->id_text[id] == NULL)
        return NULL;
    if (length != NULL)
        *length = tok->id_length[id];
    return tok->id_text[id];
}

int32_t tok_vocab_size(const tok_tokenizer *tok)
{
    return tok->id_count;
}

bool tok_is_special(const tok_tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->id_count && tok->id_special[id];
}

const int32_t *tok_template_prefix(const tok_tokenizer *tok, size_t *count)
{
    *count = tok->prefix_count;
    return tok->prefix_ids;
}

const int32_t *tok_template_suffix(const tok_tokenizer *tok, size_t *count)
{
    *count = tok->suffix_count;
    return tok->suffix_ids;
}
