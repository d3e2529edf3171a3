/* Site state machine of secure aggregation: keys, shares, masked chunks, unmasking. */
#include "fc_secagg_client.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_mask.h"
#include "fc_quant.h"
#include "fc_shamir.h"
#include "fl_mem.h"

typedef enum client_state {
    CLIENT_NEW,
    CLIENT_ADVERTISED,
    CLIENT_SHARED,
    CLIENT_READY,
    CLIENT_SENDING,
    CLIENT_SENT,
    CLIENT_FAILED,
} client_state;

/* Secrets of one round, kept together in guarded memory. */
typedef struct client_secrets {
    uint8_t share_secret[FC_KEY_BYTES]; /* c_u: decrypts shares sent to this site */
    uint8_t mask_secret[FC_KEY_BYTES];  /* s_u: agrees pairwise masks */
    uint8_t self_seed[FC_SHARE_BYTES];  /* b_u: seeds the self mask */
    uint8_t self_key[FC_MASK_KEY_BYTES];
    uint8_t rounding_seed[FC_QUANT_SEED_BYTES];
} client_secrets;

/* This site's record of each site of the roster, itself included. */
typedef struct client_peer {
    bool advertised;   /* listed in the KeyList (U1 in Bonawitz et al.) */
    bool shared;       /* sent shares to this site, or is this site (U2 in Bonawitz et al.) */
    uint8_t revealed;  /* fc_share_kind revealed for it, or 0 */
    uint8_t share_public[FC_KEY_BYTES];
    uint8_t mask_public[FC_KEY_BYTES];
} client_peer;

/* Per-site secrets: the shares this site received and the pairwise mask keys. */
typedef struct client_peer_secrets {
    uint8_t mask_key_share[FC_SHARE_BYTES];
    uint8_t self_mask_share[FC_SHARE_BYTES];
    uint8_t pair_key[FC_MASK_KEY_BYTES];
} client_peer_secrets;

struct fc_secagg_client {
    fc_secagg_params params;
    fc_quant quant;
    uint8_t params_digest[32];
    uint16_t site;
    const fc_identity *identity;
    fc_public_identity *roster;
    client_state state;

    uint8_t share_public[FC_KEY_BYTES];
    uint8_t mask_public[FC_KEY_BYTES];
    uint8_t session_id[FC_SESSION_ID_BYTES];
    client_secrets *secrets;
    client_peer *peers;
    client_peer_secrets *peer_secrets;

    const float *values;
    uint32_t weight;
    uint64_t next_word;
    uint64_t clipped;
    uint32_t *chunk;
    uint32_t *scratch;
};

static void *guarded_alloc(size_t size)
{
    void *memory = sodium_malloc(size);
    if (memory == NULL) {
        fprintf(stderr, "fatal: sodium_malloc(%zu) failed\n", size);
        abort();
    }
    sodium_memzero(memory, size);
    return memory;
}

int fc_secagg_client_new(fc_secagg_client **out, const fc_secagg_params *params,
                         uint16_t site, const fc_identity *identity,
                         const fc_public_identity *roster, fl_error *err)
{
    fc_quant quant;
    int status = fc_secagg_params_validate(params, &quant, err);
    if (status != FL_OK)
        return status;
    if (site >= params->n_sites)
        return fl_error_set(err, FL_EINVAL, "site is %u; site ids run from 0 to %" PRIu32,
                            site, params->n_sites - 1);

    fc_secagg_client *client = fl_xcalloc(1, sizeof(*client));
    client->params = *params;
    client->quant = quant;
    fc_secagg_params_digest(client->params_digest, params);
    client->site = site;
    client->identity = identity;
    client->roster = fl_xmalloc(params->n_sites * sizeof(*client->roster));
    memcpy(client->roster, roster, params->n_sites * sizeof(*client->roster));
    client->state = CLIENT_NEW;
    client->secrets = guarded_alloc(sizeof(*client->secrets));
    client->peers = fl_xcalloc(params->n_sites, sizeof(*client->peers));
    client->peer_secrets = guarded_alloc(params->n_sites * sizeof(*client->peer_secrets));
    client->chunk = fl_xmalloc((size_t)params->chunk_elements * sizeof(uint32_t));
    client->scratch = fl_xmalloc(FC_MASK_SCRATCH_WORDS * sizeof(uint32_t));
    *out = client;
    return FL_OK;
}

void fc_secagg_client_destroy(fc_secagg_client **client)
{
    if (client == NULL || *client == NULL)
        return;
    fc_secagg_client *c = *client;
    sodium_free(c->secrets);
    sodium_free(c->peer_secrets);
    sodium_memzero(c->chunk, (size_t)c->params.chunk_elements * sizeof(uint32_t));
    free(c->chunk);
    free(c->scratch);
    free(c->peers);
    free(c->roster);
    free(c);
    *client = NULL;
}

/* Moves the client to the failed state and passes status through. */
static int fail(fc_secagg_client *client, int status)
{
    client->state = CLIENT_FAILED;
    sodium_memzero(client->secrets, sizeof(*client->secrets));
    sodium_memzero(client->peer_secrets,
                   client->params.n_sites * sizeof(*client->peer_secrets));
    return status;
}

static int expect_state(const fc_secagg_client *client, client_state expected,
                        const char *operation, fl_error *err)
{
    if (client->state == expected)
        return FL_OK;
    if (client->state == CLIENT_FAILED)
        return fl_error_set(err, FL_ESTATE, "site %u: %s after the round failed; start a new "
                            "round", client->site, operation);
    return fl_error_set(err, FL_ESTATE, "site %u: %s is out of order (state %d)", client->site,
                        operation, (int)client->state);
}

static int expect_round(const fc_secagg_client *client, uint64_t round, const char *message,
                        fl_error *err)
{
    if (round == client->params.round)
        return FL_OK;
    return fl_error_set(err, FL_EPROTO, "site %u: %s is for round %" PRIu64 ", expected %"
                        PRIu64, client->site, message, round, client->params.round);
}

int fc_secagg_client_advertise(fc_secagg_client *client, fc_msg_advertise *out, fl_error *err)
{
    int status = expect_state(client, CLIENT_NEW, "advertise", err);
    if (status != FL_OK)
        return status;

    client_secrets *secrets = client->secrets;
    randombytes_buf(secrets->share_secret, FC_KEY_BYTES);
    randombytes_buf(secrets->mask_secret, FC_KEY_BYTES);
    randombytes_buf(secrets->self_seed, FC_SHARE_BYTES);
    if (crypto_scalarmult_base(client->share_public, secrets->share_secret) != 0 ||
        crypto_scalarmult_base(client->mask_public, secrets->mask_secret) != 0)
        return fail(client, fl_error_set(err, FL_ECRYPTO, "site %u: key generation failed",
                                         client->site));

    memset(out, 0, sizeof(*out));
    out->round = client->params.round;
    out->site = client->site;
    memcpy(out->share_public, client->share_public, FC_KEY_BYTES);
    memcpy(out->mask_public, client->mask_public, FC_KEY_BYTES);
    fc_advertise_sign(out, client->params_digest, client->identity);
    client->state = CLIENT_ADVERTISED;
    return FL_OK;
}

/* Checks the KeyList entries and records the advertised keys of each site. */
static int accept_key_list(fc_secagg_client *client, const fc_msg_key_list *keys,
                           fl_error *err)
{
    const fc_secagg_params *params = &client->params;
    bool self_listed = false;
    for (uint16_t i = 0; i < keys->count; i++) {
        const fc_msg_advertise *entry = &keys->entries[i];
        if (entry->site >= params->n_sites || (i > 0 && entry->site <= keys->entries[i - 1].site))
            return fl_error_set(err, FL_EPROTO, "site %u: KeyList entry %u names site %u, out "
                                "of range or out of increasing order", client->site, i,
                                entry->site);
        if (fc_advertise_verify(entry, client->params_digest,
                                client->roster[entry->site].sign_public) != FL_OK)
            return fl_error_set(err, FL_ECRYPTO, "site %u: KeyList entry of site %u has an "
                                "invalid signature for this round and its settings",
                                client->site, entry->site);
        if (entry->site == client->site) {
            if (memcmp(entry->share_public, client->share_public, FC_KEY_BYTES) != 0 ||
                memcmp(entry->mask_public, client->mask_public, FC_KEY_BYTES) != 0)
                return fl_error_set(err, FL_EPROTO, "site %u: KeyList carries other keys for "
                                    "this site than it advertised", client->site);
            self_listed = true;
        }
        client_peer *peer = &client->peers[entry->site];
        peer->advertised = true;
        memcpy(peer->share_public, entry->share_public, FC_KEY_BYTES);
        memcpy(peer->mask_public, entry->mask_public, FC_KEY_BYTES);
    }
    if (!self_listed)
        return fl_error_set(err, FL_EPROTO, "site %u: KeyList does not list this site",
                            client->site);
    if (keys->count < params->threshold)
        return fl_error_set(err, FL_EPROTO, "site %u: only %u sites advertised keys, fewer "
                            "than the threshold %" PRIu32, client->site, keys->count,
                            params->threshold);
    return FL_OK;
}

/* Splits s_u and b_u into one share per site id and encrypts each to its site. */
static int encrypt_shares(fc_secagg_client *client, fc_msg_shares *out, fl_error *err)
{
    const uint32_t n = client->params.n_sites;
    fc_shamir_share *mask_key_shares = guarded_alloc(n * sizeof(fc_shamir_share));
    fc_shamir_share *self_mask_shares = guarded_alloc(n * sizeof(fc_shamir_share));
    uint8_t key[FC_MASK_KEY_BYTES];
    int status = fc_shamir_split(mask_key_shares, client->secrets->mask_secret,
                                 client->params.threshold, n);
    if (status == FL_OK)
        status = fc_shamir_split(self_mask_shares, client->secrets->self_seed,
                                 client->params.threshold, n);
    if (status != FL_OK) {
        fl_error_set(err, status, "site %u: splitting keys into shares failed", client->site);
        goto wipe_shares;
    }

    memset(out, 0, sizeof(*out));
    out->round = client->params.round;
    out->site = client->site;
    for (uint16_t v = 0; v < n; v++) {
        if (!client->peers[v].advertised)
            continue;
        if (v == client->site) {
            memcpy(client->peer_secrets[v].mask_key_share, mask_key_shares[v].y, FC_SHARE_BYTES);
            memcpy(client->peer_secrets[v].self_mask_share, self_mask_shares[v].y,
                   FC_SHARE_BYTES);
            continue;
        }
        status = fc_share_key(key, client->secrets->share_secret, client->peers[v].share_public,
                              client->session_id, client->site, v);
        if (status != FL_OK) {
            fl_error_set(err, status, "site %u: key agreement with site %u failed",
                         client->site, v);
            goto wipe_shares;
        }
        fc_msg_share_entry *entry = &out->entries[out->count++];
        entry->peer = v;
        fc_share_encrypt(entry->ciphertext, mask_key_shares[v].y, self_mask_shares[v].y, key,
                         client->session_id, client->site, v);
    }

wipe_shares:
    sodium_memzero(key, sizeof(key));
    sodium_free(mask_key_shares);
    sodium_free(self_mask_shares);
    return status;
}

int fc_secagg_client_share_keys(fc_secagg_client *client, const fc_msg_key_list *keys,
                                fc_msg_shares *out, fl_error *err)
{
    int status = expect_state(client, CLIENT_ADVERTISED, "share keys", err);
    if (status != FL_OK)
        return status;
    status = expect_round(client, keys->round, "KeyList", err);
    if (status == FL_OK)
        status = accept_key_list(client, keys, err);
    if (status != FL_OK)
        return fail(client, status);

    fc_session_id(client->session_id, &client->params, keys);
    status = encrypt_shares(client, out, err);
    if (status != FL_OK)
        return fail(client, status);
    client->state = CLIENT_SHARED;
    return FL_OK;
}

/* Decrypts one relayed ciphertext into the shares held for its sender. */
static int accept_share(fc_secagg_client *client, const fc_msg_share_entry *entry,
                        fl_error *err)
{
    uint16_t sender = entry->peer;
    if (sender >= client->params.n_sites || sender == client->site ||
        !client->peers[sender].advertised || client->peers[sender].shared)
        return fl_error_set(err, FL_EPROTO, "site %u: ShareRelay entry from site %u is not "
                            "expected (unknown, itself, not advertised or repeated)",
                            client->site, sender);

    uint8_t key[FC_MASK_KEY_BYTES];
    int status = fc_share_key(key, client->secrets->share_secret,
                              client->peers[sender].share_public, client->session_id, sender,
                              client->site);
    if (status == FL_OK) {
        client_peer_secrets *held = &client->peer_secrets[sender];
        status = fc_share_decrypt(held->mask_key_share, held->self_mask_share, entry->ciphertext,
                                  key, client->session_id, sender, client->site);
    }
    sodium_memzero(key, sizeof(key));
    if (status != FL_OK)
        return fl_error_set(err, FL_ECRYPTO, "site %u: shares from site %u failed to "
                            "authenticate (altered, or made for another session)",
                            client->site, sender);
    client->peers[sender].shared = true;
    return FL_OK;
}

int fc_secagg_client_receive_shares(fc_secagg_client *client, const fc_msg_shares *relay,
                                    fl_error *err)
{
    int status = expect_state(client, CLIENT_SHARED, "receive shares", err);
    if (status != FL_OK)
        return status;
    status = expect_round(client, relay->round, "ShareRelay", err);
    if (status == FL_OK && relay->site != client->site)
        status = fl_error_set(err, FL_EPROTO, "site %u: ShareRelay is addressed to site %u",
                              client->site, relay->site);
    for (uint16_t i = 0; status == FL_OK && i < relay->count; i++)
        status = accept_share(client, &relay->entries[i], err);
    if (status != FL_OK)
        return fail(client, status);

    client->peers[client->site].shared = true;
    uint32_t shared = 0;
    for (uint16_t v = 0; v < client->params.n_sites; v++)
        shared += client->peers[v].shared;
    if (shared < client->params.threshold)
        return fail(client, fl_error_set(err, FL_EPROTO, "site %u: only %" PRIu32 " sites "
                                         "shared keys, fewer than the threshold %" PRIu32,
                                         client->site, shared, client->params.threshold));

    for (uint16_t v = 0; v < client->params.n_sites; v++) {
        if (!client->peers[v].shared || v == client->site)
            continue;
        status = fc_mask_pair_key(client->peer_secrets[v].pair_key, client->secrets->mask_secret,
                                  client->peers[v].mask_public, client->session_id,
                                  client->site, v);
        if (status != FL_OK)
            return fail(client, fl_error_set(err, status, "site %u: mask key agreement with "
                                             "site %u failed", client->site, v));
    }
    fc_mask_self_key(client->secrets->self_key, client->secrets->self_seed, client->session_id,
                     client->site);
    client->state = CLIENT_READY;
    return FL_OK;
}

int fc_secagg_client_set_input(fc_secagg_client *client, const float *values, uint32_t weight,
                               const uint8_t *rounding_seed, fl_error *err)
{
    int status = expect_state(client, CLIENT_READY, "set input", err);
    if (status != FL_OK)
        return status;
    if (weight > client->params.weight_max)
        return fl_error_set(err, FL_ERANGE, "site %u: weight %" PRIu32 " exceeds weight_max %"
                            PRIu32 "; cap it first", client->site, weight,
                            client->params.weight_max);

    client->values = values;
    client->weight = weight;
    client->next_word = 0;
    client->clipped = 0;
    if (rounding_seed != NULL)
        memcpy(client->secrets->rounding_seed, rounding_seed, FC_QUANT_SEED_BYTES);
    else
        randombytes_buf(client->secrets->rounding_seed, FC_QUANT_SEED_BYTES);
    client->state = CLIENT_SENDING;
    return FL_OK;
}

/* Quantises words first..first+count-1 (values, then the weight) into the chunk buffer. */
static int encode_chunk(fc_secagg_client *client, uint64_t first, uint32_t count, fl_error *err)
{
    uint64_t dim = client->params.dim;
    uint32_t value_count = first >= dim ? 0 : (uint32_t)(dim - first < count ? dim - first : count);
    int status = fc_quant_encode(client->chunk, &client->clipped, client->values + first,
                                 value_count, first, client->weight,
                                 client->secrets->rounding_seed, &client->quant, err);
    if (status != FL_OK)
        return status;
    if (value_count < count)
        client->chunk[value_count] = client->weight;
    return FL_OK;
}

int fc_secagg_client_next_chunk(fc_secagg_client *client, fc_msg_masked_chunk *out,
                                fl_error *err)
{
    if (client->state == CLIENT_SENT)
        return 0;
    int status = expect_state(client, CLIENT_SENDING, "next chunk", err);
    if (status != FL_OK)
        return status;

    uint64_t total = fc_secagg_words(&client->params);
    uint64_t first = client->next_word;
    uint32_t count = (uint32_t)(total - first < client->params.chunk_elements
                                    ? total - first
                                    : client->params.chunk_elements);
    status = encode_chunk(client, first, count, err);
    if (status != FL_OK)
        return fail(client, fl_error_prefix(err, "site %u: ", client->site));

    // Self mask, then +PRG(k_uv) towards higher site ids and -PRG(k_uv) towards lower ones.
    fc_mask_apply(client->chunk, count, first, client->secrets->self_key, +1, client->scratch);
    for (uint16_t v = 0; v < client->params.n_sites; v++) {
        if (!client->peers[v].shared || v == client->site)
            continue;
        fc_mask_apply(client->chunk, count, first, client->peer_secrets[v].pair_key,
                      client->site < v ? +1 : -1, client->scratch);
    }
    uint32_t modulus_mask = client->quant.modulus_mask;
    for (uint32_t i = 0; i < count; i++)
        client->chunk[i] &= modulus_mask;

    out->round = client->params.round;
    out->site = client->site;
    out->offset = first;
    out->count = count;
    out->words = client->chunk;
    client->next_word = first + count;
    if (client->next_word == total)
        client->state = CLIENT_SENT;
    return 1;
}

uint64_t fc_secagg_client_clipped(const fc_secagg_client *client)
{
    return client->clipped;
}

/*
 * Marks in wanted[v] the share kind the request expects for site v, and
 * rejects a request that expects both kinds for one site.
 */
static int read_request(const fc_secagg_client *client, const fc_msg_unmask_request *request,
                        uint8_t *wanted, fl_error *err)
{
    const uint16_t *lists[2] = {request->live, request->dropped};
    const uint16_t counts[2] = {request->live_count, request->dropped_count};
    const uint8_t kinds[2] = {FC_SHARE_SELF_MASK, FC_SHARE_MASK_KEY};
    for (int list = 0; list < 2; list++) {
        for (uint16_t i = 0; i < counts[list]; i++) {
            uint16_t v = lists[list][i];
            if (v >= client->params.n_sites || !client->peers[v].shared)
                return fl_error_set(err, FL_EPROTO, "site %u: UnmaskRequest names site %u, "
                                    "which did not share keys", client->site, v);
            if (wanted[v] == kinds[list])
                return fl_error_set(err, FL_EPROTO, "site %u: UnmaskRequest lists site %u "
                                    "twice", client->site, v);
            if (wanted[v] != 0)
                return fl_error_set(err, FL_EPERM, "site %u: rejected UnmaskRequest that lists "
                                    "site %u as both live and dropped; both of its shares "
                                    "together would expose its input", client->site, v);
            wanted[v] = kinds[list];
        }
    }
    return FL_OK;
}

/* Checks the request against this site's records and the shares it revealed before. */
static int check_request(const fc_secagg_client *client, const fc_msg_unmask_request *request,
                         const uint8_t *wanted, fl_error *err)
{
    for (uint16_t v = 0; v < client->params.n_sites; v++) {
        if (client->peers[v].shared && wanted[v] == 0)
            return fl_error_set(err, FL_EPROTO, "site %u: UnmaskRequest omits site %u, which "
                                "shared keys", client->site, v);
        if (client->peers[v].revealed != 0 && client->peers[v].revealed != wanted[v])
            return fl_error_set(err, FL_EPERM, "site %u: rejected UnmaskRequest asking for the "
                                "other share of site %u than was already revealed",
                                client->site, v);
    }
    if (request->live_count < client->params.threshold)
        return fl_error_set(err, FL_EPROTO, "site %u: UnmaskRequest lists %u live sites, fewer "
                            "than the threshold %" PRIu32, client->site, request->live_count,
                            client->params.threshold);

    bool started = client->state == CLIENT_SENT ||
                   (client->state == CLIENT_SENDING && client->next_word > 0);
    if (wanted[client->site] == FC_SHARE_MASK_KEY && started)
        return fl_error_set(err, FL_EPERM, "site %u: rejected UnmaskRequest that lists this "
                            "site as dropped after it sent masked input", client->site);
    if (wanted[client->site] == FC_SHARE_SELF_MASK && client->state != CLIENT_SENT)
        return fl_error_set(err, FL_EPROTO, "site %u: UnmaskRequest lists this site as live, "
                            "but it did not finish sending its input", client->site);
    return FL_OK;
}

int fc_secagg_client_unmask(fc_secagg_client *client, const fc_msg_unmask_request *request,
                            fc_msg_unmask_response *out, fl_error *err)
{
    if (client->state != CLIENT_READY && client->state != CLIENT_SENDING &&
        client->state != CLIENT_SENT)
        return expect_state(client, CLIENT_SENT, "unmask", err);
    int status = expect_round(client, request->round, "UnmaskRequest", err);
    if (status != FL_OK)
        return status;

    uint8_t wanted[FC_SECAGG_MAX_SITES] = {0};
    status = read_request(client, request, wanted, err);
    if (status == FL_OK)
        status = check_request(client, request, wanted, err);
    if (status != FL_OK)
        return status;

    memset(out, 0, sizeof(*out));
    out->round = client->params.round;
    out->site = client->site;
    for (uint16_t v = 0; v < client->params.n_sites; v++) {
        if (wanted[v] == 0)
            continue;
        fc_msg_unmask_entry *entry = &out->entries[out->count++];
        entry->peer = v;
        entry->kind = wanted[v];
        const client_peer_secrets *held = &client->peer_secrets[v];
        memcpy(entry->share,
               wanted[v] == FC_SHARE_SELF_MASK ? held->self_mask_share : held->mask_key_share,
               FC_SHARE_BYTES);
        client->peers[v].revealed = wanted[v];
    }
    return FL_OK;
}
