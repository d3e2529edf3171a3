/*
 * tok_encode.c - text to token ids: added-token matching, normalization,
 * pre-tokenization with PCRE2, then BPE per pre-token (tok_bpe.c).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fl_mem.h"
#include "tok_internal.h"

size_t tok_utf8_invalid_offset(const char *bytes, size_t length)
{
    const unsigned char *text = (const unsigned char *)bytes;
    size_t i = 0;
    while (i < length) {
        unsigned char c = text[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return i;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= length || (text[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (text[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return length;
}

/* Added tokens */

/* Sort key of an added token: its first byte, then longer tokens first. */
typedef struct added_key {
    unsigned char first;
    size_t length;
    uint32_t index;
} added_key;

static int compare_added(const void *a, const void *b)
{
    const added_key *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->length != y->length)
        return x->length > y->length ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

void tok_index_added(tok_tokenizer *tok)
{
    size_t count = tok->added_count;
    added_key *keys = fl_xcalloc(count > 0 ? count : 1, sizeof(*keys));
    for (size_t i = 0; i < count; i++)
        keys[i] = (added_key){(unsigned char)tok->added[i].content[0], tok->added[i].length,
                              (uint32_t)i};
    qsort(keys, count, sizeof(*keys), compare_added);

    tok->added_order = fl_xcalloc(count > 0 ? count : 1, sizeof(*tok->added_order));
    memset(tok->added_start, 0, sizeof(tok->added_start));
    for (size_t i = 0; i < count; i++) {
        tok->added_order[i] = keys[i].index;
        tok->added_start[keys[i].first + 1]++;
    }
    for (int b = 0; b < 256; b++)
        tok->added_start[b + 1] += tok->added_start[b];
    free(keys);
}

/*
 * Returns the longest added token that starts at text[at], or NULL.
 * NOTE: tokens marked "normalized": true are matched on the raw text, as
 * @lenml/tokenizers does; Hugging Face matches them after normalization,
 * which differs only when the normalizer rewrites their characters.
 */
static const tok_added *match_added(const tok_tokenizer *tok, const char *text, size_t length,
                                    size_t at, unsigned flags)
{
    unsigned char first = (unsigned char)text[at];
    for (uint32_t k = tok->added_start[first]; k < tok->added_start[first + 1]; k++) {
        const tok_added *token = &tok->added[tok->added_order[k]];
        if (token->special && (flags & TOK_SPLIT_SPECIAL))
            continue;
        if (token->length <= length - at && memcmp(text + at, token->content, token->length) == 0)
            return token;
    }
    return NULL;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Normalization */

static char *reserve(char **buffer, size_t *capacity, size_t needed)
{
    if (needed > *capacity) {
        *capacity = needed * 2 + 64;
        *buffer = fl_xrealloc(*buffer, *capacity);
    }
    return *buffer;
}

/*
 * True when a three-byte code point is unchanged by NFC in any context: it
 * has no canonical decomposition, combining class 0, and never composes with
 * a neighbour. Covers CJK ideographs and punctuation and general punctuation.
 */
static bool nfc_stable_bmp(uint32_t cp)
{
    return (cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x2030 && cp <= 0x205E) ||
           (cp >= 0x3000 && cp <= 0x3029) || (cp >= 0x3030 && cp <= 0x303F) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xFF00 && cp <= 0xFFEF);
}

/*
 * True when text is certainly unchanged by NFC: every code point is below
 * U+0300 (before the combining marks) or passes nfc_stable_bmp. Lets English
 * and most Chinese text skip utf8proc. text must be valid UTF-8.
 */
static bool nfc_stable(const unsigned char *text, size_t length)
{
    size_t i = 0;
    while (i < length) {
        unsigned char c = text[i];
        if (c < 0x80) {
            i++;
        } else if (c < 0xCC) { /* two-byte code points below U+0300 */
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            uint32_t cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(text[i + 1] & 0x3F) << 6) |
                          (uint32_t)(text[i + 2] & 0x3F);
            if (!nfc_stable_bmp(cp))
                return false;
            i += 3;
        } else {
            return false;
        }
    }
    return true;
}

static int run_utf8proc(const char *in, size_t length, utf8proc_option_t options, char **buffer,
                        size_t *capacity, size_t *out_length)
{
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t produced =
        utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)length, &mapped, options);
    if (produced < 0)
        return FL_EINVAL;
    reserve(buffer, capacity, (size_t)produced + 1);
    memcpy(*buffer, mapped, (size_t)produced);
    free(mapped);
    *out_length = (size_t)produced;
    return FL_OK;
}

static size_t replace_all(const tok_norm_step *step, const char *in, size_t length, char **buffer,
                          size_t *capacity)
{
    size_t grow = step->with_length > step->text_length ? step->with_length - step->text_length : 0;
    size_t bound = length + (length / step->text_length + 1) * grow + 1;
    char *out = reserve(buffer, capacity, bound);
    size_t used = 0;
    size_t i = 0;
    while (i < length) {
        if (i + step->text_length <= length && memcmp(in + i, step->text, step->text_length) == 0) {
            memcpy(out + used, step->with, step->with_length);
            used += step->with_length;
            i += step->text_length;
        } else {
            out[used++] = in[i++];
        }
    }
    return used;
}

/*
 * Applies the normalizer steps to a section. *text and *length are updated to
 * point at the result, which lives in one of the tokenizer's scratch buffers
 * (or is the input itself when nothing changed).
 */
static int normalize(tok_tokenizer *tok, const char **text, size_t *length)
{
    for (size_t s = 0; s < tok->norm_count; s++) {
        const tok_norm_step *step = &tok->norm[s];
        /* alternate buffers so a step never reads what it writes */
        bool first = *text != tok->norm_buffer;
        char **buffer = first ? &tok->norm_buffer : &tok->norm_buffer2;
        size_t *capacity = first ? &tok->norm_capacity : &tok->norm_capacity2;
        size_t produced = 0;
        int rc = FL_OK;

        switch (step->kind) {
        case TOK_NORM_NFC:
            if (nfc_stable((const unsigned char *)*text, *length))
                continue;
            rc = run_utf8proc(*text, *length, UTF8PROC_STABLE | UTF8PROC_COMPOSE, buffer,
                              capacity, &produced);
            break;
        case TOK_NORM_NFD:
            rc = run_utf8proc(*text, *length, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, buffer,
                              capacity, &produced);
            break;
        case TOK_NORM_NFKC:
            rc = run_utf8proc(*text, *length,
                              UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, buffer,
                              capacity, &produced);
            break;
        case TOK_NORM_NFKD:
            rc = run_utf8proc(*text, *length,
                              UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, buffer,
                              capacity, &produced);
            break;
        case TOK_NORM_PREPEND:
            if (*length == 0)
                continue;
            reserve(buffer, capacity, *length + step->text_length + 1);
            memcpy(*buffer, step->text, step->text_length);
            memcpy(*buffer + step->text_length, *text, *length);
            produced = *length + step->text_length;
            break;
        case TOK_NORM_REPLACE:
            produced = replace_all(step, *text, *length, buffer, capacity);
            break;
        }
        if (rc != FL_OK)
            return rc;
        *text = *buffer;
        *length = produced;
    }
    return FL_OK;
}

/* Pre-tokenization */

static void push_span(struct tok_span **spans, size_t *count, size_t *capacity, size_t start,
                      size_t length)
{
    if (length == 0)
        return;
    if (*count == *capacity) {
        *capacity = *capacity == 0 ? 256 : *capacity * 2;
        *spans = fl_xrealloc(*spans, *capacity * sizeof(**spans));
    }
    (*spans)[*count].start = start;
    (*spans)[*count].length = length;
    (*count)++;
}

/*
 * Splits every span of tok->spans by step's regex into tok->spans2, then
 * swaps the lists. Returns a PCRE2 error code (< 0, for example a JIT stack
 * overflow) or 0.
 */
static int split_spans(tok_tokenizer *tok, const tok_pretok_step *step, const char *text,
                       size_t *count, size_t *error_offset)
{
    size_t out_count = 0;
    for (size_t s = 0; s < *count; s++) {
        const char *subject = text + tok->spans[s].start;
        size_t length = tok->spans[s].length;
        size_t base = tok->spans[s].start;
        size_t offset = 0, gap_start = 0;

        while (offset < length) {
            int rc = pcre2_match(step->code, (PCRE2_SPTR)subject, length, offset,
                                 PCRE2_NO_UTF_CHECK, tok->match_data, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                *error_offset = base + offset;
                return rc;
            }
            const PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(tok->match_data);
            size_t match_start = ovector[0], match_end = ovector[1];
            if (match_end == match_start) {
                /* an empty match splits nothing; step over one character */
                offset = match_start + 1;
                while (offset < length && ((unsigned char)subject[offset] & 0xC0) == 0x80)
                    offset++;
                continue;
            }
            push_span(&tok->spans2, &out_count, &tok->span_capacity2, base + gap_start,
                      match_start - gap_start);
            if (!step->remove_matches)
                push_span(&tok->spans2, &out_count, &tok->span_capacity2, base + match_start,
                          match_end - match_start);
            gap_start = offset = match_end;
        }
        push_span(&tok->spans2, &out_count, &tok->span_capacity2, base + gap_start,
                  length - gap_start);
    }

    struct tok_span *swap = tok->spans;
    tok->spans = tok->spans2;
    tok->spans2 = swap;
    size_t capacity = tok->span_capacity;
    tok->span_capacity = tok->span_capacity2;
    tok->span_capacity2 = capacity;
    *count = out_count;
    return 0;
}

static bool is_metaspace(const char *text)
{
    return memcmp(text, "\xE2\x96\x81", 3) == 0;
}

/* Runs BPE on each "▁word" of piece alone; valid only when tok->split_words is set. */
static void encode_words(tok_tokenizer *tok, const char *piece, size_t length, tok_ids *out)
{
    size_t start = 0;
    for (size_t i = 1; i + 3 <= length; i++) {
        if (is_metaspace(piece + i) && !(i >= 3 && is_metaspace(piece + i - 3))) {
            tok_bpe_piece(tok, piece + start, i - start, out);
            start = i;
        }
    }
    tok_bpe_piece(tok, piece + start, length - start, out);
}

/*
 * Applies the Metaspace pre-tokenizer's text change: spaces become the
 * replacement, which is also put in front unless the section already starts
 * with it (prepend "always", or "first" for a section at offset 0 of the
 * input). Returns the new text in tok->meta_buffer.
 */
static const char *apply_metaspace(tok_tokenizer *tok, const char *text, size_t *length,
                                   size_t offset)
{
    const tok_metaspace *meta = &tok->metaspace;
    size_t n = meta->replacement_length;
    size_t spaces = 0;
    for (size_t i = 0; i < *length; i++)
        spaces += text[i] == ' ';
    char *out = reserve(&tok->meta_buffer, &tok->meta_capacity, *length + (spaces + 1) * n + 1);

    size_t used = 0;
    bool starts = (*length > 0 && text[0] == ' ') ||
                  (*length >= n && memcmp(text, meta->replacement, n) == 0);
    if (!starts && (meta->prepend == TOK_PREPEND_ALWAYS ||
                    (meta->prepend == TOK_PREPEND_FIRST && offset == 0))) {
        memcpy(out, meta->replacement, n);
        used = n;
    }
    for (size_t i = 0; i < *length; i++) {
        if (text[i] == ' ') {
            memcpy(out + used, meta->replacement, n);
            used += n;
        } else {
            out[used++] = text[i];
        }
    }
    *length = used;
    return out;
}

/* Splits every span before each Metaspace replacement, so each word keeps its leading one. */
static void split_before_replacement(tok_tokenizer *tok, const char *text, size_t *count)
{
    const tok_metaspace *meta = &tok->metaspace;
    size_t n = meta->replacement_length;
    size_t out_count = 0;
    for (size_t s = 0; s < *count; s++) {
        size_t start = tok->spans[s].start, end = start + tok->spans[s].length;
        size_t word = start;
        for (size_t i = start + 1; i + n <= end; i++) {
            if (memcmp(text + i, meta->replacement, n) == 0) {
                push_span(&tok->spans2, &out_count, &tok->span_capacity2, word, i - word);
                word = i;
            }
        }
        push_span(&tok->spans2, &out_count, &tok->span_capacity2, word, end - word);
    }
    struct tok_span *swap = tok->spans;
    tok->spans = tok->spans2;
    tok->spans2 = swap;
    size_t capacity = tok->span_capacity;
    tok->span_capacity = tok->span_capacity2;
    tok->span_capacity2 = capacity;
    *count = out_count;
}

/* Encodes one section of text that contains no added token; offset places it in messages. */
static int encode_section(tok_tokenizer *tok, const char *text, size_t length, size_t offset,
                          tok_ids *out, fl_error *err)
{
    if (length == 0)
        return FL_OK;
    int rc = normalize(tok, &text, &length);
    if (rc != FL_OK)
        return fl_error_set(err, rc, "Unicode normalization failed in the text at byte %zu",
                            offset);
    if (length == 0)
        return FL_OK;
    if (tok->metaspace.enabled)
        text = apply_metaspace(tok, text, &length, offset);

    size_t count = 0;
    push_span(&tok->spans, &count, &tok->span_capacity, 0, length);
    if (tok->metaspace.enabled && tok->metaspace.split)
        split_before_replacement(tok, text, &count);
    for (size_t s = 0; s < tok->pretok_count; s++) {
        size_t error_offset = 0;
        int pcre_rc = split_spans(tok, &tok->pretok[s], text, &count, &error_offset);
        if (pcre_rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(pcre_rc, message, sizeof(message));
            return fl_error_set(err, FL_EUNSUPPORTED,
                                "the pre-tokenizer regex of %s failed near byte %zu of the "
                                "normalized section at byte %zu: %s; split the text into "
                                "shorter lines",
                                tok->path, error_offset, offset, (const char *)message);
        }
    }

    for (size_t i = 0; i < count; i++) {
        if (tok->split_words)
            encode_words(tok, text + tok->spans[i].start, tok->spans[i].length, out);
        else
            tok_bpe_piece(tok, text + tok->spans[i].start, tok->spans[i].length, out);
    }
    return FL_OK;
}

int tok_encode(tok_tokenizer *tok, const char *text, size_t length, unsigned flags,
               tok_ids *out, fl_error *err)
{
    size_t bad = tok_utf8_invalid_offset(text, length);
    if (bad != length)
        return fl_error_set(err, FL_EINVAL,
                            "text is not valid UTF-8 at byte offset %zu (byte 0x%02X); convert "
                            "it to UTF-8 first, for example with iconv",
                            bad, (unsigned char)text[bad]);

    if (flags & TOK_ADD_SPECIAL)
        for (size_t i = 0; i < tok->prefix_count; i++)
            tok_ids_push(out, tok->prefix_ids[i]);

    size_t section_start = 0;
    size_t i = 0;
    while (i < length) {
        const tok_added *token = NULL;
        if (tok->added_first[(unsigned char)text[i]])
            token = match_added(tok, text, length, i, flags);
        if (token == NULL) {
            i++;
            continue;
        }

        size_t section_end = i;
        if (token->lstrip)
            while (section_end > section_start && is_ascii_space(text[section_end - 1]))
                section_end--;
        int rc = encode_section(tok, text + section_start, section_end - section_start,
                                section_start, out, err);
        if (rc != FL_OK)
            return rc;
        tok_ids_push(out, token->id);

        i += token->length;
        if (token->rstrip)
            while (i < length && is_ascii_space(text[i]))
                i++;
        section_start = i;
    }
    int rc = encode_section(tok, text + section_start, length - section_start, section_start,
                            out, err);
    if (rc != FL_OK)
        return rc;

    if (flags & TOK_ADD_SPECIAL)
        for (size_t k = 0; k < tok->suffix_count; k++)
            tok_ids_push(out, tok->suffix_ids[k]);
    return FL_OK;
}
