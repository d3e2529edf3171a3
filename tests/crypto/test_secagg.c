/* Tests of the secure-aggregation protocol: exact sums, dropouts and privacy rules. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fc_keys.h"
#include "fc_secagg_client.h"
#include "fc_secagg_params.h"
#include "fc_secagg_server.h"
#include "fl_mem.h"
#include "secagg_harness.h"

static int init_sodium(void **state)
{
    (void)state;
    return fc_init() == FL_OK ? 0 : -1;
}

static fc_secagg_params default_params(uint32_t n_sites, uint32_t threshold, uint64_t dim)
{
    fc_secagg_params params = {
        .round = 42,
        .n_sites = n_sites,
        .threshold = threshold,
        .expected_survivors = threshold,
        .dim = dim,
        .chunk_elements = 512,
        .bits = 16,
        .clip_bound = 0.5,
        .weight_max = 64,
    };
    return params;
}

/* Checks the sum bit for bit and the weighted mean within one quantisation step. */
static void check_result(const harness *h)
{
    const uint64_t dim = h->params.dim;
    const uint32_t *sum = fc_secagg_server_sum(h->server);
    assert_non_null(sum);
    uint32_t *expected = fl_xmalloc((dim + 1) * sizeof(uint32_t));
    harness_expected_sum(h, expected);
    uint64_t mismatches = 0;
    for (uint64_t i = 0; i <= dim; i++)
        mismatches += sum[i] != expected[i];
    if (mismatches != 0)
        fail_msg("%llu of %llu summed words differ from the plain sum",
                 (unsigned long long)mismatches, (unsigned long long)dim + 1);
    assert_int_equal(fc_secagg_server_weight_sum(h->server), expected[dim]);

    float *mean = fl_xmalloc(dim * sizeof(float));
    fl_error err = {0};
    assert_int_equal(fc_secagg_server_mean(h->server, mean, &err), FL_OK);
    double max_difference = 0;
    for (uint64_t i = 0; i < dim; i++) {
        double difference = fabs(mean[i] - harness_expected_mean(h, i));
        max_difference = difference > max_difference ? difference : max_difference;
    }
    double step = fc_quant_step(fc_secagg_server_quant(h->server));
    printf("n=%u dim=%llu: sum exact, mean max difference %.3g (step %.3g)\n",
           h->params.n_sites, (unsigned long long)dim, max_difference, step);
    assert_true(max_difference <= step);
    free(mean);
    free(expected);
}

/* Checks that the server names exactly the sites whose input should count. */
static void check_counted(const harness *h)
{
    uint16_t sites[FC_SECAGG_MAX_SITES];
    uint32_t count = fc_secagg_server_counted(h->server, sites);
    uint32_t expected = 0;
    for (uint16_t u = 0; u < h->params.n_sites; u++) {
        if (!harness_counts(h, u))
            continue;
        assert_true(expected < count);
        assert_int_equal(sites[expected], u);
        expected++;
    }
    assert_int_equal(count, expected);
}

static void test_exact_sum_for_many_site_counts(void **state)
{
    (void)state;
    static const uint32_t site_counts[] = {3, 4, 5, 7, 10, 16, 31, 64};
    for (size_t k = 0; k < sizeof(site_counts) / sizeof(site_counts[0]); k++) {
        uint32_t n = site_counts[k];
        fc_secagg_params params = default_params(n, n / 2 + 1, 1500);
        params.weight_max = 16;
        harness h;
        harness_init(&h, &params, 100 + n);
        fl_error err = {0};
        assert_int_equal(harness_run(&h, &err), FL_OK);
        check_result(&h);
        check_counted(&h);
        harness_release(&h);
    }
}

static void test_exact_sum_million_elements(void **state)
{
    (void)state;
    fc_secagg_params params = default_params(3, 2, 1000000);
    params.chunk_elements = 65536;
    params.weight_max = 1000;
    harness h;
    harness_init(&h, &params, 5);
    fl_error err = {0};
    assert_int_equal(harness_run(&h, &err), FL_OK);
    check_result(&h);
    harness_release(&h);
}

/* Chunk edges: the weight word alone in the last chunk, or filling the last chunk exactly. */
static void test_weight_at_chunk_edges(void **state)
{
    (void)state;
    static const uint64_t dims[] = {1024, 1023, 1, 16};
    for (size_t k = 0; k < sizeof(dims) / sizeof(dims[0]); k++) {
        fc_secagg_params params = default_params(4, 3, dims[k]);
        params.chunk_elements = 16;
        if (dims[k] >= 1000)
            params.chunk_elements = 512;
        harness h;
        harness_init(&h, &params, 31);
        fl_error err = {0};
        assert_int_equal(harness_run(&h, &err), FL_OK);
        check_result(&h);
        harness_release(&h);
    }
}

static void test_weight_above_cap_rejected(void **state)
{
    (void)state;
    fc_secagg_params params = default_params(3, 2, 100);
    params.chunk_elements = 64;
    harness h;
    harness_init(&h, &params, 2);
    h.drops[0] = DROP_AFTER_SHARES;
    h.drops[1] = DROP_AFTER_SHARES;
    h.drops[2] = DROP_AFTER_SHARES;
    fl_error err = {0};
    assert_int_equal(harness_prepare_inputs(&h, &err), FL_OK);
    // No site uploads in this setup, so site 0's client is still ready for its input.
    fc_secagg_client *client = h.clients[0];
    fc_msg_shares *relay = fl_xmalloc(sizeof(*relay));
    assert_int_equal(fc_secagg_server_relay(h.server, 0, relay, &err), FL_OK);
    assert_int_equal(fc_secagg_client_receive_shares(client, relay, &err), FL_OK);
    assert_int_equal(fc_secagg_client_set_input(client, h.values[0], 65, NULL, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "weight 65 exceeds weight_max 64"));
    assert_int_equal(fc_secagg_client_set_input(client, h.values[0], 64, NULL, &err), FL_OK);
    free(relay);
    harness_release(&h);
}

/*
 * Runs a round of n sites with the given drop points, which leave at least
 * threshold sites at every phase.
 */
static void run_with_drops(const drop_point *drops, uint32_t n, uint32_t threshold)
{
    fc_secagg_params params = default_params(n, threshold, 700);
    params.chunk_elements = 128;
    harness h;
    harness_init(&h, &params, 11);
    memcpy(h.drops, drops, n * sizeof(drop_point));
    fl_error err = {0};
    int status = harness_run(&h, &err);
    if (status != FL_OK)
        fail_msg("round failed: %s", err.msg);
    check_result(&h);
    check_counted(&h);
    harness_release(&h);
}

static void test_dropouts_before_shares(void **state)
{
    (void)state;
    const drop_point drops[5] = {KEEP, DROP_BEFORE_SHARES, KEEP, DROP_BEFORE_SHARES, KEEP};
    run_with_drops(drops, 5, 3);
    const drop_point never[5] = {DROP_BEFORE_ADVERTISE, KEEP, KEEP, DROP_BEFORE_SHARES, KEEP};
    run_with_drops(never, 5, 3);
}

static void test_dropouts_after_shares(void **state)
{
    (void)state;
    const drop_point drops[5] = {DROP_AFTER_SHARES, KEEP, KEEP, KEEP, DROP_AFTER_SHARES};
    run_with_drops(drops, 5, 3);
}

static void test_dropouts_after_input(void **state)
{
    (void)state;
    const drop_point drops[5] = {KEEP, DROP_AFTER_INPUT, DROP_AFTER_INPUT, KEEP, KEEP};
    run_with_drops(drops, 5, 3);
}

/* n - t = 3 sites drop, one at each phase, out of 7 with t = 4. */
static void test_dropouts_at_every_phase(void **state)
{
    (void)state;
    const drop_point drops[7] = {KEEP, DROP_BEFORE_SHARES, KEEP, DROP_AFTER_SHARES, KEEP,
                                 KEEP, DROP_AFTER_INPUT};
    run_with_drops(drops, 7, 4);
}

/* One drop more than n - t fails the round with a clear error and releases nothing. */
static void test_too_many_dropouts_fail(void **state)
{
    (void)state;
    static const struct {
        drop_point drops[5];
        const char *expected_in_message;
    } cases[] = {
        {{DROP_BEFORE_ADVERTISE, KEEP, DROP_BEFORE_ADVERTISE, DROP_BEFORE_ADVERTISE, KEEP},
         "only 2 of 5 sites advertised keys"},
        {{DROP_BEFORE_SHARES, KEEP, DROP_BEFORE_SHARES, DROP_BEFORE_SHARES, KEEP},
         "only 2 of 5 sites sent shares"},
        {{DROP_AFTER_SHARES, KEEP, DROP_AFTER_SHARES, KEEP, DROP_BEFORE_SHARES},
         "only 2 of 5 sites sent their whole masked input"},
        {{DROP_AFTER_INPUT, KEEP, DROP_AFTER_INPUT, KEEP, DROP_AFTER_INPUT},
         "only 2 of 5 sites sent unmasking shares"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        fc_secagg_params params = default_params(5, 3, 300);
        params.chunk_elements = 64;
        harness h;
        harness_init(&h, &params, 3);
        memcpy(h.drops, cases[k].drops, sizeof(cases[k].drops));
        fl_error err = {0};
        assert_int_equal(harness_run(&h, &err), FL_EPROTO);
        if (strstr(err.msg, cases[k].expected_in_message) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", k, err.msg,
                     cases[k].expected_in_message);
        assert_non_null(strstr(err.msg, "threshold 3"));
        assert_null(fc_secagg_server_sum(h.server));
        assert_int_equal(fc_secagg_server_weight_sum(h.server), 0);
        uint16_t sites[FC_SECAGG_MAX_SITES];
        assert_int_equal(fc_secagg_server_counted(h.server, sites), 0);
        float mean[1];
        assert_int_equal(fc_secagg_server_mean(h.server, mean, &err), FL_ESTATE);
        harness_release(&h);
    }
}

/*
 * A site's masked words are uniform modulo R (chi-square over 256 bins of
 * the top 8 bits) and uncorrelated with its input.
 */
static void test_masked_input_looks_uniform(void **state)
{
    (void)state;
    fc_secagg_params params = default_params(3, 2, 200000);
    params.chunk_elements = 4096;
    params.weight_max = 1;
    harness h;
    harness_init(&h, &params, 21);
    // A strongly structured input: a ramp that repeats every 1000 elements.
    for (uint64_t i = 0; i < params.dim; i++)
        h.values[0][i] = (float)(params.clip_bound * ((double)(i % 1000) / 500.0 - 1.0));
    h.capture_site = 0;
    fl_error err = {0};
    assert_int_equal(harness_run(&h, &err), FL_OK);

    const fc_quant *q = fc_secagg_server_quant(h.server);
    unsigned counts[256] = {0};
    double sum_x = 0, sum_y = 0, sum_xx = 0, sum_yy = 0, sum_xy = 0;
    const uint64_t dim = params.dim;
    for (uint64_t i = 0; i < dim; i++) {
        uint32_t masked = h.captured[i];
        counts[masked >> (q->modulus_bits - 8)]++;
        double x = h.values[0][i];
        double y = masked;
        sum_x += x;
        sum_y += y;
        sum_xx += x * x;
        sum_yy += y * y;
        sum_xy += x * y;
    }
    double expected = (double)dim / 256.0;
    double chi_square = 0;
    for (int b = 0; b < 256; b++)
        chi_square += (counts[b] - expected) * (counts[b] - expected) / expected;
    double covariance = sum_xy / dim - (sum_x / dim) * (sum_y / dim);
    double correlation = covariance / sqrt((sum_xx / dim - pow(sum_x / dim, 2)) *
                                           (sum_yy / dim - pow(sum_y / dim, 2)));
    printf("masked input: chi-square %.1f (255 degrees of freedom), correlation %.5f\n",
           chi_square, correlation);
    // 377 is about the 1e-6 upper tail of chi-square(255); 5 / sqrt(dim) is five standard errors.
    assert_true(chi_square < 377.0);
    assert_true(fabs(correlation) < 5.0 / sqrt((double)dim));
    harness_release(&h);
}

/* Drives a 5-site round up to the UnmaskRequest and copies the request into *request. */
static void run_until_unmask(harness *h, fc_msg_unmask_request *request)
{
    fc_secagg_params params = default_params(5, 3, 100);
    params.chunk_elements = 64;
    harness_init(h, &params, 8);
    h->drops[4] = DROP_AFTER_SHARES;
    // Sites marked DROP_AFTER_INPUT upload but send no UnmaskResponse, so the test can.
    for (int u = 0; u < 4; u++)
        h->drops[u] = DROP_AFTER_INPUT;
    fl_error err = {0};
    assert_int_equal(harness_run(h, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "sent unmasking shares"));
    *request = *h->request;
}

static void test_honest_site_rejects_both_shares(void **state)
{
    (void)state;
    harness h;
    fc_msg_unmask_request request;
    run_until_unmask(&h, &request);
    assert_int_equal(request.live_count, 4);
    assert_int_equal(request.dropped_count, 1);
    fc_msg_unmask_response *response = fl_xmalloc(sizeof(*response));
    fl_error err = {0};

    // Site 1 listed as both live and dropped.
    fc_msg_unmask_request both = request;
    both.dropped[both.dropped_count++] = 1;
    assert_int_equal(fc_secagg_client_unmask(h.clients[0], &both, response, &err), FL_EPERM);
    assert_non_null(strstr(err.msg, "site 1 as both live and dropped"));

    // Site 0 listed as dropped after it sent its input.
    fc_msg_unmask_request self_dropped = request;
    self_dropped.live[0] = 3;
    self_dropped.live_count = 3;
    self_dropped.live[1] = 1;
    self_dropped.live[2] = 2;
    self_dropped.dropped[self_dropped.dropped_count++] = 0;
    assert_int_equal(fc_secagg_client_unmask(h.clients[0], &self_dropped, response, &err),
                     FL_EPERM);
    assert_non_null(strstr(err.msg, "as dropped after it sent masked input"));

    // A valid request, then one that flips site 2 to dropped.
    assert_int_equal(fc_secagg_client_unmask(h.clients[0], &request, response, &err), FL_OK);
    assert_int_equal(response->count, 5);
    fc_msg_unmask_request flipped = request;
    flipped.live[0] = 0;
    flipped.live[1] = 1;
    flipped.live[2] = 3;
    flipped.live_count = 3;
    flipped.dropped[flipped.dropped_count++] = 2;
    assert_int_equal(fc_secagg_client_unmask(h.clients[0], &flipped, response, &err), FL_EPERM);
    assert_non_null(strstr(err.msg, "other share of site 2"));

    // Repeating the valid request gets a response again.
    assert_int_equal(fc_secagg_client_unmask(h.clients[0], &request, response, &err), FL_OK);

    // Fewer live sites than the threshold.
    fc_msg_unmask_request few = request;
    few.live_count = 2;
    few.dropped_count = 0;
    assert_int_equal(fc_secagg_client_unmask(h.clients[1], &few, response, &err), FL_EPROTO);
    free(response);
    harness_release(&h);
}

/* Runs AdvertiseKeys and ShareKeys for 3 sites of round `round`; fills relay for site 0. */
static void share_keys_for(harness *h, uint64_t round, fc_msg_shares *relay)
{
    fc_secagg_params params = default_params(3, 2, 64);
    params.round = round;
    params.chunk_elements = 64;
    harness_init(h, &params, 4);
    fl_error err = {0};
    fc_msg_key_list *keys = fl_xmalloc(sizeof(*keys));
    fc_msg_shares *shares = fl_xmalloc(sizeof(*shares));
    for (uint16_t u = 0; u < 3; u++) {
        fc_msg_advertise advertise;
        assert_int_equal(fc_secagg_client_advertise(h->clients[u], &advertise, &err), FL_OK);
        assert_int_equal(fc_secagg_server_add_advertise(h->server, &advertise, &err), FL_OK);
    }
    assert_int_equal(fc_secagg_server_key_list(h->server, keys, &err), FL_OK);
    for (uint16_t u = 0; u < 3; u++) {
        assert_int_equal(fc_secagg_client_share_keys(h->clients[u], keys, shares, &err), FL_OK);
        assert_int_equal(fc_secagg_server_add_shares(h->server, shares, &err), FL_OK);
    }
    assert_int_equal(fc_secagg_server_close_shares(h->server, &err), FL_OK);
    assert_int_equal(fc_secagg_server_relay(h->server, 0, relay, &err), FL_OK);
    free(keys);
    free(shares);
}

static void test_altered_share_rejected(void **state)
{
    (void)state;
    fc_msg_shares *relay = fl_xmalloc(sizeof(*relay));
    for (size_t position = 0; position < FC_SHARE_CIPHERTEXT_BYTES; position += 13) {
        harness h;
        share_keys_for(&h, 42, relay);
        relay->entries[1].ciphertext[position] ^= 0x01;
        fl_error err = {0};
        assert_int_equal(fc_secagg_client_receive_shares(h.clients[0], relay, &err),
                         FL_ECRYPTO);
        assert_non_null(strstr(err.msg, "from site 2 failed to authenticate"));
        harness_release(&h);
    }

    // A ciphertext presented as coming from another sender is rejected too.
    harness h;
    share_keys_for(&h, 42, relay);
    fc_msg_share_entry swapped = relay->entries[0];
    memcpy(relay->entries[0].ciphertext, relay->entries[1].ciphertext, FC_SHARE_CIPHERTEXT_BYTES);
    memcpy(relay->entries[1].ciphertext, swapped.ciphertext, FC_SHARE_CIPHERTEXT_BYTES);
    fl_error err = {0};
    assert_int_equal(fc_secagg_client_receive_shares(h.clients[0], relay, &err), FL_ECRYPTO);
    harness_release(&h);
    free(relay);
}

/* The same sites in round 43 cannot use a share ciphertext made in round 42. */
static void test_share_from_other_session_rejected(void **state)
{
    (void)state;
    fc_msg_shares *relay_old = fl_xmalloc(sizeof(*relay_old));
    fc_msg_shares *relay_new = fl_xmalloc(sizeof(*relay_new));
    harness old_round;
    harness new_round;
    share_keys_for(&old_round, 42, relay_old);
    share_keys_for(&new_round, 43, relay_new);
    memcpy(relay_new->entries[0].ciphertext, relay_old->entries[0].ciphertext,
           FC_SHARE_CIPHERTEXT_BYTES);
    fl_error err = {0};
    assert_int_equal(fc_secagg_client_receive_shares(new_round.clients[0], relay_new, &err),
                     FL_ECRYPTO);
    assert_int_equal(fc_secagg_client_receive_shares(old_round.clients[0], relay_old, &err),
                     FL_OK);
    harness_release(&old_round);
    harness_release(&new_round);
    free(relay_old);
    free(relay_new);
}

static void test_server_rejects_bad_messages(void **state)
{
    (void)state;
    fc_secagg_params params = default_params(3, 2, 100);
    params.chunk_elements = 64;
    params.bits = 8;
    params.weight_max = 1;
    harness h;
    harness_init(&h, &params, 9);
    fl_error err = {0};
    fc_msg_advertise advertise;
    assert_int_equal(fc_secagg_client_advertise(h.clients[0], &advertise, &err), FL_OK);

    fc_msg_advertise forged = advertise;
    forged.mask_public[0] ^= 1;
    assert_int_equal(fc_secagg_server_add_advertise(h.server, &forged, &err), FL_ECRYPTO);
    forged = advertise;
    forged.site = 1;
    assert_int_equal(fc_secagg_server_add_advertise(h.server, &forged, &err), FL_ECRYPTO);
    forged = advertise;
    forged.round = 41;
    assert_int_equal(fc_secagg_server_add_advertise(h.server, &forged, &err), FL_EPROTO);
    forged.round = 42;
    forged.site = 3;
    assert_int_equal(fc_secagg_server_add_advertise(h.server, &forged, &err), FL_EPROTO);
    assert_int_equal(fc_secagg_server_add_advertise(h.server, &advertise, &err), FL_OK);
    assert_int_equal(fc_secagg_server_add_advertise(h.server, &advertise, &err), FL_EPROTO);

    // A chunk before ShareKeys closed is out of order.
    uint32_t words[64] = {0};
    fc_msg_masked_chunk chunk = {.round = 42, .site = 0, .offset = 0, .count = 64,
                                 .words = words};
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_ESTATE);
    harness_release(&h);
}

/* Chunks out of order, of the wrong size, or with a word not below R are rejected. */
static void test_chunk_order_and_range_checked(void **state)
{
    (void)state;
    fc_secagg_params params = default_params(3, 2, 100);
    params.chunk_elements = 64;
    params.bits = 8;
    params.weight_max = 1;
    harness h;
    harness_init(&h, &params, 9);
    h.drops[2] = DROP_AFTER_SHARES;
    fl_error err = {0};
    int status = harness_prepare_inputs(&h, &err);
    if (status != FL_OK)
        fail_msg("preparing inputs failed: %s", err.msg);

    fc_msg_masked_chunk first;
    assert_int_equal(fc_secagg_client_next_chunk(h.clients[0], &first, &err), 1);
    uint32_t words[64];
    memcpy(words, first.words, sizeof(words));
    fc_msg_masked_chunk chunk = first;
    chunk.words = words;

    chunk.offset = 64;
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "expected 0+64"));
    chunk.offset = 0;
    chunk.count = 63;
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_EPROTO);
    chunk.count = 64;
    chunk.site = 3;
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_EPROTO);
    chunk.site = 0;
    chunk.round = 7;
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_EPROTO);
    chunk.round = 42;
    const fc_quant *q = fc_secagg_server_quant(h.server);
    words[10] = q->modulus_mask + 1;
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "not below the modulus"));
    words[10] = first.words[10];
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_OK);
    assert_int_equal(fc_secagg_server_add_chunk(h.server, &chunk, &err), FL_EPROTO);

    // Site 0 stops after one of its two chunks: the round cannot finish.
    fc_msg_unmask_request *request = fl_xmalloc(sizeof(*request));
    assert_int_equal(fc_secagg_server_close_inputs(h.server, request, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "site 0 sent 64 of 101 words"));
    assert_null(fc_secagg_server_sum(h.server));
    free(request);
    harness_release(&h);
}

static void expect_params_error(const fc_secagg_params *params, const char *needle)
{
    fc_quant q;
    fl_error err = {0};
    assert_int_not_equal(fc_secagg_params_validate(params, &q, &err), FL_OK);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_params_validation_messages(void **state)
{
    (void)state;
    const fc_secagg_params good = default_params(5, 3, 1000);
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_secagg_params_validate(&good, &q, &err), FL_OK);

    fc_secagg_params params = good;
    params.n_sites = 2;
    params.threshold = 2;
    params.expected_survivors = 2;
    expect_params_error(&params, "n_sites is 2, but secure aggregation needs at least 3");
    params = good;
    params.n_sites = 256;
    expect_params_error(&params, "n_sites is 256, above 255");
    params = good;
    params.threshold = 2;
    params.expected_survivors = 2;
    expect_params_error(&params, "threshold is 2 for n_sites 5; it must be above n_sites / 2");
    params = good;
    params.threshold = 6;
    expect_params_error(&params, "threshold is 6 for n_sites 5");
    params = good;
    params.expected_survivors = 4;
    expect_params_error(&params, "threshold is 3 but expected_survivors is 4");
    params = good;
    params.expected_survivors = 0;
    expect_params_error(&params, "expected_survivors is 0");
    params = good;
    params.dim = 0;
    expect_params_error(&params, "dim is 0");
    params = good;
    params.chunk_elements = 100;
    expect_params_error(&params, "chunk_elements is 100; it must be a multiple of 16");
    params = good;
    params.bits = 40;
    expect_params_error(&params, "bits is 40");
    params = good;
    params.clip_bound = 0;
    expect_params_error(&params, "clip_bound is 0");
    params = good;
    params.bits = 24;
    params.weight_max = 1000;
    expect_params_error(&params, "could wrap");

    fc_secagg_client *client = NULL;
    fc_public_identity roster[5];
    memset(roster, 0, sizeof(roster));
    assert_int_equal(fc_secagg_client_new(&client, &good, 5, NULL, roster, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "site is 5"));
    assert_null(client);
}

static void test_clipping_reported_by_client(void **state)
{
    (void)state;
    fc_secagg_params params = default_params(3, 2, 2000);
    harness h;
    harness_init(&h, &params, 17);
    fl_error err = {0};
    assert_int_equal(harness_run(&h, &err), FL_OK);
    for (uint16_t u = 0; u < 3; u++) {
        uint64_t expected = 0;
        for (uint64_t i = 0; i < params.dim; i++)
            expected += fabs((double)h.values[u][i]) > params.clip_bound;
        assert_true(expected > 0);
        assert_int_equal(fc_secagg_client_clipped(h.clients[u]), expected);
    }
    harness_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_validation_messages),
        cmocka_unit_test(test_exact_sum_for_many_site_counts),
        cmocka_unit_test(test_exact_sum_million_elements),
        cmocka_unit_test(test_weight_at_chunk_edges),
        cmocka_unit_test(test_weight_above_cap_rejected),
        cmocka_unit_test(test_dropouts_before_shares),
        cmocka_unit_test(test_dropouts_after_shares),
        cmocka_unit_test(test_dropouts_after_input),
        cmocka_unit_test(test_dropouts_at_every_phase),
        cmocka_unit_test(test_too_many_dropouts_fail),
        cmocka_unit_test(test_masked_input_looks_uniform),
        cmocka_unit_test(test_honest_site_rejects_both_shares),
        cmocka_unit_test(test_altered_share_rejected),
        cmocka_unit_test(test_share_from_other_session_rejected),
        cmocka_unit_test(test_server_rejects_bad_messages),
        cmocka_unit_test(test_chunk_order_and_range_checked),
        cmocka_unit_test(test_clipping_reported_by_client),
    };
    return cmocka_run_group_tests(tests, init_sodium, NULL);
}
