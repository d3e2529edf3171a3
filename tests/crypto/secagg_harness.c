/* One-process driver of a secure-aggregation round for the tests. */
#include "secagg_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fc_quant.h"
#include "fl_mem.h"

void harness_init(harness *h, const fc_secagg_params *params, unsigned random_seed)
{
    memset(h, 0, sizeof(*h));
    h->params = *params;
    const uint32_t n = params->n_sites;
    h->identities = fl_xcalloc(n, sizeof(*h->identities));
    h->roster = fl_xcalloc(n, sizeof(*h->roster));
    h->clients = fl_xcalloc(n, sizeof(*h->clients));
    h->values = fl_xcalloc(n, sizeof(*h->values));
    h->weights = fl_xcalloc(n, sizeof(*h->weights));
    h->seeds = fl_xcalloc(n, sizeof(*h->seeds));
    h->drops = fl_xcalloc(n, sizeof(*h->drops));
    h->request = fl_xcalloc(1, sizeof(*h->request));
    h->capture_site = -1;

    srand(random_seed);
    for (uint32_t u = 0; u < n; u++) {
        assert_int_equal(fc_identity_generate(&h->identities[u]), FL_OK);
        fc_identity_public(h->identities[u], &h->roster[u]);
        h->values[u] = fl_xmalloc(params->dim * sizeof(float));
        for (uint64_t i = 0; i < params->dim; i++) {
            double unit = (double)rand() / RAND_MAX * 2.0 - 1.0;
            h->values[u][i] = (float)(1.25 * params->clip_bound * unit);
        }
        h->weights[u] = 1 + (uint32_t)rand() % params->weight_max;
        for (int b = 0; b < 32; b++)
            h->seeds[u][b] = (uint8_t)rand();
    }

    fl_error err = {0};
    for (uint32_t u = 0; u < n; u++)
        assert_int_equal(fc_secagg_client_new(&h->clients[u], params, (uint16_t)u,
                                              h->identities[u], h->roster, &err),
                         FL_OK);
    assert_int_equal(fc_secagg_server_new(&h->server, params, h->roster, &err), FL_OK);
}

void harness_release(harness *h)
{
    for (uint32_t u = 0; u < h->params.n_sites; u++) {
        fc_secagg_client_destroy(&h->clients[u]);
        fc_identity_destroy(&h->identities[u]);
        free(h->values[u]);
    }
    fc_secagg_server_destroy(&h->server);
    free(h->identities);
    free(h->roster);
    free(h->clients);
    free(h->values);
    free(h->weights);
    free(h->seeds);
    free(h->drops);
    free(h->captured);
    free(h->request);
}

int harness_counts(const harness *h, uint16_t site)
{
    return h->drops[site] == KEEP || h->drops[site] == DROP_AFTER_INPUT;
}

/* Each helper below encodes a message and decodes it into *out, as the network would. */
static void carry_advertise(fc_msg_advertise *out, const fc_msg_advertise *msg)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    fl_error err = {0};
    assert_int_equal(fc_msg_advertise_encode(msg, &bytes, &size), FL_OK);
    assert_int_equal(fc_msg_peek_type(bytes, size), FC_MSG_ADVERTISE);
    assert_int_equal(fc_msg_advertise_decode(out, bytes, size, &err), FL_OK);
    free(bytes);
}

static void carry_key_list(fc_msg_key_list *out, const fc_msg_key_list *msg)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    fl_error err = {0};
    assert_int_equal(fc_msg_key_list_encode(msg, &bytes, &size), FL_OK);
    assert_int_equal(fc_msg_key_list_decode(out, bytes, size, &err), FL_OK);
    free(bytes);
}

static void carry_shares(fc_msg_shares *out, const fc_msg_shares *msg, fc_msg_type type)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    fl_error err = {0};
    assert_int_equal(fc_msg_shares_encode(msg, type, &bytes, &size), FL_OK);
    assert_int_equal(fc_msg_shares_decode(out, type, bytes, size, &err), FL_OK);
    free(bytes);
}

static void carry_chunk(fc_msg_masked_chunk *out, uint32_t *words, size_t capacity,
                        const fc_msg_masked_chunk *msg)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    fl_error err = {0};
    assert_int_equal(fc_msg_masked_chunk_encode(msg, &bytes, &size), FL_OK);
    assert_int_equal(fc_msg_masked_chunk_decode(out, words, capacity, bytes, size, &err), FL_OK);
    free(bytes);
}

static void carry_request(fc_msg_unmask_request *out, const fc_msg_unmask_request *msg)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    fl_error err = {0};
    assert_int_equal(fc_msg_unmask_request_encode(msg, &bytes, &size), FL_OK);
    assert_int_equal(fc_msg_unmask_request_decode(out, bytes, size, &err), FL_OK);
    free(bytes);
}

static void carry_response(fc_msg_unmask_response *out, const fc_msg_unmask_response *msg)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    fl_error err = {0};
    assert_int_equal(fc_msg_unmask_response_encode(msg, &bytes, &size), FL_OK);
    assert_int_equal(fc_msg_unmask_response_decode(out, bytes, size, &err), FL_OK);
    free(bytes);
}

/* Sends every chunk of the sites that upload, one chunk per site in turn. */
static void upload_inputs(harness *h)
{
    const uint32_t n = h->params.n_sites;
    fl_error err = {0};
    uint32_t *words = fl_xmalloc(h->params.chunk_elements * sizeof(uint32_t));
    if (h->capture_site >= 0)
        h->captured = fl_xmalloc(fc_secagg_words(&h->params) * sizeof(uint32_t));

    for (uint64_t c = 0; c < fc_secagg_chunks(&h->params); c++) {
        for (uint16_t u = 0; u < n; u++) {
            if (!harness_counts(h, u))
                continue;
            fc_msg_masked_chunk chunk;
            fc_msg_masked_chunk received;
            assert_int_equal(fc_secagg_client_next_chunk(h->clients[u], &chunk, &err), 1);
            carry_chunk(&received, words, h->params.chunk_elements, &chunk);
            if (u == h->capture_site)
                memcpy(h->captured + received.offset, received.words, received.count * 4);
            assert_int_equal(fc_secagg_server_add_chunk(h->server, &received, &err), FL_OK);
        }
    }
    for (uint16_t u = 0; u < n; u++) {
        fc_msg_masked_chunk chunk;
        if (harness_counts(h, u))
            assert_int_equal(fc_secagg_client_next_chunk(h->clients[u], &chunk, &err), 0);
    }
    free(words);
}

int harness_prepare_inputs(harness *h, fl_error *err)
{
    const uint32_t n = h->params.n_sites;
    fc_msg_key_list *keys = fl_xmalloc(sizeof(*keys));
    fc_msg_key_list *keys_received = fl_xmalloc(sizeof(*keys_received));
    fc_msg_shares *shares = fl_xmalloc(sizeof(*shares));
    fc_msg_shares *shares_received = fl_xmalloc(sizeof(*shares_received));
    fl_error client_err = {0};
    int status;

    // AdvertiseKeys
    for (uint16_t u = 0; u < n; u++) {
        if (h->drops[u] == DROP_BEFORE_ADVERTISE)
            continue;
        fc_msg_advertise advertise;
        fc_msg_advertise advertise_received;
        assert_int_equal(fc_secagg_client_advertise(h->clients[u], &advertise, &client_err),
                         FL_OK);
        carry_advertise(&advertise_received, &advertise);
        assert_int_equal(fc_secagg_server_add_advertise(h->server, &advertise_received, err),
                         FL_OK);
    }
    status = fc_secagg_server_key_list(h->server, keys, err);
    if (status != FL_OK)
        goto free_messages;
    carry_key_list(keys_received, keys);

    // ShareKeys
    for (uint16_t u = 0; u < n; u++) {
        if (h->drops[u] == DROP_BEFORE_ADVERTISE || h->drops[u] == DROP_BEFORE_SHARES)
            continue;
        assert_int_equal(fc_secagg_client_share_keys(h->clients[u], keys_received, shares,
                                                     &client_err),
                         FL_OK);
        carry_shares(shares_received, shares, FC_MSG_SHARE_KEYS);
        assert_int_equal(fc_secagg_server_add_shares(h->server, shares_received, err), FL_OK);
    }
    status = fc_secagg_server_close_shares(h->server, err);
    if (status != FL_OK)
        goto free_messages;

    // ShareRelay, then each uploading site sets its input.
    for (uint16_t u = 0; u < n; u++) {
        if (!harness_counts(h, u))
            continue;
        assert_int_equal(fc_secagg_server_relay(h->server, u, shares, err), FL_OK);
        carry_shares(shares_received, shares, FC_MSG_SHARE_RELAY);
        assert_int_equal(fc_secagg_client_receive_shares(h->clients[u], shares_received,
                                                         &client_err),
                         FL_OK);
        assert_int_equal(fc_secagg_client_set_input(h->clients[u], h->values[u], h->weights[u],
                                                    h->seeds[u], &client_err),
                         FL_OK);
    }

free_messages:
    free(keys);
    free(keys_received);
    free(shares);
    free(shares_received);
    return status;
}

int harness_run(harness *h, fl_error *err)
{
    const uint32_t n = h->params.n_sites;
    fc_msg_unmask_response *response = fl_xmalloc(sizeof(*response));
    fc_msg_unmask_response *response_received = fl_xmalloc(sizeof(*response_received));
    fc_msg_unmask_request request_received;
    fl_error client_err = {0};

    int status = harness_prepare_inputs(h, err);
    if (status != FL_OK)
        goto free_messages;

    // MaskedInput
    upload_inputs(h);
    status = fc_secagg_server_close_inputs(h->server, h->request, err);
    if (status != FL_OK)
        goto free_messages;
    carry_request(&request_received, h->request);

    // Unmasking
    for (uint16_t u = 0; u < n; u++) {
        if (h->drops[u] != KEEP)
            continue;
        assert_int_equal(fc_secagg_client_unmask(h->clients[u], &request_received, response,
                                                 &client_err),
                         FL_OK);
        carry_response(response_received, response);
        assert_int_equal(fc_secagg_server_add_unmask(h->server, response_received, err), FL_OK);
    }
    status = fc_secagg_server_finish(h->server, err);

free_messages:
    free(response);
    free(response_received);
    return status;
}

void harness_expected_sum(const harness *h, uint32_t *expected)
{
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_secagg_params_validate(&h->params, &q, &err), FL_OK);
    const uint64_t dim = h->params.dim;
    uint32_t *encoded = fl_xmalloc(dim * sizeof(uint32_t));
    memset(expected, 0, (dim + 1) * sizeof(uint32_t));
    for (uint16_t u = 0; u < h->params.n_sites; u++) {
        if (!harness_counts(h, u))
            continue;
        uint64_t clipped = 0;
        assert_int_equal(fc_quant_encode(encoded, &clipped, h->values[u], dim, 0, h->weights[u],
                                         h->seeds[u], &q, &err),
                         FL_OK);
        for (uint64_t i = 0; i < dim; i++)
            expected[i] = (expected[i] + encoded[i]) & q.modulus_mask;
        expected[dim] = (expected[dim] + h->weights[u]) & q.modulus_mask;
    }
    free(encoded);
}

double harness_expected_mean(const harness *h, uint64_t i)
{
    double total = 0;
    double weight_sum = 0;
    double bound = h->params.clip_bound;
    for (uint16_t u = 0; u < h->params.n_sites; u++) {
        if (!harness_counts(h, u))
            continue;
        double x = h->values[u][i];
        x = x > bound ? bound : (x < -bound ? -bound : x);
        total += h->weights[u] * x;
        weight_sum += h->weights[u];
    }
    return total / weight_sum;
}
