/* Keystream words from libsodium's ChaCha20 (IETF) with a block counter. */
#include "fc_stream.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

/* Read-only zeros for the XOR form of the stream function, which has the counter argument. */
static const uint8_t s_zeros[4096];

/* Converts keystream bytes to native words in place; a no-op on little-endian hosts. */
static void words_from_little_endian(uint32_t *words, size_t count)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i < count; i++)
        words[i] = __builtin_bswap32(words[i]);
#else
    (void)words;
    (void)count;
#endif
}

void fc_stream_words(uint32_t *out, size_t count, uint64_t first_word,
                     const uint8_t key[FC_STREAM_KEY_BYTES],
                     const uint8_t nonce[FC_STREAM_NONCE_BYTES])
{
    assert(first_word <= FC_STREAM_MAX_WORDS);
    assert(count <= FC_STREAM_MAX_WORDS - first_word);

    // A start inside a 64-byte block: take the tail of that block first.
    size_t offset = (size_t)(first_word % 16);
    if (offset != 0 && count > 0) {
        uint32_t block[16];
        crypto_stream_chacha20_ietf_xor_ic((uint8_t *)block, s_zeros, sizeof(block), nonce,
                                           (uint32_t)(first_word / 16), key);
        words_from_little_endian(block, 16);
        size_t take = 16 - offset < count ? 16 - offset : count;
        memcpy(out, block + offset, take * sizeof(uint32_t));
        sodium_memzero(block, sizeof(block));
        out += take;
        count -= take;
        first_word += take;
    }

    while (count > 0) {
        size_t take = count < sizeof(s_zeros) / 4 ? count : sizeof(s_zeros) / 4;
        crypto_stream_chacha20_ietf_xor_ic((uint8_t *)out, s_zeros, take * 4, nonce,
                                           (uint32_t)(first_word / 16), key);
        words_from_little_endian(out, take);
        out += take;
        count -= take;
        first_word += take;
    }
}
