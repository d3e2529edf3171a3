/*
 * fc_mask.h - key derivation, share encryption and mask expansion of the
 * secure-aggregation protocol.
 *
 * Every key is bound to the session id, a BLAKE2b-256 hash of the round
 * settings and of every advertised public key, so keys and masks of one
 * round are useless in another. Masks are ChaCha20 keystreams (RFC 8439,
 * nonce "fc-mask") of 32-byte keys derived with BLAKE2b:
 *   pairwise key  k_uv = BLAKE2b(key = X25519(s_u, S_v),
 *                               "fedlora secagg pair mask v1" || sid || min || max)
 *   self key      k_u  = BLAKE2b(key = b_u, "fedlora secagg self mask v1" || sid || u)
 *   share key     e_uv = BLAKE2b(key = X25519(c_u, C_v),
 *                               "fedlora secagg share key v1" || sid || min || max)
 * where min and max are the two site ids as 16-bit little-endian numbers.
 */
#ifndef FC_MASK_H
#define FC_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "fc_keys.h"
#include "fc_msg.h"
#include "fl_error.h"

#define FC_MASK_KEY_BYTES 32
/* Words of scratch space that fc_mask_apply needs. */
#define FC_MASK_SCRATCH_WORDS 1024

/*
 * Computes the session id from params and the accepted advertisements
 * (keys->entries in increasing site order).
 */
void fc_session_id(uint8_t session_id[FC_SESSION_ID_BYTES], const fc_secagg_params *params,
                   const fc_msg_key_list *keys);

/*
 * Derives the pairwise mask key of sites a and b from one's mask secret key
 * and the other's mask public key. Returns FL_ECRYPTO when the peer key is a
 * low-order point (the shared secret would be all zeros).
 */
int fc_mask_pair_key(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t secret[FC_KEY_BYTES],
                     const uint8_t peer_public[FC_KEY_BYTES],
                     const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t site_a,
                     uint16_t site_b) FL_WARN_UNUSED;

/* Derives site's self mask key from its seed b_u. */
void fc_mask_self_key(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t seed[FC_SHARE_BYTES],
                      const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t site);

/* Derives the key that encrypts shares between sites a and b. Fails as fc_mask_pair_key. */
int fc_share_key(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t secret[FC_KEY_BYTES],
                 const uint8_t peer_public[FC_KEY_BYTES],
                 const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t site_a,
                 uint16_t site_b) FL_WARN_UNUSED;

/*
 * Encrypts the two 32-byte shares that sender gives recipient with
 * XChaCha20-Poly1305 under key, a random nonce, and associated data
 * session id || sender || recipient.
 */
void fc_share_encrypt(uint8_t ciphertext[FC_SHARE_CIPHERTEXT_BYTES],
                      const uint8_t mask_key_share[FC_SHARE_BYTES],
                      const uint8_t self_mask_share[FC_SHARE_BYTES],
                      const uint8_t key[FC_MASK_KEY_BYTES],
                      const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t sender,
                      uint16_t recipient);

/*
 * Authenticates and decrypts a share ciphertext. Returns FL_OK, or
 * FL_ECRYPTO when it was altered, or made for another session, sender or
 * recipient; the outputs are then zero.
 */
int fc_share_decrypt(uint8_t mask_key_share[FC_SHARE_BYTES],
                     uint8_t self_mask_share[FC_SHARE_BYTES],
                     const uint8_t ciphertext[FC_SHARE_CIPHERTEXT_BYTES],
                     const uint8_t key[FC_MASK_KEY_BYTES],
                     const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t sender,
                     uint16_t recipient) FL_WARN_UNUSED;

/*
 * Signs an AdvertiseKeys message with a site identity. The signed bytes are
 * "fedlora secagg advertise v1" || params digest || round || site ||
 * share_public || mask_public, so the signature also vouches for the round
 * settings.
 */
void fc_advertise_sign(fc_msg_advertise *msg, const uint8_t params_digest[32],
                       const fc_identity *identity);

/* Returns FL_OK when msg's signature is valid under sign_public, else FL_ECRYPTO. */
int fc_advertise_verify(const fc_msg_advertise *msg, const uint8_t params_digest[32],
                        const uint8_t sign_public[FC_SIGN_PUBLIC_BYTES]) FL_WARN_UNUSED;

/*
 * Adds (sign > 0) or subtracts (sign < 0) the mask of key to count words,
 * the words first_word.. of the masked vector, modulo 2^32. scratch has room
 * for FC_MASK_SCRATCH_WORDS words and is wiped before return.
 */
void fc_mask_apply(uint32_t *words, size_t count, uint64_t first_word,
                   const uint8_t key[FC_MASK_KEY_BYTES], int sign, uint32_t *scratch);

#endif
