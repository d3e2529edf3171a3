/* Coordinator state machine of secure aggregation: relay, in-place sum, unmasking. */
#include "fc_secagg_server.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_mask.h"
#include "fc_shamir.h"
#include "fl_mem.h"

typedef enum server_state {
    SERVER_KEYS,
    SERVER_SHARES,
    SERVER_INPUTS,
    SERVER_UNMASK,
    SERVER_FINISHED,
    SERVER_FAILED,
} server_state;

/* The server's record of one site of the roster. */
typedef struct server_site {
    bool advertised; /* advertised keys (U1 in Bonawitz et al.) */
    bool shared;     /* sent shares (U2) */
    bool live;       /* sent its whole masked input (U3) */
    bool responded;  /* sent an accepted UnmaskResponse */
    uint64_t received_words;
    fc_msg_advertise advertise;
} server_site;

struct fc_secagg_server {
    fc_secagg_params params;
    fc_quant quant;
    uint8_t params_digest[32];
    fc_public_identity *roster;
    server_state state;
    uint8_t session_id[FC_SESSION_ID_BYTES];

    server_site *sites;
    uint8_t *ciphertexts;    /* [sender][recipient] share ciphertexts, n * n */
    uint8_t *unmask_shares;  /* [peer][responder] revealed shares, n * n, guarded */
    uint32_t *sum;           /* dim + 1 words */
    uint32_t *scratch;
    uint64_t weight_sum;
};

/* Per-site flags that phases count. */
typedef enum site_flag { FLAG_ADVERTISED, FLAG_SHARED, FLAG_LIVE, FLAG_RESPONDED } site_flag;

static bool site_has(const server_site *site, site_flag flag)
{
    switch (flag) {
    case FLAG_ADVERTISED:
        return site->advertised;
    case FLAG_SHARED:
        return site->shared;
    case FLAG_LIVE:
        return site->live;
    case FLAG_RESPONDED:
        return site->responded;
    }
    return false;
}

static uint32_t count_sites(const fc_secagg_server *server, site_flag flag)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < server->params.n_sites; i++)
        count += site_has(&server->sites[i], flag);
    return count;
}

static uint8_t *ciphertext_at(const fc_secagg_server *server, uint16_t sender, uint16_t recipient)
{
    size_t index = (size_t)sender * server->params.n_sites + recipient;
    return server->ciphertexts + index * FC_SHARE_CIPHERTEXT_BYTES;
}

static uint8_t *unmask_share_at(const fc_secagg_server *server, uint16_t peer, uint16_t responder)
{
    size_t index = (size_t)peer * server->params.n_sites + responder;
    return server->unmask_shares + index * FC_SHARE_BYTES;
}

int fc_secagg_server_new(fc_secagg_server **out, const fc_secagg_params *params,
                         const fc_public_identity *roster, fl_error *err)
{
    fc_quant quant;
    int status = fc_secagg_params_validate(params, &quant, err);
    if (status != FL_OK)
        return status;

    const size_t n = params->n_sites;
    fc_secagg_server *server = fl_xcalloc(1, sizeof(*server));
    server->params = *params;
    server->quant = quant;
    fc_secagg_params_digest(server->params_digest, params);
    server->roster = fl_xmalloc(n * sizeof(*server->roster));
    memcpy(server->roster, roster, n * sizeof(*server->roster));
    server->state = SERVER_KEYS;
    server->sites = fl_xcalloc(n, sizeof(*server->sites));
    server->ciphertexts = fl_xcalloc(n * n, FC_SHARE_CIPHERTEXT_BYTES);
    server->unmask_shares = sodium_malloc(n * n * FC_SHARE_BYTES);
    if (server->unmask_shares == NULL) {
        fprintf(stderr, "fatal: sodium_malloc(%zu) failed\n", n * n * FC_SHARE_BYTES);
        abort();
    }
    server->sum = fl_xcalloc(fc_secagg_words(params), sizeof(uint32_t));
    server->scratch = fl_xmalloc(FC_MASK_SCRATCH_WORDS * sizeof(uint32_t));
    *out = server;
    return FL_OK;
}

void fc_secagg_server_destroy(fc_secagg_server **server)
{
    if (server == NULL || *server == NULL)
        return;
    fc_secagg_server *s = *server;
    sodium_free(s->unmask_shares);
    free(s->sum);
    free(s->scratch);
    free(s->ciphertexts);
    free(s->sites);
    free(s->roster);
    free(s);
    *server = NULL;
}

/* Fails the round: wipes the partial sum so no partial result can leak, and returns status. */
static int fail(fc_secagg_server *server, int status)
{
    server->state = SERVER_FAILED;
    sodium_memzero(server->sum, fc_secagg_words(&server->params) * sizeof(uint32_t));
    sodium_memzero(server->unmask_shares,
                   (size_t)server->params.n_sites * server->params.n_sites * FC_SHARE_BYTES);
    server->weight_sum = 0;
    return status;
}

static int expect_state(const fc_secagg_server *server, server_state expected,
                        const char *operation, fl_error *err)
{
    if (server->state == expected)
        return FL_OK;
    if (server->state == SERVER_FAILED)
        return fl_error_set(err, FL_ESTATE, "%s after the round failed; start a new round",
                            operation);
    return fl_error_set(err, FL_ESTATE, "%s is out of order (state %d)", operation,
                        (int)server->state);
}

/* Checks a message's round and that its site is in range. */
static int expect_site(const fc_secagg_server *server, uint64_t round, uint16_t site,
                       const char *message, fl_error *err)
{
    if (round != server->params.round)
        return fl_error_set(err, FL_EPROTO, "%s from site %u is for round %" PRIu64
                            ", expected %" PRIu64, message, site, round, server->params.round);
    if (site >= server->params.n_sites)
        return fl_error_set(err, FL_EPROTO, "%s names site %u; site ids run from 0 to %" PRIu32,
                            message, site, server->params.n_sites - 1);
    return FL_OK;
}

/* Fails the round unless at least threshold sites reached a phase. */
static int expect_quorum(fc_secagg_server *server, uint32_t count, const char *what,
                         fl_error *err)
{
    if (count >= server->params.threshold)
        return FL_OK;
    return fail(server, fl_error_set(err, FL_EPROTO,
                                     "only %" PRIu32 " of %" PRIu32 " sites %s, fewer than the "
                                     "threshold %" PRIu32 "; the round failed and no sum is "
                                     "released",
                                     count, server->params.n_sites, what,
                                     server->params.threshold));
}

int fc_secagg_server_add_advertise(fc_secagg_server *server, const fc_msg_advertise *msg,
                                   fl_error *err)
{
    int status = expect_state(server, SERVER_KEYS, "AdvertiseKeys", err);
    if (status == FL_OK)
        status = expect_site(server, msg->round, msg->site, "AdvertiseKeys", err);
    if (status != FL_OK)
        return status;
    if (server->sites[msg->site].advertised)
        return fl_error_set(err, FL_EPROTO, "site %u advertised keys twice", msg->site);
    if (fc_advertise_verify(msg, server->params_digest,
                            server->roster[msg->site].sign_public) != FL_OK)
        return fl_error_set(err, FL_ECRYPTO, "AdvertiseKeys of site %u has an invalid signature "
                            "for this round and its settings", msg->site);

    server->sites[msg->site].advertised = true;
    server->sites[msg->site].advertise = *msg;
    return FL_OK;
}

int fc_secagg_server_key_list(fc_secagg_server *server, fc_msg_key_list *out, fl_error *err)
{
    int status = expect_state(server, SERVER_KEYS, "KeyList", err);
    if (status == FL_OK)
        status = expect_quorum(server, count_sites(server, FLAG_ADVERTISED), "advertised keys", err);
    if (status != FL_OK)
        return status;

    memset(out, 0, sizeof(*out));
    out->round = server->params.round;
    for (uint16_t v = 0; v < server->params.n_sites; v++) {
        if (server->sites[v].advertised)
            out->entries[out->count++] = server->sites[v].advertise;
    }
    fc_session_id(server->session_id, &server->params, out);
    server->state = SERVER_SHARES;
    return FL_OK;
}

int fc_secagg_server_add_shares(fc_secagg_server *server, const fc_msg_shares *msg,
                                fl_error *err)
{
    int status = expect_state(server, SERVER_SHARES, "ShareKeys", err);
    if (status == FL_OK)
        status = expect_site(server, msg->round, msg->site, "ShareKeys", err);
    if (status != FL_OK)
        return status;
    uint16_t sender = msg->site;
    if (!server->sites[sender].advertised || server->sites[sender].shared)
        return fl_error_set(err, FL_EPROTO, "ShareKeys from site %u is not expected (it did not "
                            "advertise keys, or sent shares twice)", sender);

    // Entries must name distinct other advertised sites, and all of them (count below).
    bool covered[FC_SECAGG_MAX_SITES] = {false};
    for (uint16_t i = 0; i < msg->count; i++) {
        uint16_t v = msg->entries[i].peer;
        if (v >= server->params.n_sites || v == sender || !server->sites[v].advertised ||
            covered[v])
            return fl_error_set(err, FL_EPROTO, "ShareKeys from site %u: entry %u is for site "
                                "%u, which is itself, not advertised or repeated", sender, i, v);
        covered[v] = true;
    }
    uint32_t expected = count_sites(server, FLAG_ADVERTISED) - 1;
    if (msg->count != expected)
        return fl_error_set(err, FL_EPROTO, "ShareKeys from site %u carries %u shares, expected "
                            "%" PRIu32 " (one per other advertised site)", sender, msg->count,
                            expected);

    for (uint16_t i = 0; i < msg->count; i++)
        memcpy(ciphertext_at(server, sender, msg->entries[i].peer), msg->entries[i].ciphertext,
               FC_SHARE_CIPHERTEXT_BYTES);
    server->sites[sender].shared = true;
    return FL_OK;
}

int fc_secagg_server_close_shares(fc_secagg_server *server, fl_error *err)
{
    int status = expect_state(server, SERVER_SHARES, "closing ShareKeys", err);
    if (status == FL_OK)
        status = expect_quorum(server, count_sites(server, FLAG_SHARED), "sent shares", err);
    if (status != FL_OK)
        return status;
    server->state = SERVER_INPUTS;
    return FL_OK;
}

int fc_secagg_server_relay(const fc_secagg_server *server, uint16_t recipient,
                           fc_msg_shares *out, fl_error *err)
{
    if (server->state != SERVER_INPUTS)
        return expect_state(server, SERVER_INPUTS, "ShareRelay", err);
    if (recipient >= server->params.n_sites || !server->sites[recipient].shared)
        return fl_error_set(err, FL_EPROTO, "no ShareRelay for site %u: it sent no shares",
                            recipient);

    memset(out, 0, sizeof(*out));
    out->round = server->params.round;
    out->site = recipient;
    for (uint16_t v = 0; v < server->params.n_sites; v++) {
        if (!server->sites[v].shared || v == recipient)
            continue;
        fc_msg_share_entry *entry = &out->entries[out->count++];
        entry->peer = v;
        memcpy(entry->ciphertext, ciphertext_at(server, v, recipient), FC_SHARE_CIPHERTEXT_BYTES);
    }
    return FL_OK;
}

int fc_secagg_server_add_chunk(fc_secagg_server *server, const fc_msg_masked_chunk *chunk,
                               fl_error *err)
{
    int status = expect_state(server, SERVER_INPUTS, "MaskedChunk", err);
    if (status == FL_OK)
        status = expect_site(server, chunk->round, chunk->site, "MaskedChunk", err);
    if (status != FL_OK)
        return status;

    server_site *site = &server->sites[chunk->site];
    uint64_t total = fc_secagg_words(&server->params);
    uint64_t left = total - site->received_words;
    uint64_t expected = left < server->params.chunk_elements ? left : server->params.chunk_elements;
    if (!site->shared)
        return fl_error_set(err, FL_EPROTO, "MaskedChunk from site %u, which sent no shares",
                            chunk->site);
    if (chunk->offset != site->received_words || chunk->count != expected || expected == 0)
        return fl_error_set(err, FL_EPROTO, "MaskedChunk from site %u covers words %" PRIu64
                            "+%" PRIu32 ", expected %" PRIu64 "+%" PRIu64 " (in order, "
                            "chunk_elements each)", chunk->site, chunk->offset, chunk->count,
                            site->received_words, expected);

    uint32_t modulus_mask = server->quant.modulus_mask;
    for (uint32_t i = 0; i < chunk->count; i++) {
        if (chunk->words[i] > modulus_mask)
            return fl_error_set(err, FL_EPROTO, "MaskedChunk from site %u: word %" PRIu64
                                " is %" PRIu32 ", not below the modulus 2^%" PRIu32,
                                chunk->site, chunk->offset + i, chunk->words[i],
                                server->quant.modulus_bits);
    }
    uint32_t *sum = server->sum + chunk->offset;
    for (uint32_t i = 0; i < chunk->count; i++)
        sum[i] += chunk->words[i];
    site->received_words += chunk->count;
    return FL_OK;
}

int fc_secagg_server_close_inputs(fc_secagg_server *server, fc_msg_unmask_request *out,
                                  fl_error *err)
{
    int status = expect_state(server, SERVER_INPUTS, "closing MaskedInput", err);
    if (status != FL_OK)
        return status;

    uint64_t total = fc_secagg_words(&server->params);
    memset(out, 0, sizeof(*out));
    out->round = server->params.round;
    for (uint16_t v = 0; v < server->params.n_sites; v++) {
        server_site *site = &server->sites[v];
        if (!site->shared)
            continue;
        if (site->received_words == total) {
            site->live = true;
            out->live[out->live_count++] = v;
        } else if (site->received_words == 0) {
            out->dropped[out->dropped_count++] = v;
        } else {
            return fail(server, fl_error_set(err, FL_EPROTO,
                                             "site %u sent %" PRIu64 " of %" PRIu64 " words "
                                             "before MaskedInput closed; a partial input "
                                             "cannot be removed from the in-place sum, so the "
                                             "round failed and must start again",
                                             v, site->received_words, total));
        }
    }
    status = expect_quorum(server, out->live_count, "sent their whole masked input", err);
    if (status != FL_OK)
        return status;
    server->state = SERVER_UNMASK;
    return FL_OK;
}

int fc_secagg_server_add_unmask(fc_secagg_server *server, const fc_msg_unmask_response *msg,
                                fl_error *err)
{
    int status = expect_state(server, SERVER_UNMASK, "UnmaskResponse", err);
    if (status == FL_OK)
        status = expect_site(server, msg->round, msg->site, "UnmaskResponse", err);
    if (status != FL_OK)
        return status;
    uint16_t responder = msg->site;
    if (!server->sites[responder].shared || server->sites[responder].responded)
        return fl_error_set(err, FL_EPROTO, "UnmaskResponse from site %u is not expected (it "
                            "holds no shares, or answered twice)", responder);

    bool covered[FC_SECAGG_MAX_SITES] = {false};
    for (uint16_t i = 0; i < msg->count; i++) {
        const fc_msg_unmask_entry *entry = &msg->entries[i];
        uint16_t v = entry->peer;
        if (v >= server->params.n_sites || !server->sites[v].shared || covered[v])
            return fl_error_set(err, FL_EPROTO, "UnmaskResponse from site %u: entry %u names "
                                "site %u, which sent no shares or is repeated", responder, i, v);
        uint8_t expected = server->sites[v].live ? FC_SHARE_SELF_MASK : FC_SHARE_MASK_KEY;
        if (entry->kind != expected)
            return fl_error_set(err, FL_EPROTO, "UnmaskResponse from site %u: share of site %u "
                                "has kind %u, expected %u", responder, v, entry->kind, expected);
        covered[v] = true;
    }
    if (msg->count != count_sites(server, FLAG_SHARED))
        return fl_error_set(err, FL_EPROTO, "UnmaskResponse from site %u carries %u shares, "
                            "expected %" PRIu32, responder, msg->count,
                            count_sites(server, FLAG_SHARED));

    for (uint16_t i = 0; i < msg->count; i++)
        memcpy(unmask_share_at(server, msg->entries[i].peer, responder), msg->entries[i].share,
               FC_SHARE_BYTES);
    server->sites[responder].responded = true;
    return FL_OK;
}

/* Rebuilds a secret of site v from the first threshold responders' shares. */
static int rebuild_secret(fc_secagg_server *server, uint16_t v, uint8_t secret[FC_SHARE_BYTES])
{
    fc_shamir_share *shares = sodium_malloc(server->params.threshold * sizeof(fc_shamir_share));
    if (shares == NULL) {
        fprintf(stderr, "fatal: sodium_malloc failed\n");
        abort();
    }
    uint32_t count = 0;
    for (uint16_t r = 0; r < server->params.n_sites && count < server->params.threshold; r++) {
        if (!server->sites[r].responded)
            continue;
        shares[count].x = (uint8_t)(r + 1);
        memcpy(shares[count].y, unmask_share_at(server, v, r), FC_SHARE_BYTES);
        count++;
    }
    int status = fc_shamir_combine(secret, shares, count);
    sodium_free(shares);
    return status;
}

/* Removes the self mask of live site v from the whole sum. */
static int remove_self_mask(fc_secagg_server *server, uint16_t v, fl_error *err)
{
    uint8_t seed[FC_SHARE_BYTES];
    uint8_t key[FC_MASK_KEY_BYTES];
    int status = rebuild_secret(server, v, seed);
    if (status != FL_OK) {
        fl_error_set(err, status, "rebuilding the self-mask seed of site %u failed", v);
        goto wipe_keys;
    }
    fc_mask_self_key(key, seed, server->session_id, v);
    fc_mask_apply(server->sum, fc_secagg_words(&server->params), 0, key, -1, server->scratch);

wipe_keys:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(key, sizeof(key));
    return status;
}

/* Removes the pairwise masks that live sites share with dropped site v. */
static int remove_pair_masks(fc_secagg_server *server, uint16_t v, fl_error *err)
{
    uint8_t secret[FC_KEY_BYTES];
    uint8_t public_key[FC_KEY_BYTES];
    uint8_t key[FC_MASK_KEY_BYTES];
    int status = rebuild_secret(server, v, secret);
    if (status == FL_OK && (crypto_scalarmult_base(public_key, secret) != 0 ||
                            sodium_memcmp(public_key, server->sites[v].advertise.mask_public,
                                          FC_KEY_BYTES) != 0))
        status = FL_ECRYPTO;
    if (status != FL_OK) {
        fl_error_set(err, status, "the mask key of dropped site %u rebuilt from the shares "
                     "does not match the key it advertised; a share was wrong", v);
        goto wipe_keys;
    }

    // Live site u added +PRG(k_uv) when u < v and -PRG(k_uv) when u > v: undo that.
    for (uint16_t u = 0; u < server->params.n_sites; u++) {
        if (!server->sites[u].live)
            continue;
        status = fc_mask_pair_key(key, secret, server->sites[u].advertise.mask_public,
                                  server->session_id, u, v);
        if (status != FL_OK) {
            fl_error_set(err, status, "mask key agreement of sites %u and %u failed", u, v);
            goto wipe_keys;
        }
        fc_mask_apply(server->sum, fc_secagg_words(&server->params), 0, key, u < v ? -1 : +1,
                      server->scratch);
    }

wipe_keys:
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(key, sizeof(key));
    return status;
}

int fc_secagg_server_finish(fc_secagg_server *server, fl_error *err)
{
    int status = expect_state(server, SERVER_UNMASK, "finish", err);
    if (status == FL_OK)
        status = expect_quorum(server, count_sites(server, FLAG_RESPONDED), "sent unmasking shares",
                               err);
    if (status != FL_OK)
        return status;

    for (uint16_t v = 0; v < server->params.n_sites && status == FL_OK; v++) {
        if (server->sites[v].live)
            status = remove_self_mask(server, v, err);
        else if (server->sites[v].shared)
            status = remove_pair_masks(server, v, err);
    }
    if (status != FL_OK)
        return fail(server, status);

    uint64_t total = fc_secagg_words(&server->params);
    for (uint64_t i = 0; i < total; i++)
        server->sum[i] &= server->quant.modulus_mask;
    server->weight_sum = server->sum[total - 1];
    sodium_memzero(server->unmask_shares,
                   (size_t)server->params.n_sites * server->params.n_sites * FC_SHARE_BYTES);
    server->state = SERVER_FINISHED;
    return FL_OK;
}

const uint32_t *fc_secagg_server_sum(const fc_secagg_server *server)
{
    return server->state == SERVER_FINISHED ? server->sum : NULL;
}

uint64_t fc_secagg_server_weight_sum(const fc_secagg_server *server)
{
    return server->state == SERVER_FINISHED ? server->weight_sum : 0;
}

uint32_t fc_secagg_server_counted(const fc_secagg_server *server, uint16_t *sites)
{
    uint32_t count = 0;
    if (server->state != SERVER_UNMASK && server->state != SERVER_FINISHED)
        return 0;
    for (uint16_t v = 0; v < server->params.n_sites; v++) {
        if (server->sites[v].live)
            sites[count++] = v;
    }
    return count;
}

int fc_secagg_server_mean(const fc_secagg_server *server, float *out, fl_error *err)
{
    if (server->state != SERVER_FINISHED)
        return fl_error_set(err, FL_ESTATE, "no mean: the round has not finished");
    return fc_quant_decode_mean(out, server->sum, server->params.dim, server->weight_sum,
                                &server->quant, err);
}

const fc_quant *fc_secagg_server_quant(const fc_secagg_server *server)
{
    return &server->quant;
}
