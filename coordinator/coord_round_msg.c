/* The round's handling of site messages and its phase transitions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_round_internal.h"
#include "coord_test_hold.h"
#include "fc_msg.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "proto_codec.h"

/*
 * Returns true when a site sent a message of a kind it already had accepted,
 * which happens when it resends its reply to a repeated control message. An
 * identical copy is ignored. One with another body takes the site out.
 */
static bool duplicate(coord_round *round, round_site *site, bool accepted,
                      const uint8_t accepted_hash[PROTO_HASH_BYTES], const Fedlora__Envelope *e)
{
    if (!accepted)
        return false;
    uint8_t hash[PROTO_HASH_BYTES];
    proto_body_hash(e, hash);
    if (memcmp(hash, accepted_hash, PROTO_HASH_BYTES) != 0) {
        round_site_out(round, site, "it sent a second %s that differs from the first",
                       proto_body_name(e->body_case));
        return true;
    }
    fl_debug("round %llu: ignored a resent copy of %s from %s", (unsigned long long)round->number,
             proto_body_name(e->body_case), site->name);
    return true;
}

static void on_metrics(coord_round *round, round_site *site, const Fedlora__Metrics *metrics)
{
    /* A site resends its Metrics with its AdvertiseKeys, and the first copy counts. */
    if (site->has_metrics) {
        fl_debug("round %llu: ignored a resent copy of metrics from %s",
                 (unsigned long long)round->number, site->name);
        return;
    }
    site->has_metrics = true;
    site->val_loss = metrics->validation_loss_before;
    site->train_loss = metrics->training_loss;
    site->examples = metrics->example_count;
    site->train_ms = metrics->train_ms;
    site->clipped = metrics->clipped_values;
    fl_info("round %llu: %s reports validation loss %.4f before training, training loss %.4f "
            "over %llu examples",
            (unsigned long long)round->number, site->name, site->val_loss, site->train_loss,
            (unsigned long long)site->examples);
}

static void on_advertise(coord_round *round, round_site *site, const Fedlora__Envelope *e)
{
    const Fedlora__AdvertiseKeys *keys = e->advertise_keys;
    if (duplicate(round, site, site->advertised, site->advertise_hash, e))
        return;
    if (round->phase > COORD_PHASE_TRAIN || keys->n_keys != 1) {
        round_site_out(round, site, "AdvertiseKeys arrived in phase %s or with %zu entries",
                       coord_phase_names[round->phase], keys->n_keys);
        return;
    }
    fc_msg_advertise msg;
    fl_error err = {0};
    const ProtobufCBinaryData *body = &keys->keys[0]->body;
    int rc = fc_msg_advertise_decode(&msg, body->data, body->len, &err);
    if (rc == FL_OK && msg.site != site->index)
        rc = fl_error_set(&err, FL_EPROTO, "it names roster position %u, not %u", msg.site,
                          site->index);
    if (rc == FL_OK)
        rc = fc_secagg_server_add_advertise(round->server, &msg, &err);
    if (rc != FL_OK) {
        round_site_out(round, site, "AdvertiseKeys rejected: %s", err.msg);
        return;
    }
    site->advertised = true;
    proto_body_hash(e, site->advertise_hash);
}

static void on_share_keys(coord_round *round, round_site *site, const Fedlora__Envelope *e)
{
    const Fedlora__ShareKeys *keys = e->share_keys;
    if (duplicate(round, site, site->shared, site->shares_hash, e))
        return;
    if (round->phase != COORD_PHASE_SHARE || !site->advertised || keys->n_shares != 1) {
        round_site_out(round, site, "ShareKeys arrived out of turn");
        return;
    }
    fc_msg_shares *msg = fl_xmalloc(sizeof(*msg));
    fl_error err = {0};
    const ProtobufCBinaryData *body = &keys->shares[0]->body;
    int rc = fc_msg_shares_decode(msg, FC_MSG_SHARE_KEYS, body->data, body->len, &err);
    if (rc == FL_OK && msg->site != site->index)
        rc = fl_error_set(&err, FL_EPROTO, "it names roster position %u, not %u", msg->site,
                          site->index);
    if (rc == FL_OK)
        rc = fc_secagg_server_add_shares(round->server, msg, &err);
    free(msg);
    if (rc != FL_OK) {
        round_site_out(round, site, "ShareKeys rejected: %s", err.msg);
        return;
    }
    site->shared = true;
    proto_body_hash(e, site->shares_hash);
}

static void on_unmask(coord_round *round, round_site *site, const Fedlora__Envelope *e)
{
    const Fedlora__UnmaskShares *shares = e->unmask_shares;
    if (duplicate(round, site, site->unmasked, site->unmask_hash, e))
        return;
    if (round->phase != COORD_PHASE_UNMASK) {
        round_site_out(round, site, "UnmaskShares arrived out of turn");
        return;
    }
    fc_msg_unmask_response *msg = fl_xmalloc(sizeof(*msg));
    fl_error err = {0};
    int rc = fc_msg_unmask_response_decode(msg, shares->body.data, shares->body.len, &err);
    if (rc == FL_OK && msg->site != site->index)
        rc = fl_error_set(&err, FL_EPROTO, "it names roster position %u, not %u", msg->site,
                          site->index);
    if (rc == FL_OK)
        rc = fc_secagg_server_add_unmask(round->server, msg, &err);
    free(msg);
    if (rc != FL_OK) {
        round_site_out(round, site, "UnmaskShares rejected: %s", err.msg);
        return;
    }
    site->unmasked = true;
    proto_body_hash(e, site->unmask_hash);
}

static void on_transfer(coord_round *round, round_site *site, const proto_message *message,
                        bool *handled)
{
    fl_error err = {0};
    int rc = FL_OK;
    if (site->adapter_started)
        rc = proto_outgoing_on_message(&site->adapter_transfer, message, handled, &err);
    if (rc == FL_OK && !*handled && site->upload != NULL)
        rc = proto_link_receive_chunk(round->context.link, site->upload, message, handled, &err);
    if (rc != FL_OK)
        round_site_out(round, site, "transfer failed: %s", err.msg);
}

void coord_round_on_message(coord_round *round, const proto_message *message, bool *handled)
{
    *handled = false;
    round_site *site = round_find(round, message->peer);
    if (site == NULL || round->phase >= COORD_PHASE_DONE)
        return;

    const Fedlora__Envelope *e = message->envelope;
    *handled = true;
    switch (e->body_case) {
    case FEDLORA__ENVELOPE__BODY_METRICS: on_metrics(round, site, e->metrics); break;
    case FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS: on_advertise(round, site, e); break;
    case FEDLORA__ENVELOPE__BODY_SHARE_KEYS: on_share_keys(round, site, e); break;
    case FEDLORA__ENVELOPE__BODY_UNMASK_SHARES: on_unmask(round, site, e); break;
    case FEDLORA__ENVELOPE__BODY_HEARTBEAT:
        /* The service receives heartbeats too. */
        *handled = false;
        round_note_progress(round, site, e);
        break;
    case FEDLORA__ENVELOPE__BODY_REFUSAL:
        round_site_out(round, site, "refused the round: %s", e->refusal->detail);
        break;
    case FEDLORA__ENVELOPE__BODY_ABORT:
        round_site_out(round, site, "aborted its part: %s", e->abort->detail);
        break;
    case FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS:
    case FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY:
    case FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK:
        *handled = false;
        on_transfer(round, site, message, handled);
        break;
    default:
        *handled = false;
        break;
    }
}

/* Counts sites still expected in the phase and those of them that are done. */
static void phase_counts(const coord_round *round, size_t *done, size_t *expected)
{
    *done = 0;
    *expected = 0;
    for (size_t i = 0; i < round->site_count; i++) {
        const round_site *s = &round->sites[i];
        bool finished = false;
        switch (round->phase) {
        case COORD_PHASE_SEND: finished = s->adapter_started &&
                                          proto_outgoing_complete(&s->adapter_transfer); break;
        case COORD_PHASE_TRAIN: finished = s->advertised; break;
        case COORD_PHASE_SHARE: finished = s->shared; break;
        case COORD_PHASE_UPLOAD:
            finished = s->upload != NULL && proto_chunk_receiver_complete(s->upload);
            break;
        case COORD_PHASE_UNMASK: finished = s->unmasked; break;
        default: break;
        }
        if (!s->out) {
            (*expected)++;
            *done += finished ? 1u : 0u;
        }
    }
}

void coord_round_progress(const coord_round *round, size_t *done, size_t *expected)
{
    phase_counts(round, done, expected);
}

static void check_liveness(coord_round *round)
{
    for (size_t i = 0; i < round->site_count; i++) {
        round_site *site = &round->sites[i];
        if (!site->out && !proto_link_peer_alive(round->context.link, site->name))
            round_site_out(round, site, "declared dead after missing heartbeats");
    }
}

static void pump_adapters(coord_round *round)
{
    bool in_flight = false;
    for (size_t i = 0; i < round->site_count; i++) {
        round_site *site = &round->sites[i];
        if (site->out || !site->adapter_started)
            continue;
        fl_error err = {0};
        if (proto_outgoing_pump(&site->adapter_transfer, round->context.link,
                                &round->context.transfer, &err) != FL_OK)
            round_site_out(round, site, "adapter transfer failed: %s", err.msg);
        in_flight = in_flight || (proto_chunk_sender_max_in_flight(site->adapter_sender) > 0 &&
                                  !proto_outgoing_complete(&site->adapter_transfer));
    }
    if (in_flight)
        coord_test_hold("send", round->number);
}

static void advance(coord_round *round)
{
    switch (round->phase) {
    case COORD_PHASE_SEND:
        round->phase = COORD_PHASE_TRAIN;
        break;
    case COORD_PHASE_TRAIN:
        round_send_key_list(round);
        break;
    case COORD_PHASE_SHARE:
        round_send_relays(round);
        break;
    case COORD_PHASE_UPLOAD:
        round_sum_uploads(round);
        break;
    case COORD_PHASE_UNMASK:
        round_finish(round);
        break;
    default:
        break;
    }
}

void coord_round_poll(coord_round *round)
{
    if (round->phase >= COORD_PHASE_DONE)
        return;
    check_liveness(round);
    pump_adapters(round);
    round_resend_lost(round);

    if (fl_time_monotonic() > round->deadline) {
        size_t done, expected;
        phase_counts(round, &done, &expected);
        round_fail(round, "deadline of %.0f s passed in phase %s with %zu of %zu sites done",
                   round->context.job->round_deadline_s, coord_phase_names[round->phase], done,
                   expected);
        return;
    }

    /* Several phases may close at once, for example when every site advertised while the
     * adapter transfers were finishing. */
    for (int guard = 0; guard < COORD_PHASE_DONE && round->phase < COORD_PHASE_DONE; guard++) {
        size_t done, expected;
        phase_counts(round, &done, &expected);
        if (done < expected)
            return;
        /* With two inputs, each site could subtract its own from the sum and learn the other. */
        if (expected < round->params.threshold || expected < FC_SECAGG_MIN_SITES) {
            round_fail(round, "only %zu sites remain in phase %s; the threshold is %u and a sum "
                              "needs at least %d sites",
                       expected, coord_phase_names[round->phase], round->params.threshold,
                       FC_SECAGG_MIN_SITES);
            return;
        }
        /* A phase's time ends when its last site is done; the server's own work in
         * advance() (summing, unmasking) is timed separately. */
        round->phase_s[round->phase] = fl_time_monotonic() - round->phase_started;
        round->phases_closed = (int)round->phase + 1;
        advance(round);
        round->phase_started = fl_time_monotonic();
    }
}
