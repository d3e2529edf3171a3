/*
 * fc_msg.h - the messages of the secure-aggregation protocol as plain C
 * structs, with a compact binary encoding that the network layer carries as
 * opaque bytes.
 *
 * Every encoding starts with a version byte (FC_MSG_VERSION) and a type byte
 * (fc_msg_type); integers are little-endian; lists carry a 16-bit count.
 * Decoders check the version, the type, every count against its maximum and
 * the total length, and reject trailing bytes. They check nothing that needs
 * round state (site ranges, signatures): the client and server do that.
 *
 * Flow (S = server, sites u, v):
 *   u -> S  AdvertiseKeys      two X25519 public keys, signed by u's identity
 *   S -> u  KeyList            every AdvertiseKeys the server accepted
 *   u -> S  ShareKeys          for each peer v, Enc_uv(share of s_u, share of b_u)
 *   S -> v  ShareRelay         the ciphertexts addressed to v
 *   u -> S  MaskedChunk ...    the masked vector, one chunk per message
 *   S -> u  UnmaskRequest      which sites count (live) and which dropped
 *   u -> S  UnmaskResponse     b shares of live sites, s shares of dropped ones
 */
#ifndef FC_MSG_H
#define FC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "fc_secagg_params.h"
#include "fl_error.h"

#define FC_MSG_VERSION 1

#define FC_KEY_BYTES 32
#define FC_SHARE_BYTES 32
#define FC_SIG_BYTES 64
/* Share ciphertext: 24-byte XChaCha20 nonce, s share, b share, 16-byte tag. */
#define FC_SHARE_CIPHERTEXT_BYTES (24 + 2 * FC_SHARE_BYTES + 16)
/* Bytes before the words of an encoded MaskedChunk. */
#define FC_MSG_CHUNK_HEADER_BYTES 24

typedef enum fc_msg_type {
    FC_MSG_ADVERTISE = 1,
    FC_MSG_KEY_LIST = 2,
    FC_MSG_SHARE_KEYS = 3,
    FC_MSG_SHARE_RELAY = 4,
    FC_MSG_MASKED_CHUNK = 5,
    FC_MSG_UNMASK_REQUEST = 6,
    FC_MSG_UNMASK_RESPONSE = 7,
} fc_msg_type;

/* Which secret of a peer an unmasking share rebuilds. */
typedef enum fc_share_kind {
    FC_SHARE_SELF_MASK = 1, /* share of b_v: the peer's input counts */
    FC_SHARE_MASK_KEY = 2,  /* share of s_v: the peer dropped */
} fc_share_kind;

/* AdvertiseKeys: one site's public keys for this round. */
typedef struct fc_msg_advertise {
    uint64_t round;
    uint16_t site;
    uint8_t share_public[FC_KEY_BYTES]; /* X25519 key that encrypts shares to this site */
    uint8_t mask_public[FC_KEY_BYTES];  /* X25519 key that agrees pairwise masks */
    uint8_t signature[FC_SIG_BYTES];    /* Ed25519 by the site identity, see fc_secagg_client.h */
} fc_msg_advertise;

/* KeyList: the accepted advertisements, in increasing site order. */
typedef struct fc_msg_key_list {
    uint64_t round;
    uint16_t count;
    fc_msg_advertise entries[FC_SECAGG_MAX_SITES];
} fc_msg_key_list;

/* One encrypted pair of shares; peer is the recipient (ShareKeys) or the sender (ShareRelay). */
typedef struct fc_msg_share_entry {
    uint16_t peer;
    uint8_t ciphertext[FC_SHARE_CIPHERTEXT_BYTES];
} fc_msg_share_entry;

/* ShareKeys (site = sender) and ShareRelay (site = recipient). */
typedef struct fc_msg_shares {
    uint64_t round;
    uint16_t site;
    uint16_t count;
    fc_msg_share_entry entries[FC_SECAGG_MAX_SITES];
} fc_msg_shares;

/*
 * MaskedChunk: words offset..offset+count-1 of a site's masked vector.
 * words is borrowed: the encoder reads it, the decoder points it at the
 * caller's buffer.
 */
typedef struct fc_msg_masked_chunk {
    uint64_t round;
    uint16_t site;
    uint64_t offset;
    uint32_t count;
    uint32_t *words;
} fc_msg_masked_chunk;

/* UnmaskRequest: sites whose input counts (live) and sites that dropped. */
typedef struct fc_msg_unmask_request {
    uint64_t round;
    uint16_t live_count;
    uint16_t live[FC_SECAGG_MAX_SITES];
    uint16_t dropped_count;
    uint16_t dropped[FC_SECAGG_MAX_SITES];
} fc_msg_unmask_request;

/* One share revealed during unmasking. */
typedef struct fc_msg_unmask_entry {
    uint16_t peer;
    uint8_t kind; /* fc_share_kind */
    uint8_t share[FC_SHARE_BYTES];
} fc_msg_unmask_entry;

/* UnmaskResponse: the shares one site reveals. */
typedef struct fc_msg_unmask_response {
    uint64_t round;
    uint16_t site;
    uint16_t count;
    fc_msg_unmask_entry entries[FC_SECAGG_MAX_SITES];
} fc_msg_unmask_response;

/*
 * Returns the type of an encoded message, or FL_EFORMAT when it is too short,
 * has another version or an unknown type. Lets the network layer dispatch.
 */
int fc_msg_peek_type(const uint8_t *bytes, size_t size) FL_WARN_UNUSED;

/*
 * Encoders write the message into a new buffer (fl_xmalloc). Caller owns
 * *bytes; free it with free(). They return FL_OK, or FL_EINVAL when a count
 * exceeds its maximum.
 */
int fc_msg_advertise_encode(const fc_msg_advertise *msg, uint8_t **bytes,
                            size_t *size) FL_WARN_UNUSED;
int fc_msg_key_list_encode(const fc_msg_key_list *msg, uint8_t **bytes,
                           size_t *size) FL_WARN_UNUSED;
/* type is FC_MSG_SHARE_KEYS or FC_MSG_SHARE_RELAY. */
int fc_msg_shares_encode(const fc_msg_shares *msg, fc_msg_type type, uint8_t **bytes,
                         size_t *size) FL_WARN_UNUSED;
int fc_msg_masked_chunk_encode(const fc_msg_masked_chunk *msg, uint8_t **bytes,
                               size_t *size) FL_WARN_UNUSED;
int fc_msg_unmask_request_encode(const fc_msg_unmask_request *msg, uint8_t **bytes,
                                 size_t *size) FL_WARN_UNUSED;
int fc_msg_unmask_response_encode(const fc_msg_unmask_response *msg, uint8_t **bytes,
                                  size_t *size) FL_WARN_UNUSED;

/*
 * Decoders fill msg from size bytes. They return FL_OK, or FL_EFORMAT with
 * err saying which field is wrong (version, type, count, length, trailing
 * bytes). On failure msg contains no usable content.
 */
int fc_msg_advertise_decode(fc_msg_advertise *msg, const uint8_t *bytes, size_t size,
                            fl_error *err) FL_WARN_UNUSED;
int fc_msg_key_list_decode(fc_msg_key_list *msg, const uint8_t *bytes, size_t size,
                           fl_error *err) FL_WARN_UNUSED;
int fc_msg_shares_decode(fc_msg_shares *msg, fc_msg_type type, const uint8_t *bytes,
                         size_t size, fl_error *err) FL_WARN_UNUSED;
/* Copies the words into words_buffer, which has room for capacity words. */
int fc_msg_masked_chunk_decode(fc_msg_masked_chunk *msg, uint32_t *words_buffer,
                               size_t capacity, const uint8_t *bytes, size_t size,
                               fl_error *err) FL_WARN_UNUSED;
int fc_msg_unmask_request_decode(fc_msg_unmask_request *msg, const uint8_t *bytes,
                                 size_t size, fl_error *err) FL_WARN_UNUSED;
int fc_msg_unmask_response_decode(fc_msg_unmask_response *msg, const uint8_t *bytes,
                                  size_t size, fl_error *err) FL_WARN_UNUSED;

#endif
