/*
 * rec_parse.c - one JSONL record to token ids and train flags, for each of
 * the four record formats (see rec_dataset.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "rec_internal.h"

rec_format rec_detect_format(const json_t *record)
{
    if (json_object_get(record, "messages") != NULL)
        return REC_FORMAT_MESSAGES;
    if (json_object_get(record, "instruction") != NULL && json_object_get(record, "output"))
        return REC_FORMAT_ALPACA;
    if (json_object_get(record, "prompt") != NULL && json_object_get(record, "completion"))
        return REC_FORMAT_PROMPT;
    if (json_object_get(record, "text") != NULL)
        return REC_FORMAT_TEXT;
    return REC_FORMAT_AUTO;
}

/* Reads a required, non-empty string field. */
static int string_field(const json_t *object, const char *key, const char *format,
                        const char **text, size_t *length, fl_error *err)
{
    const json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value))
        return fl_error_set(err, FL_EINVAL, "missing field '%s' of the %s format", key, format);
    if (!json_is_string(value))
        return fl_error_set(err, FL_EINVAL, "field '%s' must be a string", key);
    if (json_string_length(value) == 0)
        return fl_error_set(err, FL_EINVAL, "field '%s' is empty", key);
    *text = json_string_value(value);
    *length = json_string_length(value);
    return FL_OK;
}

static int encode_text(tok_tokenizer *tok, const json_t *record, tok_ids *ids, tok_ids *train,
                       fl_error *err)
{
    const char *text;
    size_t length;
    int rc = string_field(record, "text", "text", &text, &length, err);
    if (rc != FL_OK)
        return rc;
    size_t first = ids->length;
    rc = tok_encode(tok, text, length, TOK_ADD_SPECIAL, ids, err);
    for (size_t i = first; rc == FL_OK && i < ids->length; i++)
        tok_ids_push(train, 1);
    return rc;
}

static int encode_pair(tok_tokenizer *tok, chat_family chat, const char *user, size_t user_length,
                       const char *reply, size_t reply_length, tok_ids *ids, tok_ids *train,
                       fl_error *err)
{
    const chat_message messages[] = {
        {.role = "user", .content = user, .content_length = user_length},
        {.role = "assistant", .content = reply, .content_length = reply_length},
    };
    return chat_encode(tok, chat, messages, 2, ids, train, err);
}

static int encode_alpaca(tok_tokenizer *tok, chat_family chat, const json_t *record,
                         tok_ids *ids, tok_ids *train, fl_error *err)
{
    const char *instruction, *output;
    size_t instruction_length, output_length;
    int rc = string_field(record, "instruction", "alpaca", &instruction, &instruction_length,
                          err);
    if (rc == FL_OK)
        rc = string_field(record, "output", "alpaca", &output, &output_length, err);
    if (rc != FL_OK)
        return rc;

    const json_t *input = json_object_get(record, "input");
    if (input != NULL && !json_is_null(input) && !json_is_string(input))
        return fl_error_set(err, FL_EINVAL, "field 'input' must be a string");
    size_t input_length = json_string_length(input);
    if (input_length == 0)
        return encode_pair(tok, chat, instruction, instruction_length, output, output_length,
                           ids, train, err);

    size_t length = instruction_length + 2 + input_length;
    char *user = fl_xmalloc(length);
    memcpy(user, instruction, instruction_length);
    memcpy(user + instruction_length, "\n\n", 2);
    memcpy(user + instruction_length + 2, json_string_value(input), input_length);
    rc = encode_pair(tok, chat, user, length, output, output_length, ids, train, err);
    free(user);
    return rc;
}

static int encode_prompt(tok_tokenizer *tok, chat_family chat, const json_t *record,
                         tok_ids *ids, tok_ids *train, fl_error *err)
{
    const char *prompt, *completion;
    size_t prompt_length, completion_length;
    int rc = string_field(record, "prompt", "prompt", &prompt, &prompt_length, err);
    if (rc == FL_OK)
        rc = string_field(record, "completion", "prompt", &completion, &completion_length, err);
    if (rc != FL_OK)
        return rc;
    return encode_pair(tok, chat, prompt, prompt_length, completion, completion_length, ids,
                       train, err);
}

static int encode_messages(tok_tokenizer *tok, chat_family chat, const json_t *record,
                           tok_ids *ids, tok_ids *train, fl_error *err)
{
    const json_t *list = json_object_get(record, "messages");
    size_t count = json_array_size(list);
    if (!json_is_array(list) || count == 0)
        return fl_error_set(err, FL_EINVAL, "field 'messages' must be a non-empty array");

    chat_message *messages = fl_xcalloc(count, sizeof(*messages));
    bool has_reply = false;
    int rc = FL_OK;
    for (size_t i = 0; i < count && rc == FL_OK; i++) {
        const json_t *message = json_array_get(list, i);
        const char *role = json_string_value(json_object_get(message, "role"));
        if (role == NULL || (strcmp(role, "system") != 0 && strcmp(role, "user") != 0 &&
                             strcmp(role, "assistant") != 0)) {
            rc = fl_error_set(err, FL_EINVAL,
                              "messages[%zu]: 'role' must be \"system\", \"user\" or "
                              "\"assistant\"",
                              i);
            break;
        }
        rc = string_field(message, "content", "messages", &messages[i].content,
                          &messages[i].content_length, err);
        if (rc != FL_OK)
            fl_error_prefix(err, "messages[%zu]: ", i);
        messages[i].role = role;
        has_reply = has_reply || strcmp(role, "assistant") == 0;
    }
    if (rc == FL_OK && !has_reply)
        rc = fl_error_set(err, FL_EINVAL, "no assistant message, so nothing to train on");
    if (rc == FL_OK)
        rc = chat_encode(tok, chat, messages, count, ids, train, err);
    free(messages);
    return rc;
}

int rec_encode_record(tok_tokenizer *tok, const rec_options *options, rec_format format,
                      const json_t *record, tok_ids *ids, tok_ids *train, fl_error *err)
{
    if (format != REC_FORMAT_TEXT && options->chat == CHAT_UNKNOWN)
        return fl_error_set(err, FL_EINVAL,
                            "the %s format needs a chat format; choose one with --chat-format",
                            rec_format_name(format));
    switch (format) {
    case REC_FORMAT_TEXT:
        return encode_text(tok, record, ids, train, err);
    case REC_FORMAT_ALPACA:
        return encode_alpaca(tok, options->chat, record, ids, train, err);
    case REC_FORMAT_MESSAGES:
        return encode_messages(tok, options->chat, record, ids, train, err);
    case REC_FORMAT_PROMPT:
        return encode_prompt(tok, options->chat, record, ids, train, err);
    case REC_FORMAT_AUTO:
        break;
    }
    return fl_error_set(err, FL_EINVAL, "no record format chosen");
}
