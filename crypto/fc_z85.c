/* Z85 encoding and decoding, written from the ZeroMQ RFC 32 specification. */
#include "fc_z85.h"

static const char s_alphabet[86] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int fc_z85_encode(char *text, const uint8_t *data, size_t size)
{
    if (size % 4 != 0)
        return FL_EINVAL;

    size_t out = 0;
    for (size_t i = 0; i < size; i += 4) {
        uint32_t value = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                         (uint32_t)data[i + 2] << 8 | data[i + 3];
        for (int digit = 4; digit >= 0; digit--) {
            text[out + (size_t)digit] = s_alphabet[value % 85];
            value /= 85;
        }
        out += 5;
    }
    text[out] = '\0';
    return FL_OK;
}

/*
 * Returns the value of one Z85 character, or -1 when it is not in the
 * alphabet. Scans the whole alphabet so the time does not depend on the
 * character, which may belong to a secret key.
 */
static int z85_digit(char c)
{
    int value = -1;
    for (int i = 0; i < 85; i++) {
        int match = -(int)(s_alphabet[i] == c);
        value = (value & ~match) | (i & match);
    }
    return value;
}

int fc_z85_decode(uint8_t *data, const char *text, size_t text_length)
{
    if (text_length % 5 != 0)
        return FL_EFORMAT;

    size_t out = 0;
    for (size_t i = 0; i < text_length; i += 5) {
        uint64_t value = 0;
        for (size_t j = 0; j < 5; j++) {
            int digit = z85_digit(text[i + j]);
            if (digit < 0)
                return FL_EFORMAT;
            value = value * 85 + (uint64_t)digit;
        }
        if (value > UINT32_MAX)
            return FL_EFORMAT;
        data[out] = (uint8_t)(value >> 24);
        data[out + 1] = (uint8_t)(value >> 16);
        data[out + 2] = (uint8_t)(value >> 8);
        data[out + 3] = (uint8_t)value;
        out += 4;
    }
    return FL_OK;
}
