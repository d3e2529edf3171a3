/*
 * tok_internal.h - the layout of tok_tokenizer, shared by the tok_*.c files
 * (loading, encoding, BPE, decoding). Not part of the public API.
 */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok_map.h"
#include "tok_tokenizer.h"

enum tok_norm_kind {
    TOK_NORM_NFC,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
    TOK_NORM_PREPEND, /* text: put in front of non-empty input */
    TOK_NORM_REPLACE, /* text -> with, literal */
};

typedef struct tok_norm_step {
    enum tok_norm_kind kind;
    char *text;
    size_t text_length;
    char *with;
    size_t with_length;
} tok_norm_step;

enum tok_pretok_kind {
    TOK_PRETOK_SPLIT,      /* regex or literal split */
    TOK_PRETOK_BYTE_REGEX, /* ByteLevel with use_regex: the GPT-2 split */
};

/* When a Metaspace pre-tokenizer puts the replacement (U+2581) in front of a section. */
enum tok_prepend { TOK_PREPEND_NEVER, TOK_PREPEND_FIRST, TOK_PREPEND_ALWAYS };

/* A Metaspace pre-tokenizer: spaces become the replacement, then optional word split. */
typedef struct tok_metaspace {
    bool enabled;
    char *replacement;
    size_t replacement_length;
    enum tok_prepend prepend;
    bool split; /* split before every replacement (each word keeps its leading one) */
} tok_metaspace;

typedef struct tok_pretok_step {
    enum tok_pretok_kind kind;
    pcre2_code *code;
    bool remove_matches; /* behavior "Removed" keeps only the text between matches */
} tok_pretok_step;

enum tok_decode_kind {
    TOK_DEC_BYTE_LEVEL,
    TOK_DEC_REPLACE,
    TOK_DEC_BYTE_FALLBACK,
    TOK_DEC_FUSE,
    TOK_DEC_STRIP,
    TOK_DEC_METASPACE, /* replacement -> space, and drop the first token's leading space */
};

typedef struct tok_decode_step {
    enum tok_decode_kind kind;
    char *text;       /* REPLACE: pattern; STRIP: the character removed */
    size_t text_length;
    char *with;       /* REPLACE: replacement */
    size_t with_length;
    int start, stop;  /* STRIP: how many to remove at each end; METASPACE: start 1 strips */
} tok_decode_step;

typedef struct tok_added {
    char *content;
    size_t length;
    int32_t id;
    bool special;
    bool lstrip, rstrip;
} tok_added;

/* A BPE symbol during merging: a token id and the bytes it covers. */
typedef struct tok_symbol {
    int32_t id;      /* -1 when the bytes are not in the vocabulary */
    int32_t prev;    /* index of the previous live symbol, -1 at the start */
    int32_t next;    /* index of the next live symbol, -1 at the end */
    uint32_t start;  /* first byte in the piece */
    uint32_t length; /* bytes covered; 0 once merged into the left neighbour */
} tok_symbol;

typedef struct tok_heap_item {
    int32_t rank;
    int32_t pos;   /* index of the left symbol */
    int32_t left;  /* ids when pushed, to detect stale items */
    int32_t right;
} tok_heap_item;

struct tok_tokenizer {
    char *path;

    /* vocabulary: model vocab plus added tokens */
    tok_strmap vocab;
    char **id_text;     /* [id_count] token strings, NULL for unused ids */
    uint32_t *id_length;
    bool *id_special;
    int32_t id_count;

    /* BPE model */
    tok_pairmap merges;
    bool byte_level;           /* the pre-tokenizer maps bytes to characters */
    int32_t byte_symbol[256];  /* id of each byte's ByteLevel character */
    int32_t ascii_symbol[128]; /* id of each ASCII character (not byte-level) */
    bool byte_fallback;
    int32_t byte_fallback_id[256]; /* ids of <0x00>..<0xFF>, -1 when absent */
    bool ignore_merges;
    int32_t unk_id;
    /* No token has U+2581 after another character, so no merge can cross the
       start of a "▁word": long SentencePiece sections are split there and
       each word is merged (and cached) alone, with the same result. */
    bool split_words;

    tok_norm_step *norm;
    size_t norm_count;
    tok_metaspace metaspace; /* applied before the pretok steps */
    tok_pretok_step *pretok;
    size_t pretok_count;
    tok_decode_step *decoder;
    size_t decoder_count;

    tok_added *added;
    size_t added_count;
    uint8_t added_first[256]; /* 1 when some added token starts with this byte */
    uint32_t *added_order;    /* added token indices sorted by first byte, longest first */
    uint32_t added_start[257]; /* added_order[added_start[b] .. added_start[b + 1]) start with b */

    int32_t *prefix_ids, *suffix_ids;
    size_t prefix_count, suffix_count;

    /* pre-token cache: piece bytes -> offset of [count, ids...] in cache_ids */
    tok_strmap cache;
    tok_ids cache_ids;

    /* scratch reused across calls */
    pcre2_match_data *match_data;
    char *norm_buffer;
    size_t norm_capacity;
    char *norm_buffer2;
    size_t norm_capacity2;
    char *meta_buffer;
    size_t meta_capacity;
    tok_symbol *symbols;
    size_t symbol_capacity;
    tok_heap_item *heap;
    size_t heap_capacity;
    char *byte_text;
    size_t byte_text_capacity;
    struct tok_span { size_t start, length; } *spans, *spans2;
    size_t span_capacity, span_capacity2;
};

/*
 * Runs BPE over one pre-token (bytes already normalized) and appends its ids
 * to out, using and filling the cache. Defined in tok_bpe.c.
 */
void tok_bpe_piece(tok_tokenizer *tok, const char *piece, size_t length, tok_ids *out);

/* Builds added_order and added_start once the added tokens are loaded. Defined in tok_encode.c. */
void tok_index_added(tok_tokenizer *tok);

/* Returns the byte that the ByteLevel character cp stands for, or -1. */
int tok_byte_level_decode_char(uint32_t cp);

/* Appends the UTF-8 of the ByteLevel character of byte b to buf; returns bytes written (1 or 2). */
int tok_byte_level_encode_byte(unsigned char b, char *buf);

#endif
