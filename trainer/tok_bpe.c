/*
 * tok_bpe.c - the BPE merge loop and the ByteLevel byte-to-character map.
 *
 * A pre-token starts as one symbol per byte (byte-level) or per character
 * (SentencePiece-style). A min-heap holds every adjacent pair that has a
 * merge, keyed by (rank, position of the left symbol), so the lowest rank
 * merges first and equal ranks merge left to right, as in Hugging Face
 * tokenizers. Merged symbols stay in place; a doubly linked list skips the
 * absorbed ones. Heap items whose symbols changed since they were pushed are
 * dropped when popped.
 */
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "tok_internal.h"

enum {
    CACHE_MAX_PIECE = 256,      /* longer pre-tokens are rarely repeated */
    CACHE_MAX_ENTRIES = 1 << 17 /* the cache is emptied when it reaches this */
};

/* ByteLevel (GPT-2) map: printable bytes stand for themselves, the other 68 for U+0100 + n. */
static bool byte_is_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

static uint32_t byte_level_char(unsigned char b)
{
    if (byte_is_printable(b))
        return b;
    uint32_t n = 0;
    for (unsigned i = 0; i < b; i++)
        if (!byte_is_printable(i))
            n++;
    return 256 + n;
}

int tok_byte_level_encode_byte(unsigned char b, char *buf)
{
    static uint16_t table[256];
    static bool ready;
    if (!ready) {
        for (unsigned i = 0; i < 256; i++)
            table[i] = (uint16_t)byte_level_char((unsigned char)i);
        ready = true;
    }
    uint32_t cp = table[b];
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    buf[0] = (char)(0xC0 | (cp >> 6));
    buf[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

int tok_byte_level_decode_char(uint32_t cp)
{
    if (cp < 256)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    uint32_t n = 0;
    for (unsigned b = 0; b < 256; b++) {
        if (byte_is_printable(b))
            continue;
        if (n == cp - 256)
            return (int)b;
        n++;
    }
    return -1;
}

/* Heap of pending merges ordered by (rank, pos). */
static bool heap_less(const tok_heap_item *a, const tok_heap_item *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(tok_tokenizer *tok, size_t *count, tok_heap_item item)
{
    if (*count == tok->heap_capacity) {
        tok->heap_capacity = tok->heap_capacity == 0 ? 256 : tok->heap_capacity * 2;
        tok->heap = fl_xrealloc(tok->heap, tok->heap_capacity * sizeof(*tok->heap));
    }
    tok_heap_item *heap = tok->heap;
    size_t i = (*count)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&item, &heap[parent]))
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

static tok_heap_item heap_pop(tok_tokenizer *tok, size_t *count)
{
    tok_heap_item *heap = tok->heap;
    tok_heap_item top = heap[0];
    tok_heap_item last = heap[--(*count)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *count)
            break;
        if (child + 1 < *count && heap_less(&heap[child + 1], &heap[child]))
            child++;
        if (!heap_less(&heap[child], &last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*count > 0)
        heap[i] = last;
    return top;
}

static void push_pair(tok_tokenizer *tok, size_t *heap_count, int32_t pos)
{
    const tok_symbol *left = &tok->symbols[pos];
    if (left->next < 0)
        return;
    const tok_symbol *right = &tok->symbols[left->next];
    int32_t rank, merged;
    if (tok_pairmap_get(&tok->merges, left->id, right->id, &rank, &merged)) {
        tok_heap_item item = {.rank = rank, .pos = pos, .left = left->id, .right = right->id};
        heap_push(tok, heap_count, item);
    }
}

static size_t utf8_char_length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead < 0xE0)
        return 2;
    if (lead < 0xF0)
        return 3;
    return 4;
}

/* Fills tok->symbols with the starting symbols of piece; returns their count. */
static size_t split_symbols(tok_tokenizer *tok, const char *piece, size_t length)
{
    if (length > tok->symbol_capacity) {
        tok->symbol_capacity = length * 2;
        tok->symbols = fl_xrealloc(tok->symbols, tok->symbol_capacity * sizeof(*tok->symbols));
    }

    size_t count = 0;
    size_t i = 0;
    while (i < length) {
        unsigned char lead = (unsigned char)piece[i];
        size_t char_length = tok->byte_level ? 1 : utf8_char_length(lead);
        int32_t id;
        if (tok->byte_level)
            id = tok->byte_symbol[lead];
        else if (lead < 0x80)
            id = tok->ascii_symbol[lead];
        else
            id = tok_strmap_get(&tok->vocab, piece + i, char_length);

        tok_symbol *symbol = &tok->symbols[count];
        symbol->id = id;
        symbol->prev = (int32_t)count - 1;
        symbol->next = (int32_t)count + 1;
        symbol->start = (uint32_t)i;
        symbol->length = (uint32_t)char_length;
        count++;
        i += char_length;
    }
    if (count > 0)
        tok->symbols[count - 1].next = -1;
    return count;
}

static void merge_symbols(tok_tokenizer *tok, size_t count)
{
    size_t heap_count = 0;
    for (size_t i = 0; i + 1 < count; i++)
        push_pair(tok, &heap_count, (int32_t)i);

    tok_symbol *symbols = tok->symbols;
    while (heap_count > 0) {
        tok_heap_item item = heap_pop(tok, &heap_count);
        tok_symbol *left = &symbols[item.pos];
        if (left->length == 0 || left->id != item.left || left->next < 0)
            continue;
        tok_symbol *right = &symbols[left->next];
        if (right->id != item.right)
            continue;

        int32_t rank, merged;
        if (!tok_pairmap_get(&tok->merges, left->id, right->id, &rank, &merged))
            continue;
        left->id = merged;
        left->length += right->length;
        left->next = right->next;
        right->length = 0;
        if (left->next >= 0)
            symbols[left->next].prev = item.pos;

        if (left->prev >= 0)
            push_pair(tok, &heap_count, left->prev);
        push_pair(tok, &heap_count, item.pos);
    }
}

/* Appends the ids of the merged symbols; bytes outside the vocabulary fall back to <0xXX> or unk. */
static void emit_symbols(const tok_tokenizer *tok, const char *piece, tok_ids *out)
{
    for (int32_t i = 0; i >= 0; i = tok->symbols[i].next) {
        const tok_symbol *symbol = &tok->symbols[i];
        if (symbol->id >= 0) {
            tok_ids_push(out, symbol->id);
            continue;
        }

        bool all_bytes = tok->byte_fallback;
        for (uint32_t b = 0; all_bytes && b < symbol->length; b++)
            all_bytes = tok->byte_fallback_id[(unsigned char)piece[symbol->start + b]] >= 0;
        if (all_bytes) {
            for (uint32_t b = 0; b < symbol->length; b++)
                tok_ids_push(out, tok->byte_fallback_id[(unsigned char)piece[symbol->start + b]]);
        } else {
            tok_ids_push(out, tok->unk_id);
        }
    }
}

/* With ignore_merges, a pre-token that is itself in the vocabulary is taken whole. */
static int32_t whole_piece_id(tok_tokenizer *tok, const char *piece, size_t length)
{
    if (!tok->byte_level)
        return tok_strmap_get(&tok->vocab, piece, length);

    if (length * 2 > tok->byte_text_capacity) {
        tok->byte_text_capacity = length * 2 + 64;
        tok->byte_text = fl_xrealloc(tok->byte_text, tok->byte_text_capacity);
    }
    size_t used = 0;
    for (size_t i = 0; i < length; i++)
        used += (size_t)tok_byte_level_encode_byte((unsigned char)piece[i], tok->byte_text + used);
    return tok_strmap_get(&tok->vocab, tok->byte_text, used);
}

void tok_bpe_piece(tok_tokenizer *tok, const char *piece, size_t length, tok_ids *out)
{
    if (length == 0)
        return;

    bool cacheable = length <= CACHE_MAX_PIECE;
    if (cacheable) {
        int32_t offset = tok_strmap_get(&tok->cache, piece, length);
        if (offset >= 0) {
            const int32_t *entry = tok->cache_ids.data + offset;
            for (int32_t i = 0; i < entry[0]; i++)
                tok_ids_push(out, entry[1 + i]);
            return;
        }
    }

    size_t first = out->length;
    int32_t whole = tok->ignore_merges ? whole_piece_id(tok, piece, length) : -1;
    if (whole >= 0) {
        tok_ids_push(out, whole);
    } else {
        size_t count = split_symbols(tok, piece, length);
        merge_symbols(tok, count);
        emit_symbols(tok, piece, out);
    }

    if (cacheable) {
        if (tok->cache.count >= CACHE_MAX_ENTRIES) {
            tok_strmap_clear(&tok->cache);
            tok->cache_ids.length = 0;
        }
        size_t produced = out->length - first;
        int32_t offset = (int32_t)tok->cache_ids.length;
        tok_ids_push(&tok->cache_ids, (int32_t)produced);
        for (size_t i = 0; i < produced; i++)
            tok_ids_push(&tok->cache_ids, out->data[first + i]);
        tok_strmap_put(&tok->cache, piece, length, offset);
    }
}
