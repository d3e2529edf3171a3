/*
 * fc_keys.h - site and coordinator identities: an Ed25519 signing key pair
 * and an X25519 key pair for the ZeroMQ CURVE transport.
 *
 * Key files are text, one "name = value" line per key with the value in Z85
 * (as ZeroMQ prints CURVE keys); '#' starts a comment line.
 *   secret file (mode 0600):  sign-secret  = <Ed25519 seed, 32 bytes>
 *                             curve-secret = <X25519 secret key, 32 bytes>
 *   public file:              sign-public  = <Ed25519 public key>
 *                             curve-public = <X25519 public key>
 * Secret keys live in sodium_malloc memory (guarded, locked, wiped on free).
 * Call fc_init() once before any other function of this library.
 */
#ifndef FC_KEYS_H
#define FC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

#define FC_SIGN_PUBLIC_BYTES 32
#define FC_SIGNATURE_BYTES 64
#define FC_CURVE_PUBLIC_BYTES 32
#define FC_CURVE_SECRET_BYTES 32

/* Length of a fingerprint text including its NUL: 8 groups of 4 hex digits. */
#define FC_FINGERPRINT_TEXT_BYTES 40

/* Largest key file accepted, in bytes. */
#define FC_KEY_FILE_MAX_BYTES 4096

/* A site's or the coordinator's key pairs. Opaque; secrets are guarded. */
typedef struct fc_identity fc_identity;

/* The public half of an identity, as another party stores it. */
typedef struct fc_public_identity {
    uint8_t sign_public[FC_SIGN_PUBLIC_BYTES];
    uint8_t curve_public[FC_CURVE_PUBLIC_BYTES];
} fc_public_identity;

/* Initialises libsodium. Returns FL_OK, or FL_ECRYPTO when it cannot start. Thread-safe. */
int fc_init(void) FL_WARN_UNUSED;

/* Generates fresh key pairs. Caller owns *out; free it with fc_identity_destroy(). */
int fc_identity_generate(fc_identity **out) FL_WARN_UNUSED;

/*
 * Writes the secret file (mode 0600) and the public file (mode 0644) of
 * identity, each atomically. Returns FL_OK or FL_EIO with err naming the file.
 */
int fc_identity_save(const fc_identity *identity, const char *secret_path,
                     const char *public_path, fl_error *err) FL_WARN_UNUSED;

/*
 * Loads a secret key file. Fails with FL_EPERM when group or others can read
 * or write it, FL_ENOTFOUND when it is missing, and FL_EFORMAT (naming the
 * line, never the secret) on bad contents. Caller owns *out.
 */
int fc_identity_load(const char *secret_path, fc_identity **out, fl_error *err) FL_WARN_UNUSED;

/* Loads a public key file into out. Fails with FL_EFORMAT naming the line. */
int fc_public_identity_load(const char *public_path, fc_public_identity *out,
                            fl_error *err) FL_WARN_UNUSED;

/* Frees identity after wiping it, and sets *identity to NULL. NULL-safe. */
void fc_identity_destroy(fc_identity **identity);

/* Copies the public keys of identity into out. */
void fc_identity_public(const fc_identity *identity, fc_public_identity *out);

/*
 * Returns the X25519 secret key for ZMQ_CURVE_SECRETKEY. The pointer stays
 * valid until identity is destroyed; never copy it into unguarded memory
 * that outlives its use.
 */
const uint8_t *fc_identity_curve_secret(const fc_identity *identity);

/*
 * Writes a fingerprint of a 32-byte public key into text: the first 16 bytes
 * of BLAKE2b over a fixed label and the key, as "1a2b-3c4d-...". Short
 * enough to read out on a phone call when checking a site's key.
 */
void fc_fingerprint(char text[FC_FINGERPRINT_TEXT_BYTES], const uint8_t public_key[32]);

/*
 * Signs blob with identity's Ed25519 key (Ed25519ph over the context label,
 * then blob). context names what is signed, for example "global-adapter",
 * so a signature for one purpose cannot pass as another.
 */
void fc_sign_blob(uint8_t signature[FC_SIGNATURE_BYTES], const fc_identity *identity,
                  const char *context, const void *blob, size_t size);

/* Returns FL_OK when signature is valid for blob and context under sign_public, else FL_ECRYPTO. */
int fc_verify_blob(const uint8_t signature[FC_SIGNATURE_BYTES],
                   const uint8_t sign_public[FC_SIGN_PUBLIC_BYTES], const char *context,
                   const void *blob, size_t size) FL_WARN_UNUSED;

/*
 * Signs message with plain Ed25519 (used for protocol messages, which carry
 * their own label). Returns nothing: signing cannot fail.
 */
void fc_sign_detached(uint8_t signature[FC_SIGNATURE_BYTES], const fc_identity *identity,
                      const uint8_t *message, size_t size);

#endif
