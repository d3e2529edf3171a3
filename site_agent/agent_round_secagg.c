/* The site's side of secure aggregation within a round. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_round_internal.h"
#include "fc_msg.h"
#include "fc_quant.h"
#include "fl_file.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "proto_codec.h"

static void send_metrics(agent_round *round)
{
    Fedlora__Metrics metrics = FEDLORA__METRICS__INIT;
    metrics.validation_loss_before = round->result.val_loss_before;
    metrics.training_loss = round->result.train_loss;
    metrics.example_count = round->result.examples;
    metrics.local_steps_done = round->context.job->desc->local_steps;
    metrics.download_ms = (uint64_t)(round->download_s * 1000.0);
    metrics.train_ms = (uint64_t)(round->result.train_s * 1000.0);
    metrics.evaluate_ms = (uint64_t)(round->result.eval_s * 1000.0);
    metrics.clipped_values =
        fc_quant_count_clipped(round->result.delta, round->context.job->trained_count,
                               round->context.job->desc->secagg->clip_bound);
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_METRICS;
    envelope.metrics = &metrics;
    agent_round_send(round, &envelope);
}

/* Sends body (crypto encoding) as this site's AdvertiseKeys or ShareKeys. */
static void send_blob(agent_round *round, Fedlora__Envelope__BodyCase kind, uint8_t *body,
                      size_t size)
{
    const char *self = round->context.setup->config.site_id;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    Fedlora__SiteBlob blob = FEDLORA__SITE_BLOB__INIT;
    Fedlora__SiteBlob *blobs[1] = {&blob};
    Fedlora__AdvertiseKeys keys = FEDLORA__ADVERTISE_KEYS__INIT;
    Fedlora__RoutedBlob routed = FEDLORA__ROUTED_BLOB__INIT;
    Fedlora__RoutedBlob *routes[1] = {&routed};
    Fedlora__ShareKeys shares = FEDLORA__SHARE_KEYS__INIT;
    if (kind == FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS) {
        blob.site_id = (char *)self;
        blob.body.data = body;
        blob.body.len = size;
        keys.n_keys = 1;
        keys.keys = blobs;
        envelope.advertise_keys = &keys;
    } else {
        routed.from_site = (char *)self;
        routed.to_site = "coordinator";
        routed.body.data = body;
        routed.body.len = size;
        shares.n_shares = 1;
        shares.shares = routes;
        envelope.share_keys = &shares;
    }
    envelope.body_case = kind;
    agent_round_send(round, &envelope);
}

static int make_client(agent_round *round, fl_error *err)
{
    const Fedlora__JobDescription *desc = round->context.job->desc;
    fc_secagg_params params;
    memset(&params, 0, sizeof(params));
    params.round = round->number * 256u + round->attempt;
    params.n_sites = (uint32_t)round->site_count;
    params.threshold = round->threshold;
    params.expected_survivors = round->threshold;
    params.dim = round->context.job->trained_count;
    params.chunk_elements = round->chunk_elements;
    params.bits = desc->secagg->quant_bits;
    params.clip_bound = desc->secagg->clip_bound;
    params.weight_max = (uint32_t)desc->secagg->max_weight;
    return fc_secagg_client_new(&round->client, &params, round->index,
                                round->context.setup->identity, round->roster, err);
}

void agent_round_reset_secagg(agent_round *round)
{
    fc_secagg_client_destroy(&round->client);
    proto_chunk_sender_destroy(&round->upload_sender);
    memset(&round->upload, 0, sizeof(round->upload));
    round->upload_started = false;
    round->upload_at = 0;
    if (round->spool_fd >= 0)
        close(round->spool_fd);
    round->spool_fd = -1;
    if (round->spool_path[0] != '\0')
        unlink(round->spool_path);
}

void agent_round_begin_secagg(agent_round *round)
{
    send_metrics(round);
    fl_error err = {0};
    fc_msg_advertise advertise;
    uint8_t *body = NULL;
    size_t size = 0;
    int rc = make_client(round, &err);
    if (rc == FL_OK)
        rc = fc_secagg_client_advertise(round->client, &advertise, &err);
    if (rc == FL_OK)
        rc = fc_msg_advertise_encode(&advertise, &body, &size);
    if (rc != FL_OK) {
        agent_round_fail(round, "secure aggregation could not start: %s", err.msg);
        return;
    }
    send_blob(round, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS, body, size);
    free(body);
    round->phase = AGENT_ROUND_KEYS;
    proto_link_set_state(round->context.link, FEDLORA__AGENT_STATE__AGENT_STATE_MASKING);
}

void agent_round_on_key_list(agent_round *round, const Fedlora__AdvertiseKeys *keys)
{
    if (round->phase != AGENT_ROUND_KEYS || keys->n_keys != 1) {
        agent_round_fail(round, "a KeyList arrived out of turn");
        return;
    }
    fc_msg_key_list *list = fl_xmalloc(sizeof(*list));
    fc_msg_shares *shares = fl_xmalloc(sizeof(*shares));
    fl_error err = {0};
    uint8_t *body = NULL;
    size_t size = 0;
    int rc = fc_msg_key_list_decode(list, keys->keys[0]->body.data, keys->keys[0]->body.len, &err);
    if (rc == FL_OK)
        rc = fc_secagg_client_share_keys(round->client, list, shares, &err);
    if (rc == FL_OK)
        rc = fc_msg_shares_encode(shares, FC_MSG_SHARE_KEYS, &body, &size);
    free(list);
    free(shares);
    if (rc != FL_OK) {
        agent_round_fail(round, "the KeyList was rejected: %s", err.msg);
        return;
    }
    send_blob(round, FEDLORA__ENVELOPE__BODY_SHARE_KEYS, body, size);
    free(body);
    round->phase = AGENT_ROUND_SHARES;
}

/*
 * Writes the masked vector to the spool file: records of a 32-bit length and a MaskedChunk.
 * This runs inside the event loop, so it sends the heartbeats that fall due between chunks;
 * masking tens of millions of values takes seconds.
 */
static int write_spool(agent_round *round, fl_error *err)
{
    if (fl_path_format(round->spool_path, sizeof(round->spool_path), "%s/masked.bin",
                       round->work_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", round->work_dir);
    FILE *file = fopen(round->spool_path, "wb");
    if (file == NULL)
        return fl_error_set(err, FL_EIO, "%s: cannot create: %s", round->spool_path,
                            strerror(errno));

    int rc = FL_OK;
    for (;;) {
        fc_msg_masked_chunk chunk;
        int more = fc_secagg_client_next_chunk(round->client, &chunk, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        uint8_t *bytes = NULL;
        size_t size = 0;
        rc = fc_msg_masked_chunk_encode(&chunk, &bytes, &size);
        uint8_t length[4] = {(uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16),
                             (uint8_t)(size >> 24)};
        if (rc == FL_OK && (fwrite(length, 1, 4, file) != 4 || fwrite(bytes, 1, size, file) != size))
            rc = fl_error_set(err, FL_EIO, "%s: write failed", round->spool_path);
        free(bytes);
        if (rc != FL_OK)
            break;
        fl_error tick_err = {0};
        if (proto_link_tick(round->context.link, NULL, NULL, &tick_err) == FL_ENET)
            fl_warn("heartbeat while masking failed: %s", tick_err.msg);
    }
    if (fclose(file) != 0 && rc == FL_OK)
        rc = fl_error_set(err, FL_EIO, "%s: write failed", round->spool_path);
    return rc;
}

static int start_upload(agent_round *round, fl_error *err)
{
    round->spool_fd = open(round->spool_path, O_RDONLY | O_CLOEXEC);
    off_t size = round->spool_fd >= 0 ? lseek(round->spool_fd, 0, SEEK_END) : -1;
    if (size < 0)
        return fl_error_set(err, FL_EIO, "%s: cannot read back: %s", round->spool_path,
                            strerror(errno));
    char object_id[PROTO_MAX_ID + 1];
    snprintf(object_id, sizeof(object_id), "masked-%s-r%llu-a%u",
             round->context.setup->config.site_id, (unsigned long long)round->number,
             round->attempt);
    int rc = proto_chunk_sender_new(object_id, (uint64_t)size, round->context.chunk_size, 8,
                                    proto_file_reader, &round->spool_fd, &round->upload_sender,
                                    err);
    if (rc == FL_OK)
        rc = proto_outgoing_start(&round->upload, round->context.link, NULL,
                                  round->upload_sender, true, err);
    round->upload_started = rc == FL_OK;
    return rc;
}

/*
 * Test-only: FEDLORA_TEST_UPLOAD_HOLD_MS makes the agent wait that many
 * milliseconds between masking its update and starting the upload, while its
 * event loop keeps heartbeating, so an integration test can kill a site that
 * has shared its keys but not uploaded. Nothing else reads the variable.
 */
static double upload_hold_for_test(const agent_round *round)
{
    const char *text = getenv("FEDLORA_TEST_UPLOAD_HOLD_MS");
    long milliseconds = text != NULL ? strtol(text, NULL, 10) : 0;
    if (milliseconds <= 0)
        return 0;
    fl_info("round %llu: test-only hold of the masked upload for %ld ms",
            (unsigned long long)round->number, milliseconds);
    return (double)milliseconds / 1000.0;
}

void agent_round_poll_upload_start(agent_round *round)
{
    if (round->upload_started || fl_time_monotonic() < round->upload_at)
        return;
    fl_error err = {0};
    if (start_upload(round, &err) != FL_OK)
        agent_round_fail(round, "starting the masked upload failed: %s", err.msg);
}

void agent_round_on_relay(agent_round *round, const Fedlora__ShareKeys *keys)
{
    if (round->phase != AGENT_ROUND_SHARES || keys->n_shares != 1) {
        agent_round_fail(round, "a share relay arrived out of turn");
        return;
    }
    const Fedlora__JobDescription *desc = round->context.job->desc;
    uint64_t weight = round->result.examples < desc->secagg->max_weight
                          ? round->result.examples
                          : desc->secagg->max_weight;
    fc_msg_shares *relay = fl_xmalloc(sizeof(*relay));
    fl_error err = {0};
    const ProtobufCBinaryData *body = &keys->shares[0]->body;
    int rc = fc_msg_shares_decode(relay, FC_MSG_SHARE_RELAY, body->data, body->len, &err);
    if (rc == FL_OK)
        rc = fc_secagg_client_receive_shares(round->client, relay, &err);
    free(relay);
    if (rc == FL_OK)
        rc = fc_secagg_client_set_input(round->client, round->result.delta,
                                        (uint32_t)(weight > 0 ? weight : 1), NULL, &err);
    if (rc == FL_OK)
        rc = write_spool(round, &err);
    round->upload_at = fl_time_monotonic() + upload_hold_for_test(round);
    if (rc == FL_OK && round->upload_at <= fl_time_monotonic())
        rc = start_upload(round, &err);
    if (rc != FL_OK) {
        agent_round_fail(round, "masking the update failed: %s", err.msg);
        return;
    }
    uint64_t clipped = fc_secagg_client_clipped(round->client);
    if (clipped > 0)
        fl_warn("round %llu: clipping changed %llu of %zu values of this site's update",
                (unsigned long long)round->number, (unsigned long long)clipped,
                round->context.job->trained_count);
    round->phase = AGENT_ROUND_UPLOAD;
    proto_link_set_state(round->context.link, FEDLORA__AGENT_STATE__AGENT_STATE_UPLOADING);
}

/* Maps site names of the request to roster positions. */
static int positions(agent_round *round, char **names, size_t count, uint16_t *out,
                     fl_error *err)
{
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < round->site_count && strcmp(round->sites[j], names[i]) != 0)
            j++;
        if (j == round->site_count)
            return fl_error_set(err, FL_EPROTO, "the UnmaskRequest names site '%s', which is "
                                                "not in this round",
                                names[i]);
        out[i] = (uint16_t)j;
    }
    return FL_OK;
}

void agent_round_on_unmask(agent_round *round, const Fedlora__UnmaskRequest *message)
{
    if (round->phase != AGENT_ROUND_UNMASK && round->phase != AGENT_ROUND_UPLOAD) {
        agent_round_fail(round, "an UnmaskRequest arrived out of turn");
        return;
    }
    fc_msg_unmask_request *request = fl_xcalloc(1, sizeof(*request));
    fc_msg_unmask_response *response = fl_xmalloc(sizeof(*response));
    fl_error err = {0};
    request->round = round->number * 256u + round->attempt;
    request->live_count = (uint16_t)message->n_surviving_sites;
    request->dropped_count = (uint16_t)message->n_dropped_sites;
    int rc = positions(round, message->surviving_sites, message->n_surviving_sites,
                       request->live, &err);
    if (rc == FL_OK)
        rc = positions(round, message->dropped_sites, message->n_dropped_sites, request->dropped,
                       &err);
    if (rc == FL_OK)
        rc = fc_secagg_client_unmask(round->client, request, response, &err);
    uint8_t *body = NULL;
    size_t size = 0;
    if (rc == FL_OK)
        rc = fc_msg_unmask_response_encode(response, &body, &size);
    free(request);
    free(response);
    if (rc != FL_OK) {
        agent_round_fail(round, "the UnmaskRequest was rejected: %s", err.msg);
        return;
    }

    Fedlora__UnmaskShares shares = FEDLORA__UNMASK_SHARES__INIT;
    shares.body.data = body;
    shares.body.len = size;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_UNMASK_SHARES;
    envelope.unmask_shares = &shares;
    agent_round_send(round, &envelope);
    free(body);
    if (round->phase != AGENT_ROUND_FAILED) {
        round->phase = AGENT_ROUND_DONE;
        proto_link_set_state(round->context.link, FEDLORA__AGENT_STATE__AGENT_STATE_IDLE);
        fl_info("round %llu: unmasking shares sent; this site's part is done",
                (unsigned long long)round->number);
    }
}
