/*
 * fc_secagg_client.h - the site side of secure aggregation, as a state
 * machine driven by the network layer. No I/O happens here.
 *
 * Calls, in order (each fails with FL_ESTATE out of order):
 *   fc_secagg_client_advertise        -> AdvertiseKeys to send
 *   fc_secagg_client_share_keys       KeyList in -> ShareKeys to send
 *   fc_secagg_client_receive_shares   ShareRelay in
 *   fc_secagg_client_set_input        the site's vector and weight
 *   fc_secagg_client_next_chunk       repeat: MaskedChunk to send, until it returns 0
 *   fc_secagg_client_unmask           UnmaskRequest in -> UnmaskResponse to send
 * A site keeps its float vector plus one chunk of masked words in memory.
 * A protocol or crypto failure moves the client to a failed state in which
 * every later call returns FL_ESTATE; the round must then start again.
 * Not thread-safe: one thread drives one client.
 */
#ifndef FC_SECAGG_CLIENT_H
#define FC_SECAGG_CLIENT_H

#include <stdint.h>

#include "fc_keys.h"
#include "fc_msg.h"
#include "fc_secagg_params.h"
#include "fl_error.h"

typedef struct fc_secagg_client fc_secagg_client;

/*
 * Creates the client of site (0 <= site < n_sites). identity signs its
 * AdvertiseKeys and must outlive the client; roster[i] is the public
 * identity of site i (n_sites entries, copied). Validates params
 * (fc_secagg_params_validate). Caller owns *out; free it with
 * fc_secagg_client_destroy().
 */
int fc_secagg_client_new(fc_secagg_client **out, const fc_secagg_params *params,
                         uint16_t site, const fc_identity *identity,
                         const fc_public_identity *roster, fl_error *err) FL_WARN_UNUSED;

/* Wipes and frees client, and sets *client to NULL. NULL-safe. */
void fc_secagg_client_destroy(fc_secagg_client **client);

/* Generates this round's key pairs and self-mask seed, and writes the signed AdvertiseKeys. */
int fc_secagg_client_advertise(fc_secagg_client *client, fc_msg_advertise *out,
                               fl_error *err) FL_WARN_UNUSED;

/*
 * Checks the KeyList (round, order, every signature against the roster, its
 * own entry, at least threshold entries), derives the session id, splits
 * the mask key and self-mask seed into shares and writes ShareKeys with one
 * ciphertext per other listed site. FL_ECRYPTO for a bad signature,
 * FL_EPROTO for any other violation.
 */
int fc_secagg_client_share_keys(fc_secagg_client *client, const fc_msg_key_list *keys,
                                fc_msg_shares *out, fl_error *err) FL_WARN_UNUSED;

/*
 * Decrypts the shares other sites sent and derives the pairwise mask keys
 * with every sender. FL_ECRYPTO when a ciphertext fails to authenticate
 * (altered, or from another session), FL_EPROTO when fewer than threshold
 * sites (itself included) shared keys.
 */
int fc_secagg_client_receive_shares(fc_secagg_client *client, const fc_msg_shares *relay,
                                    fl_error *err) FL_WARN_UNUSED;

/*
 * Sets the vector to upload: params.dim floats (borrowed; keep them until
 * the last chunk is pulled) and the site's weight (<= weight_max; 1 for a
 * plain sum). rounding_seed keys the stochastic rounding; pass NULL for a
 * fresh random seed (tests pass a fixed one to reproduce the quantisation).
 */
int fc_secagg_client_set_input(fc_secagg_client *client, const float *values, uint32_t weight,
                               const uint8_t *rounding_seed, fl_error *err) FL_WARN_UNUSED;

/*
 * Quantises and masks the next chunk and points out at it (out->words is
 * owned by the client and valid until the next call). Returns 1 when a
 * chunk was written, 0 when all chunks were sent, or a negative status
 * (FL_EINVAL for a non-finite value, naming the element).
 */
int fc_secagg_client_next_chunk(fc_secagg_client *client, fc_msg_masked_chunk *out,
                                fl_error *err) FL_WARN_UNUSED;

/* Returns how many values clipping changed so far in this round. */
uint64_t fc_secagg_client_clipped(const fc_secagg_client *client);

/*
 * Responds to an UnmaskRequest with the self-mask share of each live site and
 * the mask-key share of each dropped one. An honest site never reveals both
 * shares of one site: it rejects with FL_EPERM a request that lists a site
 * as both, one that contradicts an earlier request, and one that lists this
 * site as dropped after it started sending its input. FL_EPROTO when the
 * request omits a site that shared keys, names one that did not, or lists
 * fewer than threshold live sites. A repeated identical request gets the same response
 * again. out then contains secret shares: wipe it (sodium_memzero) once it
 * is encoded and sent.
 */
int fc_secagg_client_unmask(fc_secagg_client *client, const fc_msg_unmask_request *request,
                            fc_msg_unmask_response *out, fl_error *err) FL_WARN_UNUSED;

#endif
