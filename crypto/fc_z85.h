/*
 * fc_z85.h - Z85 text encoding of binary keys, as ZeroMQ prints CURVE keys.
 *
 * Z85 (ZeroMQ RFC 32) turns every 4 bytes into 5 printable characters, so a
 * 32-byte key becomes 40 characters. Only lengths that are multiples of 4
 * (binary) and 5 (text) are valid.
 */
#ifndef FC_Z85_H
#define FC_Z85_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

/* Text length of a 32-byte key, without the terminating NUL. */
#define FC_Z85_KEY_CHARS 40

/*
 * Encodes size bytes of data (size a multiple of 4) into text, which must
 * have room for size / 4 * 5 characters plus a NUL. Returns FL_OK, or
 * FL_EINVAL when size is not a multiple of 4.
 */
int fc_z85_encode(char *text, const uint8_t *data, size_t size) FL_WARN_UNUSED;

/*
 * Decodes text_length characters of text into data (room for
 * text_length / 5 * 4 bytes). Returns FL_OK, or FL_EFORMAT when the length
 * is not a multiple of 5, a character is outside the Z85 alphabet or a group
 * exceeds 32 bits. On failure data may hold partial output; wipe it if secret.
 */
int fc_z85_decode(uint8_t *data, const char *text, size_t text_length) FL_WARN_UNUSED;

#endif
