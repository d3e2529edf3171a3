/*
 * fc_stream.h - ChaCha20 keystream as 32-bit words at any position.
 *
 * Masks and stochastic rounding both need the word at element index i of a
 * keyed stream, so that a vector can be processed chunk by chunk in any
 * order. Word i is bytes 4i..4i+3 (little-endian) of the ChaCha20 (IETF,
 * RFC 8439) keystream for the key and nonce, starting at block counter 0.
 */
#ifndef FC_STREAM_H
#define FC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define FC_STREAM_KEY_BYTES 32
#define FC_STREAM_NONCE_BYTES 12

/* Largest word index + 1 a stream reaches: the 32-bit block counter times 16 words. */
#define FC_STREAM_MAX_WORDS ((uint64_t)1 << 36)

/*
 * Writes count keystream words, starting at word index first_word, into out.
 * first_word + count must not exceed FC_STREAM_MAX_WORDS (asserted).
 */
void fc_stream_words(uint32_t *out, size_t count, uint64_t first_word,
                     const uint8_t key[FC_STREAM_KEY_BYTES],
                     const uint8_t nonce[FC_STREAM_NONCE_BYTES]);

#endif
