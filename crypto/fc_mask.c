/* Session ids, key derivation, share encryption and ChaCha20 mask expansion. */
#include "fc_mask.h"

#include <sodium.h>
#include <string.h>

#include "fc_stream.h"
#include "fc_wire.h"

static const char s_session_label[] = "fedlora secagg session v1";
static const char s_pair_label[] = "fedlora secagg pair mask v1";
static const char s_self_label[] = "fedlora secagg self mask v1";
static const char s_share_label[] = "fedlora secagg share key v1";
static const char s_advertise_label[] = "fedlora secagg advertise v1";
static const uint8_t s_mask_nonce[FC_STREAM_NONCE_BYTES] = "fc-mask";

void fc_session_id(uint8_t session_id[FC_SESSION_ID_BYTES], const fc_secagg_params *params,
                   const fc_msg_key_list *keys)
{
    uint8_t params_digest[32];
    fc_secagg_params_digest(params_digest, params);

    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, FC_SESSION_ID_BYTES);
    crypto_generichash_update(&state, (const uint8_t *)s_session_label,
                              sizeof(s_session_label));
    crypto_generichash_update(&state, params_digest, sizeof(params_digest));
    for (uint16_t i = 0; i < keys->count; i++) {
        const fc_msg_advertise *entry = &keys->entries[i];
        uint8_t site[2] = {(uint8_t)entry->site, (uint8_t)(entry->site >> 8)};
        crypto_generichash_update(&state, site, sizeof(site));
        crypto_generichash_update(&state, entry->share_public, FC_KEY_BYTES);
        crypto_generichash_update(&state, entry->mask_public, FC_KEY_BYTES);
    }
    crypto_generichash_final(&state, session_id, FC_SESSION_ID_BYTES);
}

/* BLAKE2b keyed by secret over label || session id || context bytes. */
static void derive(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t *secret, const char *label,
                   size_t label_size, const uint8_t session_id[FC_SESSION_ID_BYTES],
                   const uint8_t *context, size_t context_size)
{
    crypto_generichash_state state;
    crypto_generichash_init(&state, secret, 32, FC_MASK_KEY_BYTES);
    crypto_generichash_update(&state, (const uint8_t *)label, label_size);
    crypto_generichash_update(&state, session_id, FC_SESSION_ID_BYTES);
    crypto_generichash_update(&state, context, context_size);
    crypto_generichash_final(&state, key, FC_MASK_KEY_BYTES);
    sodium_memzero(&state, sizeof(state));
}

/* X25519 agreement, then derive() with the two site ids in increasing order. */
static int agree_and_derive(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t secret[FC_KEY_BYTES],
                            const uint8_t peer_public[FC_KEY_BYTES], const char *label,
                            size_t label_size, const uint8_t session_id[FC_SESSION_ID_BYTES],
                            uint16_t site_a, uint16_t site_b)
{
    uint8_t shared[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(shared, secret, peer_public) != 0) {
        sodium_memzero(key, FC_MASK_KEY_BYTES);
        return FL_ECRYPTO;
    }
    uint16_t low = site_a < site_b ? site_a : site_b;
    uint16_t high = site_a < site_b ? site_b : site_a;
    uint8_t sites[4] = {(uint8_t)low, (uint8_t)(low >> 8), (uint8_t)high, (uint8_t)(high >> 8)};
    derive(key, shared, label, label_size, session_id, sites, sizeof(sites));
    sodium_memzero(shared, sizeof(shared));
    return FL_OK;
}

int fc_mask_pair_key(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t secret[FC_KEY_BYTES],
                     const uint8_t peer_public[FC_KEY_BYTES],
                     const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t site_a,
                     uint16_t site_b)
{
    return agree_and_derive(key, secret, peer_public, s_pair_label, sizeof(s_pair_label),
                            session_id, site_a, site_b);
}

int fc_share_key(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t secret[FC_KEY_BYTES],
                 const uint8_t peer_public[FC_KEY_BYTES],
                 const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t site_a,
                 uint16_t site_b)
{
    return agree_and_derive(key, secret, peer_public, s_share_label, sizeof(s_share_label),
                            session_id, site_a, site_b);
}

void fc_mask_self_key(uint8_t key[FC_MASK_KEY_BYTES], const uint8_t seed[FC_SHARE_BYTES],
                      const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t site)
{
    uint8_t site_bytes[2] = {(uint8_t)site, (uint8_t)(site >> 8)};
    derive(key, seed, s_self_label, sizeof(s_self_label), session_id, site_bytes,
           sizeof(site_bytes));
}

/* Associated data of a share ciphertext: session id || sender || recipient. */
static void share_associated_data(uint8_t ad[FC_SESSION_ID_BYTES + 4],
                                  const uint8_t session_id[FC_SESSION_ID_BYTES],
                                  uint16_t sender, uint16_t recipient)
{
    memcpy(ad, session_id, FC_SESSION_ID_BYTES);
    ad[FC_SESSION_ID_BYTES] = (uint8_t)sender;
    ad[FC_SESSION_ID_BYTES + 1] = (uint8_t)(sender >> 8);
    ad[FC_SESSION_ID_BYTES + 2] = (uint8_t)recipient;
    ad[FC_SESSION_ID_BYTES + 3] = (uint8_t)(recipient >> 8);
}

void fc_share_encrypt(uint8_t ciphertext[FC_SHARE_CIPHERTEXT_BYTES],
                      const uint8_t mask_key_share[FC_SHARE_BYTES],
                      const uint8_t self_mask_share[FC_SHARE_BYTES],
                      const uint8_t key[FC_MASK_KEY_BYTES],
                      const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t sender,
                      uint16_t recipient)
{
    uint8_t plaintext[2 * FC_SHARE_BYTES];
    memcpy(plaintext, mask_key_share, FC_SHARE_BYTES);
    memcpy(plaintext + FC_SHARE_BYTES, self_mask_share, FC_SHARE_BYTES);
    uint8_t ad[FC_SESSION_ID_BYTES + 4];
    share_associated_data(ad, session_id, sender, recipient);

    uint8_t *nonce = ciphertext;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        ciphertext + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, plaintext,
        sizeof(plaintext), ad, sizeof(ad), NULL, nonce, key);
    sodium_memzero(plaintext, sizeof(plaintext));
}

int fc_share_decrypt(uint8_t mask_key_share[FC_SHARE_BYTES],
                     uint8_t self_mask_share[FC_SHARE_BYTES],
                     const uint8_t ciphertext[FC_SHARE_CIPHERTEXT_BYTES],
                     const uint8_t key[FC_MASK_KEY_BYTES],
                     const uint8_t session_id[FC_SESSION_ID_BYTES], uint16_t sender,
                     uint16_t recipient)
{
    uint8_t plaintext[2 * FC_SHARE_BYTES];
    uint8_t ad[FC_SESSION_ID_BYTES + 4];
    share_associated_data(ad, session_id, sender, recipient);

    const size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    int result = crypto_aead_xchacha20poly1305_ietf_decrypt(
        plaintext, NULL, NULL, ciphertext + nonce_bytes, FC_SHARE_CIPHERTEXT_BYTES - nonce_bytes,
        ad, sizeof(ad), ciphertext, key);
    if (result != 0) {
        sodium_memzero(mask_key_share, FC_SHARE_BYTES);
        sodium_memzero(self_mask_share, FC_SHARE_BYTES);
        return FL_ECRYPTO;
    }
    memcpy(mask_key_share, plaintext, FC_SHARE_BYTES);
    memcpy(self_mask_share, plaintext + FC_SHARE_BYTES, FC_SHARE_BYTES);
    sodium_memzero(plaintext, sizeof(plaintext));
    return FL_OK;
}

void fc_mask_apply(uint32_t *words, size_t count, uint64_t first_word,
                   const uint8_t key[FC_MASK_KEY_BYTES], int sign, uint32_t *scratch)
{
    for (size_t start = 0; start < count; start += FC_MASK_SCRATCH_WORDS) {
        size_t piece = count - start;
        if (piece > FC_MASK_SCRATCH_WORDS)
            piece = FC_MASK_SCRATCH_WORDS;
        fc_stream_words(scratch, piece, first_word + start, key, s_mask_nonce);

        uint32_t *out = words + start;
        if (sign > 0) {
            for (size_t i = 0; i < piece; i++)
                out[i] += scratch[i];
        } else {
            for (size_t i = 0; i < piece; i++)
                out[i] -= scratch[i];
        }
    }
    sodium_memzero(scratch, FC_MASK_SCRATCH_WORDS * sizeof(uint32_t));
}

/* Writes the bytes an AdvertiseKeys signature covers; returns their count. */
static size_t advertise_signed_bytes(uint8_t *bytes, size_t capacity, const fc_msg_advertise *msg,
                                     const uint8_t params_digest[32])
{
    fc_wire_writer writer;
    fc_wire_writer_init(&writer, bytes, capacity);
    fc_wire_put_bytes(&writer, (const uint8_t *)s_advertise_label, sizeof(s_advertise_label));
    fc_wire_put_bytes(&writer, params_digest, 32);
    fc_wire_put_u64(&writer, msg->round);
    fc_wire_put_u16(&writer, msg->site);
    fc_wire_put_bytes(&writer, msg->share_public, FC_KEY_BYTES);
    fc_wire_put_bytes(&writer, msg->mask_public, FC_KEY_BYTES);
    return writer.used;
}

void fc_advertise_sign(fc_msg_advertise *msg, const uint8_t params_digest[32],
                       const fc_identity *identity)
{
    uint8_t bytes[256];
    size_t size = advertise_signed_bytes(bytes, sizeof(bytes), msg, params_digest);
    fc_sign_detached(msg->signature, identity, bytes, size);
}

int fc_advertise_verify(const fc_msg_advertise *msg, const uint8_t params_digest[32],
                        const uint8_t sign_public[FC_SIGN_PUBLIC_BYTES])
{
    uint8_t bytes[256];
    size_t size = advertise_signed_bytes(bytes, sizeof(bytes), msg, params_digest);
    if (crypto_sign_verify_detached(msg->signature, bytes, size, sign_public) != 0)
        return FL_ECRYPTO;
    return FL_OK;
}
