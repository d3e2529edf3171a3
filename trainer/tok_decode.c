/*
 * tok_decode.c - token ids to text through the decoder chain of
 * tokenizer.json (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace). Each step
 * maps a list of strings to a new list, as in Hugging Face tokenizers; the
 * result is their concatenation.
 */
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "tok_internal.h"

typedef struct piece {
    char *text;
    size_t length;
    bool added; /* an added token, which ByteLevel passes through unchanged */
} piece;

typedef struct piece_list {
    piece *items;
    size_t count;
    size_t capacity;
} piece_list;

typedef struct byte_buffer {
    char *data;
    size_t length;
    size_t capacity;
} byte_buffer;

static void buffer_append(byte_buffer *buffer, const char *data, size_t length)
{
    if (buffer->length + length + 1 > buffer->capacity) {
        buffer->capacity = (buffer->length + length + 1) * 2;
        buffer->data = fl_xrealloc(buffer->data, buffer->capacity);
    }
    memcpy(buffer->data + buffer->length, data, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

static void list_push(piece_list *list, char *text, size_t length, bool added)
{
    if (list->count == list->capacity) {
        list->capacity = list->capacity == 0 ? 64 : list->capacity * 2;
        list->items = fl_xrealloc(list->items, list->capacity * sizeof(*list->items));
    }
    list->items[list->count++] = (piece){.text = text, .length = length, .added = added};
}

static void list_release(piece_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].text);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* Appends bytes as UTF-8, each maximal invalid subsequence becoming U+FFFD. */
static void append_lossy(byte_buffer *out, const unsigned char *bytes, size_t length)
{
    size_t i = 0;
    while (i < length) {
        unsigned char c = bytes[i];
        size_t need = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2
                    : (c >= 0xF0 && c <= 0xF4) ? 3 : 99;
        size_t k = 1;
        bool valid = need != 99;
        if (valid) {
            uint32_t cp = need == 0 ? c : (uint32_t)(c & (0x3F >> need));
            for (; k <= need; k++) {
                if (i + k >= length || (bytes[i + k] & 0xC0) != 0x80) {
                    valid = false;
                    break;
                }
                cp = (cp << 6) | (bytes[i + k] & 0x3F);
            }
            static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
            if (valid && (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))
                valid = false;
        }
        if (valid) {
            buffer_append(out, (const char *)bytes + i, need + 1);
            i += need + 1;
        } else {
            buffer_append(out, "\xEF\xBF\xBD", 3);
            i += need == 99 ? 1 : (k > 1 ? k : 1);
        }
    }
}

static uint32_t next_code_point(const char *text, size_t length, size_t *at)
{
    const unsigned char *s = (const unsigned char *)text + *at;
    size_t left = length - *at;
    if (s[0] < 0x80 || left < 2) {
        (*at)++;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *at += 2;
        return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (s[0] < 0xF0 && left >= 3) {
        *at += 3;
        return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    if (left >= 4) {
        *at += 4;
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
    (*at)++;
    return s[0];
}

/* Maps a run of ByteLevel characters back to bytes; characters outside the map keep their UTF-8. */
static void byte_level_run(const piece *items, size_t count, byte_buffer *out)
{
    byte_buffer raw = {0};
    for (size_t i = 0; i < count; i++) {
        size_t at = 0;
        while (at < items[i].length) {
            size_t before = at;
            uint32_t cp = next_code_point(items[i].text, items[i].length, &at);
            int b = tok_byte_level_decode_char(cp);
            if (b >= 0) {
                char byte = (char)b;
                buffer_append(&raw, &byte, 1);
            } else {
                buffer_append(&raw, items[i].text + before, at - before);
            }
        }
    }
    append_lossy(out, (const unsigned char *)raw.data, raw.length);
    free(raw.data);
}

static void step_byte_level(piece_list *in, piece_list *out)
{
    size_t i = 0;
    while (i < in->count) {
        if (in->items[i].added) {
            list_push(out, in->items[i].text, in->items[i].length, true);
            in->items[i].text = NULL;
            i++;
            continue;
        }
        size_t end = i;
        while (end < in->count && !in->items[end].added)
            end++;
        byte_buffer text = {0};
        buffer_append(&text, "", 0);
        byte_level_run(in->items + i, end - i, &text);
        list_push(out, text.data, text.length, false);
        i = end;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Returns the byte a "<0xXX>" token stands for, or -1. */
static int fallback_byte(const piece *p)
{
    if (p->length != 6 || memcmp(p->text, "<0x", 3) != 0 || p->text[5] != '>')
        return -1;
    int high = hex_digit(p->text[3]), low = hex_digit(p->text[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
}

static void step_byte_fallback(piece_list *in, piece_list *out)
{
    size_t i = 0;
    while (i < in->count) {
        if (fallback_byte(&in->items[i]) < 0) {
            list_push(out, in->items[i].text, in->items[i].length, in->items[i].added);
            in->items[i].text = NULL;
            i++;
            continue;
        }
        byte_buffer raw = {0}, text = {0};
        buffer_append(&text, "", 0);
        for (; i < in->count && fallback_byte(&in->items[i]) >= 0; i++) {
            char byte = (char)fallback_byte(&in->items[i]);
            buffer_append(&raw, &byte, 1);
        }
        append_lossy(&text, (const unsigned char *)raw.data, raw.length);
        free(raw.data);
        list_push(out, text.data, text.length, false);
    }
}

static void step_replace(const tok_decode_step *step, piece_list *in, piece_list *out)
{
    for (size_t i = 0; i < in->count; i++) {
        byte_buffer text = {0};
        buffer_append(&text, "", 0);
        const piece *p = &in->items[i];
        size_t at = 0;
        while (at < p->length) {
            if (at + step->text_length <= p->length &&
                memcmp(p->text + at, step->text, step->text_length) == 0) {
                buffer_append(&text, step->with, step->with_length);
                at += step->text_length;
            } else {
                buffer_append(&text, p->text + at, 1);
                at++;
            }
        }
        list_push(out, text.data, text.length, p->added);
    }
}

/* Metaspace: the replacement becomes a space and the first token loses one leading space. */
static void step_metaspace(const tok_decode_step *step, piece_list *in, piece_list *out)
{
    step_replace(step, in, out);
    if (step->start && out->count > 0 && out->items[0].length > 0 &&
        out->items[0].text[0] == ' ') {
        piece *first = &out->items[0];
        memmove(first->text, first->text + 1, first->length);
        first->length--;
    }
}

static void step_fuse(piece_list *in, piece_list *out)
{
    byte_buffer text = {0};
    buffer_append(&text, "", 0);
    for (size_t i = 0; i < in->count; i++)
        buffer_append(&text, in->items[i].text, in->items[i].length);
    list_push(out, text.data, text.length, false);
}

static void step_strip(const tok_decode_step *step, piece_list *in, piece_list *out)
{
    size_t n = step->text_length;
    for (size_t i = 0; i < in->count; i++) {
        const piece *p = &in->items[i];
        size_t start = 0, end = p->length;
        for (int k = 0; k < step->start && start + n <= end &&
                        memcmp(p->text + start, step->text, n) == 0; k++)
            start += n;
        for (int k = 0; k < step->stop && end >= start + n &&
                        memcmp(p->text + end - n, step->text, n) == 0; k++)
            end -= n;
        list_push(out, fl_xstrndup(p->text + start, end - start), end - start, p->added);
    }
}

static bool is_added(const tok_tokenizer *tok, int32_t id)
{
    for (size_t i = 0; i < tok->added_count; i++)
        if (tok->added[i].id == id)
            return true;
    return false;
}

int tok_decode(const tok_tokenizer *tok, const int32_t *ids, size_t count, bool skip_special,
               char **out, size_t *out_length, fl_error *err)
{
    *out = NULL;
    piece_list list = {0};
    for (size_t i = 0; i < count; i++) {
        size_t length;
        const char *text = tok_token_text(tok, ids[i], &length);
        if (text == NULL) {
            list_release(&list);
            return fl_error_set(err, FL_ERANGE,
                                "token id %d at position %zu is not in the vocabulary of %s "
                                "(%d ids)",
                                (int)ids[i], i, tok->path, (int)tok->id_count);
        }
        if (skip_special && tok->id_special[ids[i]])
            continue;
        list_push(&list, fl_xstrndup(text, length), length, is_added(tok, ids[i]));
    }

    for (size_t s = 0; s < tok->decoder_count; s++) {
        const tok_decode_step *step = &tok->decoder[s];
        piece_list next = {0};
        switch (step->kind) {
        case TOK_DEC_BYTE_LEVEL:
            step_byte_level(&list, &next);
            break;
        case TOK_DEC_BYTE_FALLBACK:
            step_byte_fallback(&list, &next);
            break;
        case TOK_DEC_REPLACE:
            step_replace(step, &list, &next);
            break;
        case TOK_DEC_FUSE:
            step_fuse(&list, &next);
            break;
        case TOK_DEC_STRIP:
            step_strip(step, &list, &next);
            break;
        case TOK_DEC_METASPACE:
            step_metaspace(step, &list, &next);
            break;
        }
        list_release(&list);
        list = next;
    }

    byte_buffer text = {0};
    buffer_append(&text, "", 0);
    for (size_t i = 0; i < list.count; i++)
        buffer_append(&text, list.items[i].text, list.items[i].length);
    list_release(&list);
    *out = text.data;
    if (out_length != NULL)
        *out_length = text.length;
    return FL_OK;
}
