/*
 * chat_format.c - chat templates at the token level (see chat_format.h).
 *
 * A template is built as a run of text parts between special tokens. Each
 * run is encoded in one piece, because the tokenizer handles the text
 * between two special tokens independently, so the ids equal those of
 * encoding the whole rendered conversation. Where a run switches between
 * prompt and trained text, the boundary is the number of leading ids that
 * the earlier parts alone share with the whole run. A token that straddles
 * the boundary goes with the later part, so "▁Rest" (the space before a
 * Llama 2 reply merged with its first word) is trained on.
 */
#include "chat_format.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_file.h"
#include "fl_json.h"
#include "fl_mem.h"

enum { MAX_PARTS = 16 };

typedef struct text_part {
    const char *text;
    size_t length;
    bool train;
} text_part;

typedef struct builder {
    tok_tokenizer *tok;
    tok_ids *ids;
    tok_ids *train;
    text_part parts[MAX_PARTS];
    size_t part_count;
    char *joined;
    size_t joined_capacity;
    tok_ids full, prefix;
    fl_error *err;
    size_t message; /* index of the message being rendered, for errors */
} builder;

const char *chat_family_name(chat_family family)
{
    switch (family) {
    case CHAT_CHATML:
        return "chatml";
    case CHAT_LLAMA3:
        return "llama3";
    case CHAT_LLAMA2:
        return "llama2";
    case CHAT_UNKNOWN:
        break;
    }
    return "unknown";
}

int chat_family_parse(const char *name, chat_family *out)
{
    const chat_family all[] = {CHAT_CHATML, CHAT_LLAMA3, CHAT_LLAMA2};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, chat_family_name(all[i])) == 0) {
            *out = all[i];
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

int chat_config_path(const char *tokenizer_path, char *out, size_t size)
{
    const char *slash = strrchr(tokenizer_path, '/');
    size_t folder = slash != NULL ? (size_t)(slash - tokenizer_path) + 1 : 0;
    int written = snprintf(out, size, "%.*stokenizer_config.json", (int)folder, tokenizer_path);
    return written < 0 || (size_t)written >= size ? FL_ERANGE : FL_OK;
}

/* Detection */

static chat_family family_of_template(const char *text)
{
    if (text == NULL)
        return CHAT_UNKNOWN;
    if (strstr(text, "<|im_start|>") != NULL)
        return CHAT_CHATML;
    if (strstr(text, "<|start_header_id|>") != NULL)
        return CHAT_LLAMA3;
    if (strstr(text, "[INST]") != NULL)
        return CHAT_LLAMA2;
    return CHAT_UNKNOWN;
}

/* chat_template is a string or a list of {"name", "template"}; the first known one wins. */
static chat_family family_of_config(const json_t *config)
{
    const json_t *chat_template = json_object_get(config, "chat_template");
    if (json_is_string(chat_template))
        return family_of_template(json_string_value(chat_template));
    size_t i;
    const json_t *item;
    json_array_foreach(chat_template, i, item) {
        chat_family family =
            family_of_template(json_string_value(json_object_get(item, "template")));
        if (family != CHAT_UNKNOWN)
            return family;
    }
    return CHAT_UNKNOWN;
}

/* Loads tokenizer_config.json, whose model_max_length is often an integer too big for int64. */
static json_t *load_config(const char *path, fl_error *err)
{
    char *text = NULL;
    size_t length = 0;
    if (fl_file_read_all(path, (size_t)16 << 20, &text, &length, err) != FL_OK)
        return NULL;
    json_error_t parse_error;
    json_t *config = json_loadb(text, length, JSON_DECODE_INT_AS_REAL, &parse_error);
    free(text);
    if (config == NULL)
        fl_error_set(err, FL_EFORMAT, "%s:%d:%d: invalid JSON: %s", path, parse_error.line,
                     parse_error.column, parse_error.text);
    return config;
}

static bool has_tokens(const tok_tokenizer *tok, const char *a, const char *b)
{
    return tok_token_id(tok, a) >= 0 && tok_token_id(tok, b) >= 0;
}

int chat_detect(const tok_tokenizer *tok, const char *config_path, chat_family *out,
                fl_error *err)
{
    json_t *config = NULL;
    if (config_path != NULL) {
        FILE *probe = fopen(config_path, "r");
        if (probe != NULL) {
            fclose(probe);
            config = load_config(config_path, err);
            if (config == NULL)
                return err != NULL ? err->code : FL_EFORMAT;
        }
    }

    chat_family family = family_of_config(config);
    if (family == CHAT_UNKNOWN && has_tokens(tok, "<|im_start|>", "<|im_end|>"))
        family = CHAT_CHATML;
    if (family == CHAT_UNKNOWN && has_tokens(tok, "<|start_header_id|>", "<|eot_id|>"))
        family = CHAT_LLAMA3;
    const char *class_name = json_string_value(json_object_get(config, "tokenizer_class"));
    if (family == CHAT_UNKNOWN && class_name != NULL && strstr(class_name, "Llama") != NULL &&
        has_tokens(tok, "<s>", "</s>"))
        family = CHAT_LLAMA2;
    json_decref(config);

    *out = family;
    if (family == CHAT_UNKNOWN)
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "%s: cannot tell the model's chat format from its chat_template or "
                            "special tokens; choose one with --chat-format chatml, llama3 or "
                            "llama2",
                            config_path != NULL ? config_path : "tokenizer");
    return FL_OK;
}

int chat_resolve(const tok_tokenizer *tok, const char *tokenizer_path, const char *override,
                 chat_family *out, fl_error *err)
{
    *out = CHAT_UNKNOWN;
    if (override != NULL) {
        if (chat_family_parse(override, out) != FL_OK)
            return fl_error_set(err, FL_EINVAL,
                                "chat format '%s' is unknown; use chatml, llama3 or llama2",
                                override);
        return FL_OK;
    }
    char config[4096];
    if (chat_config_path(tokenizer_path, config, sizeof(config)) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", tokenizer_path);
    return chat_detect(tok, config, out, err);
}

/* Building */

static void add_text(builder *b, const char *text, size_t length, bool train)
{
    assert(b->part_count < MAX_PARTS);
    b->parts[b->part_count++] = (text_part){.text = text, .length = length, .train = train};
}

static int encode_parts(builder *b, size_t count, tok_ids *out)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += b->parts[i].length;
    if (total + 1 > b->joined_capacity) {
        b->joined_capacity = total * 2 + 64;
        b->joined = fl_xrealloc(b->joined, b->joined_capacity);
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        memcpy(b->joined + used, b->parts[i].text, b->parts[i].length);
        used += b->parts[i].length;
    }
    out->length = 0;
    int rc = tok_encode(b->tok, b->joined, used, TOK_SPLIT_SPECIAL, out, b->err);
    if (rc != FL_OK)
        fl_error_prefix(b->err, "message %zu: ", b->message);
    return rc;
}

/* Encodes the pending text parts and appends their ids with the train flag of each. */
static int flush(builder *b)
{
    if (b->part_count == 0)
        return FL_OK;
    int rc = encode_parts(b, b->part_count, &b->full);
    if (rc != FL_OK)
        return rc;

    size_t start = 0;
    for (size_t p = 0; p < b->part_count; p++) {
        size_t end = b->full.length;
        bool last = p + 1 == b->part_count;
        if (!last && b->parts[p + 1].train != b->parts[p].train) {
            rc = encode_parts(b, p + 1, &b->prefix);
            if (rc != FL_OK)
                return rc;
            end = 0;
            while (end < b->prefix.length && end < b->full.length &&
                   b->prefix.data[end] == b->full.data[end])
                end++;
            if (end < start)
                end = start;
        } else if (!last) {
            continue; /* same flag as the next part: one range covers both */
        }
        for (size_t i = start; i < end; i++) {
            tok_ids_push(b->ids, b->full.data[i]);
            tok_ids_push(b->train, b->parts[p].train ? 1 : 0);
        }
        start = end;
    }
    b->part_count = 0;
    return FL_OK;
}

static int add_special(builder *b, const char *token, bool train)
{
    int rc = flush(b);
    if (rc != FL_OK)
        return rc;
    int32_t id = tok_token_id(b->tok, token);
    if (id < 0)
        return fl_error_set(b->err, FL_EUNSUPPORTED,
                            "the tokenizer has no %s token, which this chat format needs; "
                            "choose the format that matches the model with --chat-format",
                            token);
    tok_ids_push(b->ids, id);
    tok_ids_push(b->train, train ? 1 : 0);
    return FL_OK;
}

static bool is_assistant(const chat_message *message)
{
    return strcmp(message->role, "assistant") == 0;
}

static void trim(const char **text, size_t *length)
{
    while (*length > 0 && strchr(" \t\r\n\v\f", (*text)[0]) != NULL) {
        (*text)++;
        (*length)--;
    }
    while (*length > 0 && strchr(" \t\r\n\v\f", (*text)[*length - 1]) != NULL)
        (*length)--;
}

static int render_chatml(builder *b, const chat_message *messages, size_t count)
{
    int rc = FL_OK;
    for (size_t i = 0; i < count && rc == FL_OK; i++) {
        const chat_message *m = &messages[i];
        bool train = is_assistant(m);
        b->message = i;
        rc = add_special(b, "<|im_start|>", false);
        if (rc != FL_OK)
            break;
        add_text(b, m->role, strlen(m->role), false);
        add_text(b, "\n", 1, false);
        add_text(b, m->content, m->content_length, train);
        rc = add_special(b, "<|im_end|>", train);
        if (rc == FL_OK)
            add_text(b, "\n", 1, false);
    }
    return rc != FL_OK ? rc : flush(b);
}

static int render_llama3(builder *b, const chat_message *messages, size_t count)
{
    int rc = add_special(b, "<|begin_of_text|>", false);
    for (size_t i = 0; i < count && rc == FL_OK; i++) {
        const chat_message *m = &messages[i];
        bool train = is_assistant(m);
        const char *content = m->content;
        size_t length = m->content_length;
        trim(&content, &length);
        b->message = i;
        rc = add_special(b, "<|start_header_id|>", false);
        if (rc != FL_OK)
            break;
        add_text(b, m->role, strlen(m->role), false);
        rc = add_special(b, "<|end_header_id|>", false);
        if (rc != FL_OK)
            break;
        add_text(b, "\n\n", 2, false);
        add_text(b, content, length, train);
        rc = add_special(b, "<|eot_id|>", train);
    }
    return rc != FL_OK ? rc : flush(b);
}

static int render_llama2(builder *b, const chat_message *messages, size_t count)
{
    size_t i = 0;
    const chat_message *system = NULL;
    if (count > 0 && strcmp(messages[0].role, "system") == 0)
        system = &messages[i++];

    int rc = FL_OK;
    for (; i < count && rc == FL_OK; i += 2) {
        const chat_message *user = &messages[i];
        const chat_message *reply = i + 1 < count ? &messages[i + 1] : NULL;
        b->message = i;
        if (strcmp(user->role, "user") != 0 || (reply != NULL && !is_assistant(reply)))
            return fl_error_set(b->err, FL_EINVAL,
                                "message %zu: the Llama 2 format needs user and assistant "
                                "messages in turn after an optional first system message; "
                                "found '%s' then '%s'",
                                i, user->role, reply != NULL ? reply->role : "(end)");

        const char *text = user->content;
        size_t length = user->content_length;
        trim(&text, &length);
        rc = add_special(b, "<s>", false);
        if (rc != FL_OK)
            break;
        add_text(b, "[INST] ", 7, false);
        if (system != NULL) {
            const char *system_text = system->content;
            size_t system_length = system->content_length;
            trim(&system_text, &system_length);
            add_text(b, "<<SYS>>\n", 8, false);
            add_text(b, system_text, system_length, false);
            add_text(b, "\n<</SYS>>\n\n", 11, false);
            system = NULL;
        }
        add_text(b, text, length, false);
        add_text(b, " [/INST]", 8, false);
        if (reply == NULL)
            break;

        text = reply->content;
        length = reply->content_length;
        trim(&text, &length);
        b->message = i + 1;
        add_text(b, " ", 1, true);
        add_text(b, text, length, true);
        add_text(b, " ", 1, true);
        rc = add_special(b, "</s>", true);
    }
    return rc != FL_OK ? rc : flush(b);
}

int chat_encode(tok_tokenizer *tok, chat_family family, const chat_message *messages,
                size_t count, tok_ids *ids, tok_ids *train, fl_error *err)
{
    builder b = {.tok = tok, .ids = ids, .train = train, .err = err};
    tok_ids_init(&b.full);
    tok_ids_init(&b.prefix);

    int rc;
    switch (family) {
    case CHAT_CHATML:
        rc = render_chatml(&b, messages, count);
        break;
    case CHAT_LLAMA3:
        rc = render_llama3(&b, messages, count);
        break;
    case CHAT_LLAMA2:
        rc = render_llama2(&b, messages, count);
        break;
    default:
        rc = fl_error_set(err, FL_EINVAL, "no chat format chosen");
        break;
    }

    free(b.joined);
    tok_ids_release(&b.full);
    tok_ids_release(&b.prefix);
    return rc;
}
