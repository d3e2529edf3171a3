#include "fl_fingerprint.h"

#include <sodium.h>

static const char s_label[] = "fedlora key fingerprint v1";

void fl_key_fingerprint(char text[FL_FINGERPRINT_CHARS + 1], const uint8_t public_key[32])
{
    uint8_t digest[16];
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, sizeof(digest));
    crypto_generichash_update(&state, (const uint8_t *)s_label, sizeof(s_label));
    crypto_generichash_update(&state, public_key, 32);
    crypto_generichash_final(&state, digest, sizeof(digest));

    static const char hex[] = "0123456789abcdef";
    size_t out = 0;
    for (size_t i = 0; i < sizeof(digest); i++) {
        if (i > 0 && i % 2 == 0)
            text[out++] = '-';
        text[out++] = hex[digest[i] >> 4];
        text[out++] = hex[digest[i] & 15];
    }
    text[out] = '\0';
}
