/*
 * fl_fingerprint.h - the one fingerprint format of public keys, shared by
 * provisioning, the daemons' logs and `fedlora doctor`, so an operator can
 * match a key across all of them.
 */
#ifndef FL_FINGERPRINT_H
#define FL_FINGERPRINT_H

#include <stdint.h>

/* Characters of a fingerprint without its NUL: 8 groups of 4 hex digits and 7 dashes. */
#define FL_FINGERPRINT_CHARS 39

/*
 * Writes the fingerprint of a 32-byte public key: the first 16 bytes of
 * BLAKE2b over the label "fedlora key fingerprint v1" (with its NUL) and the
 * key, as "1a2b-3c4d-...". Short enough to read out on a phone call.
 */
void fl_key_fingerprint(char text[FL_FINGERPRINT_CHARS + 1], const uint8_t public_key[32]);

#endif
