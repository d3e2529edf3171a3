/*
 * tok_tokenizer.h - Hugging Face `tokenizer.json` tokenizers in C.
 *
 * Loads a tokenizer.json and encodes text to token ids, and ids back to text,
 * the way the Hugging Face `tokenizers` library does for the BPE tokenizers
 * of the Llama, Mistral and Qwen families:
 *   - byte-level BPE (Qwen2/2.5/3, Llama 3): `Split` regex pre-tokenizer
 *     (PCRE2, Unicode properties), `ByteLevel` byte-to-character mapping,
 *     merges by rank, `ignore_merges`, and the file's NFC normalizer;
 *   - SentencePiece-style BPE (Llama 2, Mistral v0.1): `Prepend` and
 *     `Replace` normalizers (space to U+2581), BPE over the whole text and
 *     `byte_fallback` to <0xXX> tokens; or the newer layout of the same
 *     models with a `Metaspace` pre-tokenizer (prepend_scheme always, first
 *     or never; split) and decoder.
 * Added tokens (`added_tokens`) are matched, longest first, before
 * normalization and pre-tokenization. A `TemplateProcessing` post-processor
 * adds its BOS/EOS ids when TOK_ADD_SPECIAL is given.
 *
 * A component the file names but this code does not implement (another
 * model type, normalizer, pre-tokenizer, decoder or post-processor) makes
 * tok_load fail with FL_EUNSUPPORTED naming it, rather than tokenize wrongly.
 *
 * A tok_tokenizer keeps a cache and scratch buffers, so one object must not
 * be used by two threads at once; load one per thread (or lock).
 */
#ifndef TOK_TOKENIZER_H
#define TOK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

typedef struct tok_tokenizer tok_tokenizer;

/* A growable array of token ids. Embed it and call tok_ids_init / tok_ids_release. */
typedef struct tok_ids {
    int32_t *data;
    size_t length;
    size_t capacity;
} tok_ids;

void tok_ids_init(tok_ids *ids);
void tok_ids_release(tok_ids *ids);
void tok_ids_push(tok_ids *ids, int32_t id);

/* Flags of tok_encode. */
enum {
    /* Add the post-processor's special tokens (for example BOS `<s>` of Llama 2). */
    TOK_ADD_SPECIAL = 1 << 0,
    /* Treat special added tokens inside the text as plain text (Hugging Face's
       split_special_tokens=True), so user text cannot inject control tokens. */
    TOK_SPLIT_SPECIAL = 1 << 1,
};

/*
 * Loads a tokenizer from a Hugging Face tokenizer.json file. On failure err
 * names the file and the field that is missing, malformed or unsupported.
 * Caller owns *out; free it with tok_destroy.
 */
int tok_load(const char *path, tok_tokenizer **out, fl_error *err) FL_WARN_UNUSED;

/* Frees tok and clears the caller's pointer. NULL-safe. */
void tok_destroy(tok_tokenizer **tok);

/*
 * Encodes length bytes of UTF-8 text and appends the ids to out. text need
 * not be NUL-terminated. Fails with FL_EINVAL when text is not valid UTF-8
 * (err gives the byte offset). flags: TOK_ADD_SPECIAL, TOK_SPLIT_SPECIAL.
 */
int tok_encode(tok_tokenizer *tok, const char *text, size_t length, unsigned flags,
               tok_ids *out, fl_error *err) FL_WARN_UNUSED;

/*
 * Decodes ids to UTF-8 text through the file's decoder, without Hugging
 * Face's clean_up_tokenization_spaces step. Decoding the ids of a text gives
 * the text back when the tokenizer is lossless for it. Byte-level BPE always
 * is (after NFC, for Qwen). The Prepend layout of Llama 2 is unless the text
 * contains added tokens, and the Metaspace layout loses a leading space.
 * Byte sequences that are not valid UTF-8 become U+FFFD. skip_special drops
 * special tokens. Caller owns *out (NUL-terminated; free it). Fails with
 * FL_ERANGE on an id outside the vocabulary.
 */
int tok_decode(const tok_tokenizer *tok, const int32_t *ids, size_t count, bool skip_special,
               char **out, size_t *out_length, fl_error *err) FL_WARN_UNUSED;

/* Returns the offset of the first byte that breaks UTF-8 in text, or length when it is valid. */
size_t tok_utf8_invalid_offset(const char *text, size_t length);

/* Returns the id of a token given as its vocabulary string, or -1 when absent. */
int32_t tok_token_id(const tok_tokenizer *tok, const char *token);

/* Returns the vocabulary string of id (length in *length when not NULL), or NULL when out of range. */
const char *tok_token_text(const tok_tokenizer *tok, int32_t id, size_t *length);

/* Returns one more than the largest id, counting added tokens. */
int32_t tok_vocab_size(const tok_tokenizer *tok);

/* Returns true when id is an added token marked special. */
bool tok_is_special(const tok_tokenizer *tok, int32_t id);

/*
 * Returns the ids the post-processor puts before (bos) and after (eos) a
 * single sequence, with their counts; none for tokenizers without a
 * TemplateProcessing post-processor. The arrays stay owned by tok.
 */
const int32_t *tok_template_prefix(const tok_tokenizer *tok, size_t *count);
const int32_t *tok_template_suffix(const tok_tokenizer *tok, size_t *count);

#endif
