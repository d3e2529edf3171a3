/*
 * fc_secagg_server.h - the coordinator side of secure aggregation, as a
 * state machine driven by the network layer. No I/O happens here.
 *
 * Phases, each closed by the caller (for example at a deadline):
 *   fc_secagg_server_add_advertise ...   then fc_secagg_server_key_list
 *   fc_secagg_server_add_shares ...      then fc_secagg_server_close_shares,
 *                                        then fc_secagg_server_relay per site
 *   fc_secagg_server_add_chunk ...       then fc_secagg_server_close_inputs
 *   fc_secagg_server_add_unmask ...      then fc_secagg_server_finish
 * Closing a phase with fewer than threshold sites fails the round: the call
 * returns FL_EPROTO naming the counts, the partial sum is wiped and no
 * result is ever released. Chunks are added into one accumulator of dim + 1
 * words as they arrive, so the memory for vectors does not grow with the
 * number of sites. The relayed ciphertexts and revealed shares take another
 * 136 n^2 bytes (8.8 MB at the maximum of 255 sites).
 *
 * NOTE: chunks are summed in place, so a site that stops in the middle of
 * its upload cannot be taken out of the sum again, and close_inputs then
 * fails the round. Sites that sent no chunk or every chunk are handled.
 * Not thread-safe: one thread drives one server.
 */
#ifndef FC_SECAGG_SERVER_H
#define FC_SECAGG_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "fc_keys.h"
#include "fc_msg.h"
#include "fc_quant.h"
#include "fc_secagg_params.h"
#include "fl_error.h"

typedef struct fc_secagg_server fc_secagg_server;

/*
 * Creates the server of a round. roster[i] is the public identity of site i
 * (n_sites entries, copied). Validates params. Caller owns *out; free it with
 * fc_secagg_server_destroy().
 */
int fc_secagg_server_new(fc_secagg_server **out, const fc_secagg_params *params,
                         const fc_public_identity *roster, fl_error *err) FL_WARN_UNUSED;

/* Wipes and frees server, and sets *server to NULL. NULL-safe. */
void fc_secagg_server_destroy(fc_secagg_server **server);

/*
 * Accepts one AdvertiseKeys. FL_ECRYPTO for a bad signature, FL_EPROTO for a
 * wrong round, an unknown site or a second advertisement. A rejected
 * message changes nothing.
 */
int fc_secagg_server_add_advertise(fc_secagg_server *server, const fc_msg_advertise *msg,
                                   fl_error *err) FL_WARN_UNUSED;

/* Closes AdvertiseKeys and writes the KeyList every site receives. */
int fc_secagg_server_key_list(fc_secagg_server *server, fc_msg_key_list *out,
                              fl_error *err) FL_WARN_UNUSED;

/*
 * Accepts one ShareKeys: it must carry one ciphertext for every other site
 * in the KeyList. FL_EPROTO otherwise; a rejected message changes nothing.
 */
int fc_secagg_server_add_shares(fc_secagg_server *server, const fc_msg_shares *msg,
                                fl_error *err) FL_WARN_UNUSED;

/* Closes ShareKeys. The sites that sent shares are the ones whose masks count. */
int fc_secagg_server_close_shares(fc_secagg_server *server, fl_error *err) FL_WARN_UNUSED;

/*
 * Writes the ShareRelay for recipient: the ciphertexts addressed to it by
 * every other site that sent shares. FL_EPROTO when recipient sent none.
 */
int fc_secagg_server_relay(const fc_secagg_server *server, uint16_t recipient,
                           fc_msg_shares *out, fl_error *err) FL_WARN_UNUSED;

/*
 * Adds one masked chunk into the sum. A site's chunks must arrive in order
 * with the sizes fc_secagg_client_next_chunk produces; every word must be
 * below the modulus. FL_EPROTO otherwise, and the sum is left unchanged.
 */
int fc_secagg_server_add_chunk(fc_secagg_server *server, const fc_msg_masked_chunk *chunk,
                               fl_error *err) FL_WARN_UNUSED;

/*
 * Closes MaskedInput and writes the UnmaskRequest: sites that sent their
 * whole input are live, sites that shared keys but sent nothing dropped.
 */
int fc_secagg_server_close_inputs(fc_secagg_server *server, fc_msg_unmask_request *out,
                                  fl_error *err) FL_WARN_UNUSED;

/*
 * Accepts one UnmaskResponse: exactly one share per site in the request, of
 * the kind the request asked. FL_EPROTO otherwise; changes nothing then.
 */
int fc_secagg_server_add_unmask(fc_secagg_server *server, const fc_msg_unmask_response *msg,
                                fl_error *err) FL_WARN_UNUSED;

/*
 * Rebuilds each live site's self-mask seed and each dropped site's mask key
 * from threshold responses, and removes every mask from the sum. FL_EPROTO
 * with fewer than threshold responses; FL_ECRYPTO when a rebuilt mask key
 * does not match the key its site advertised (a wrong share).
 */
int fc_secagg_server_finish(fc_secagg_server *server, fl_error *err) FL_WARN_UNUSED;

/*
 * Returns the unmasked sum: dim value words followed by the summed weight,
 * each sum_u w_u (q_u + Q) over the counted sites. NULL before finish
 * succeeded. Owned by the server.
 */
const uint32_t *fc_secagg_server_sum(const fc_secagg_server *server);

/* Returns the summed weight of the counted sites; 0 before finish succeeded. */
uint64_t fc_secagg_server_weight_sum(const fc_secagg_server *server);

/*
 * Writes the ids of the sites whose input the sum contains, in increasing
 * order, into sites (room for n_sites) and returns their number; 0 before
 * the inputs phase closed or after the round failed.
 */
uint32_t fc_secagg_server_counted(const fc_secagg_server *server, uint16_t *sites);

/* Writes the dequantised weighted mean (dim floats). FL_ESTATE before finish succeeded. */
int fc_secagg_server_mean(const fc_secagg_server *server, float *out,
                          fl_error *err) FL_WARN_UNUSED;

/* Returns the quantiser of the round. */
const fc_quant *fc_secagg_server_quant(const fc_secagg_server *server);

#endif
