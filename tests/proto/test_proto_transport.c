/*
 * Tests of the CURVE transport on 127.0.0.1: admission by the ZAP handler,
 * rejection of unlisted keys, sender authentication, stale messages,
 * heartbeats, liveness and recovery after a coordinator restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "transport_fixture.h"

/* Generous upper bound for loopback events; tests finish as soon as they occur. */
#define WAIT_MS 10000

static void test_listed_key_admitted(void **state)
{
    (void)state;
    transport_fixture f;
    transport_fixture_start(&f, NULL);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, "hospital-a", NULL), FL_OK);

    proto_link *client = transport_client(&f, &keys, "hospital-a");
    proto_message message;
    assert_int_equal(transport_wait_for(f.server, FEDLORA__ENVELOPE__BODY_HELLO, WAIT_MS,
                                        &message), FL_OK);
    assert_string_equal(message.peer, "hospital-a");
    assert_int_equal(message.envelope->hello->role, FEDLORA__ROLE__ROLE_AGENT);
    proto_message_release(&message);

    /* The server answered with its own Hello, which the client accepts. */
    assert_int_equal(transport_wait_for(client, FEDLORA__ENVELOPE__BODY_HELLO, WAIT_MS,
                                        &message), FL_OK);
    assert_string_equal(message.peer, "coordinator");
    assert_int_equal(message.envelope->hello->role, FEDLORA__ROLE__ROLE_COORDINATOR);
    proto_message_release(&message);
    assert_int_equal(proto_zap_admitted_count(f.zap), 1);
    assert_int_equal(proto_zap_rejected_count(f.zap), 0);

    proto_link_destroy(&client);
    transport_fixture_stop(&f);
}

/* Waits for a handshake event on client's socket monitor; returns the event or 0. */
static int wait_handshake_event(void *context, proto_link *client, const char *monitor_endpoint)
{
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    assert_int_equal(zmq_socket_monitor(proto_link_socket(client), monitor_endpoint, events), 0);
    void *monitor = zmq_socket(context, ZMQ_PAIR);
    assert_int_equal(zmq_connect(monitor, monitor_endpoint), 0);
    int timeout = WAIT_MS;
    zmq_setsockopt(monitor, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));

    int event = 0;
    uint8_t frame[64];
    if (zmq_recv(monitor, frame, sizeof(frame), 0) >= 6) {
        uint16_t id;
        memcpy(&id, frame, sizeof(id));
        event = id;
        zmq_recv(monitor, frame, sizeof(frame), 0);
    }
    zmq_socket_monitor(proto_link_socket(client), NULL, 0);
    zmq_close(monitor);
    return event;
}

/*
 * Waits until the ZAP handler has rejected more than before handshakes. The
 * socket monitor can attach after a fast handshake already failed, so the
 * handler's own count is the reliable sign of a rejection.
 */
static bool wait_rejected(proto_zap *zap, uint64_t before)
{
    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        if (proto_zap_rejected_count(zap) > before)
            return true;
        usleep(10 * 1000);
    }
    return false;
}

static void test_unlisted_key_rejected(void **state)
{
    (void)state;
    transport_fixture f;
    transport_fixture_start(&f, NULL);
    transport_keys listed;
    transport_keys unlisted;
    transport_keys_generate(&listed);
    transport_keys_generate(&unlisted);
    assert_int_equal(proto_zap_allow(f.zap, listed.public_key, "hospital-a", NULL), FL_OK);

    proto_link *intruder = transport_client(&f, &unlisted, "hospital-a");
    int event = wait_handshake_event(f.context, intruder, "inproc://monitor-unlisted");
    assert_int_not_equal(event, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_true(wait_rejected(f.zap, 0));

    /* Nothing from the rejected client reaches the server. */
    proto_message message;
    assert_int_equal(proto_link_recv(f.server, 200, &message, NULL), FL_ETIMEOUT);

    char fingerprint[PROTO_FINGERPRINT_CHARS + 1];
    proto_key_fingerprint(unlisted.public_key, fingerprint);
    assert_int_equal(strlen(fingerprint), PROTO_FINGERPRINT_CHARS);
    char expected[128];
    snprintf(expected, sizeof(expected), "public key with fingerprint %s is not in the "
             "allow-list", fingerprint);
    assert_true(transport_log_contains(&f, expected));
    proto_link_destroy(&intruder);

    /* The same key again is rejected, but the log does not repeat it. */
    uint64_t rejected = proto_zap_rejected_count(f.zap);
    intruder = transport_client(&f, &unlisted, "hospital-a");
    event = wait_handshake_event(f.context, intruder, "inproc://monitor-again");
    assert_int_not_equal(event, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_true(wait_rejected(f.zap, rejected));
    assert_int_equal(transport_log_count(&f, fingerprint), 1);
    proto_link_destroy(&intruder);

    /* Listing the key at run time admits the next connection with it. */
    assert_int_equal(proto_zap_allow(f.zap, unlisted.public_key, "hospital-b", NULL), FL_OK);
    proto_link *admitted = transport_client(&f, &unlisted, "hospital-b");
    assert_int_equal(transport_wait_for(f.server, FEDLORA__ENVELOPE__BODY_HELLO, WAIT_MS,
                                        &message), FL_OK);
    assert_string_equal(message.peer, "hospital-b");
    proto_message_release(&message);
    proto_link_destroy(&admitted);

    /* A revoked key is rejected again. */
    assert_int_equal(proto_zap_revoke(f.zap, unlisted.public_key), FL_OK);
    assert_int_equal(proto_zap_revoke(f.zap, unlisted.public_key), FL_ENOTFOUND);
    proto_link *revoked = transport_client(&f, &unlisted, "hospital-b");
    event = wait_handshake_event(f.context, revoked, "inproc://monitor-revoked");
    assert_int_equal(event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    proto_link_destroy(&revoked);
    transport_fixture_stop(&f);
}

static void test_sender_must_match_key(void **state)
{
    (void)state;
    transport_fixture f;
    transport_fixture_start(&f, NULL);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, "hospital-a", NULL), FL_OK);

    /* A site listed as hospital-a claims to be hospital-b. */
    proto_link *client = transport_client(&f, &keys, "hospital-b");
    proto_message message;
    fl_error err = {0};
    int status = FL_ETIMEOUT;
    for (int i = 0; i < WAIT_MS / 50 && status == FL_ETIMEOUT; i++)
        status = proto_link_recv(f.server, 50, &message, &err);
    assert_int_equal(status, FL_EPERM);
    assert_non_null(strstr(err.msg, "claims sender \"hospital-b\" but its CURVE key belongs to "
                                     "\"hospital-a\""));
    assert_true(transport_log_contains(&f, "rejected a message from hospital-b"));
    proto_link_destroy(&client);
    transport_fixture_stop(&f);
}

/* Sends a Metrics message from link. */
static int send_metrics(proto_link *link, const char *peer)
{
    Fedlora__Metrics metrics = FEDLORA__METRICS__INIT;
    metrics.training_loss = 1.5;
    metrics.example_count = 10;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_METRICS;
    envelope.metrics = &metrics;
    return proto_link_send(link, peer, &envelope, NULL);
}

static void test_stale_round_rejected(void **state)
{
    (void)state;
    transport_fixture f;
    transport_fixture_start(&f, NULL);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, "hospital-a", NULL), FL_OK);
    proto_link *client = transport_client(&f, &keys, "hospital-a");
    proto_message message;
    assert_int_equal(transport_wait_for(f.server, FEDLORA__ENVELOPE__BODY_HELLO, WAIT_MS,
                                        &message), FL_OK);
    proto_message_release(&message);

    assert_int_equal(proto_link_set_job(f.server, "job-1", 3, NULL), FL_OK);
    assert_int_equal(proto_link_set_job(client, "job-1", 2, NULL), FL_OK);
    assert_int_equal(send_metrics(client, NULL), FL_OK);

    fl_error err = {0};
    int status = FL_ETIMEOUT;
    for (int i = 0; i < WAIT_MS / 50 && status == FL_ETIMEOUT; i++)
        status = proto_link_recv(f.server, 50, &message, &err);
    assert_int_equal(status, FL_EPROTO);
    assert_non_null(strstr(err.msg, "round 2 is before the current round 3"));
    assert_true(transport_log_contains(&f, "stale message from hospital-a"));

    /* The same site in the current round gets through. */
    assert_int_equal(proto_link_set_job(client, "job-1", 3, NULL), FL_OK);
    assert_int_equal(send_metrics(client, NULL), FL_OK);
    assert_int_equal(transport_wait_for(f.server, FEDLORA__ENVELOPE__BODY_METRICS, WAIT_MS,
                                        &message), FL_OK);
    assert_int_equal(message.envelope->round, 3);
    proto_message_release(&message);
    proto_link_destroy(&client);
    transport_fixture_stop(&f);
}

typedef struct dead_record {
    int count;
    char peer[PROTO_MAX_ID + 1];
} dead_record;

static void on_dead(const char *peer, void *context)
{
    dead_record *record = context;
    record->count++;
    snprintf(record->peer, sizeof(record->peer), "%s", peer);
}

static void test_heartbeats_and_liveness(void **state)
{
    (void)state;
    proto_link_options options;
    proto_link_options_default(&options);
    options.heartbeat_interval_ms = 20;
    options.heartbeat_timeout_ms = 1000;
    options.peer_timeout_ms = 300;
    transport_fixture f;
    transport_fixture_start(&f, &options);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, "hospital-a", NULL), FL_OK);
    proto_link *client = transport_client(&f, &keys, "hospital-a");
    proto_link_set_state(client, FEDLORA__AGENT_STATE__AGENT_STATE_TRAINING);

    /* Both sides tick until the server has seen three heartbeats. */
    dead_record dead = {0};
    proto_message message;
    int64_t deadline = proto_now_ms() + WAIT_MS;
    while (proto_link_heartbeats_from(f.server, "hospital-a") < 3 && proto_now_ms() < deadline) {
        assert_int_equal(proto_link_tick(client, NULL, NULL, NULL), FL_OK);
        assert_int_equal(proto_link_tick(f.server, on_dead, &dead, NULL), FL_OK);
        if (proto_link_recv(f.server, 5, &message, NULL) == FL_OK)
            proto_message_release(&message);
        if (proto_link_recv(client, 5, &message, NULL) == FL_OK)
            proto_message_release(&message);
    }
    assert_true(proto_link_heartbeats_from(f.server, "hospital-a") >= 3);
    assert_true(proto_link_peer_alive(f.server, "hospital-a"));
    assert_int_equal(dead.count, 0);

    /* The agent goes away; after the peer timeout the server declares it dead. */
    proto_link_destroy(&client);
    deadline = proto_now_ms() + WAIT_MS;
    while (dead.count == 0 && proto_now_ms() < deadline) {
        assert_int_equal(proto_link_tick(f.server, on_dead, &dead, NULL), FL_OK);
        if (proto_link_recv(f.server, 20, &message, NULL) == FL_OK)
            proto_message_release(&message);
    }
    assert_int_equal(dead.count, 1);
    assert_string_equal(dead.peer, "hospital-a");
    assert_false(proto_link_peer_alive(f.server, "hospital-a"));
    assert_true(transport_log_contains(&f, "peer hospital-a declared dead"));
    transport_fixture_stop(&f);
}

static void test_stall_not_counted_as_silence(void **state)
{
    (void)state;
    proto_link_options options;
    proto_link_options_default(&options);
    options.heartbeat_interval_ms = 20;
    options.heartbeat_timeout_ms = 1000;
    options.peer_timeout_ms = 1500;
    transport_fixture f;
    transport_fixture_start(&f, &options);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, "hospital-a", NULL), FL_OK);
    proto_link *client = transport_client(&f, &keys, "hospital-a");

    // step: the server hears the client
    dead_record dead = {0};
    proto_message message;
    int64_t deadline = proto_now_ms() + WAIT_MS;
    while (proto_link_heartbeats_from(f.server, "hospital-a") < 1 && proto_now_ms() < deadline) {
        assert_int_equal(proto_link_tick(client, NULL, NULL, NULL), FL_OK);
        assert_int_equal(proto_link_tick(f.server, on_dead, &dead, NULL), FL_OK);
        if (proto_link_recv(f.server, 5, &message, NULL) == FL_OK)
            proto_message_release(&message);
    }
    assert_true(proto_link_heartbeats_from(f.server, "hospital-a") >= 1);

    // step: the server stalls longer than the peer timeout; the stall is not silence
    proto_link_destroy(&client);
    usleep(2500 * 1000);
    assert_int_equal(proto_link_tick(f.server, on_dead, &dead, NULL), FL_OK);
    assert_int_equal(dead.count, 0);
    assert_true(transport_log_contains(&f, "did not serve its link for"));

    // step: real silence after the stall still ends in a declared death
    deadline = proto_now_ms() + WAIT_MS;
    while (dead.count == 0 && proto_now_ms() < deadline) {
        assert_int_equal(proto_link_tick(f.server, on_dead, &dead, NULL), FL_OK);
        if (proto_link_recv(f.server, 20, &message, NULL) == FL_OK)
            proto_message_release(&message);
    }
    assert_int_equal(dead.count, 1);
    transport_fixture_stop(&f);
}

static void test_client_survives_server_restart(void **state)
{
    (void)state;
    proto_link_options options;
    proto_link_options_default(&options);
    options.heartbeat_interval_ms = 20;
    options.reconnect_interval_ms = 20;
    transport_fixture f;
    transport_fixture_start(&f, &options);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, "hospital-a", NULL), FL_OK);
    proto_link *client = transport_client(&f, &keys, "hospital-a");
    proto_message message;
    assert_int_equal(transport_wait_for(f.server, FEDLORA__ENVELOPE__BODY_HELLO, WAIT_MS,
                                        &message), FL_OK);
    proto_message_release(&message);

    /* The coordinator restarts on the same port with a fresh session. */
    char endpoint[256];
    snprintf(endpoint, sizeof(endpoint), "%s", proto_link_endpoint(f.server));
    proto_link_destroy(&f.server);
    fl_error err = {0};
    int status = FL_ENET;
    int64_t deadline = proto_now_ms() + WAIT_MS;
    while (status == FL_ENET && proto_now_ms() < deadline) {
        /* libzmq closes the old socket in its I/O thread, so the port frees up shortly. */
        status = proto_server_new(f.context, f.zap, endpoint, f.server_keys.public_key,
                                  f.server_keys.secret_key, "coordinator", &f.options, &f.server,
                                  &err);
        if (status != FL_OK)
            zmq_poll(NULL, 0, 10);
    }
    if (status != FL_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(status, FL_OK);

    assert_int_equal(proto_link_set_job(f.server, "job-1", 1, NULL), FL_OK);
    assert_int_equal(proto_link_set_job(client, "job-1", 1, NULL), FL_OK);

    /* The client reconnects by itself; the Hello exchange reopens its session. */
    int metrics_seen = 0;
    deadline = proto_now_ms() + WAIT_MS;
    while (!metrics_seen && proto_now_ms() < deadline) {
        assert_int_equal(proto_link_tick(client, NULL, NULL, NULL), FL_OK);
        if (proto_link_recv(client, 5, &message, NULL) == FL_OK)
            proto_message_release(&message);
        if (proto_link_recv(f.server, 5, &message, NULL) == FL_OK) {
            metrics_seen = message.envelope->body_case == FEDLORA__ENVELOPE__BODY_METRICS;
            proto_message_release(&message);
            if (!metrics_seen && proto_link_peer_alive(f.server, "hospital-a"))
                assert_int_equal(send_metrics(client, NULL), FL_OK);
        }
    }
    assert_true(metrics_seen);
    proto_link_destroy(&client);
    transport_fixture_stop(&f);
}

static void test_server_requires_zap(void **state)
{
    (void)state;
    void *context = zmq_ctx_new();
    transport_keys keys;
    transport_keys_generate(&keys);
    proto_link_options options;
    proto_link_options_default(&options);
    proto_link *server = NULL;
    fl_error err = {0};
    assert_int_equal(proto_server_new(context, NULL, "tcp://127.0.0.1:*", keys.public_key,
                                      keys.secret_key, "coordinator", &options, &server, &err),
                     FL_EINVAL);
    assert_null(server);
    assert_non_null(strstr(err.msg, "needs a ZAP handler"));

    proto_zap *zap = NULL;
    proto_zap *second = NULL;
    assert_int_equal(proto_zap_start(context, &zap, NULL), FL_OK);
    assert_int_equal(proto_zap_start(context, &second, &err), FL_EEXIST);
    assert_null(second);
    assert_int_equal(proto_zap_allow_z85(zap, "not a key", "hospital-a", &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "public key of hospital-a is not a Curve25519 key in Z85"));

    /* A key from zmq_curve_keypair() decodes to the raw key libzmq uses. */
    char public_z85[41];
    char secret_z85[41];
    uint8_t decoded[PROTO_KEY_BYTES];
    char encoded[41];
    assert_int_equal(zmq_curve_keypair(public_z85, secret_z85), 0);
    assert_int_equal(proto_key_from_z85(public_z85, "test key", decoded, NULL), FL_OK);
    assert_non_null(zmq_z85_encode(encoded, decoded, sizeof(decoded)));
    assert_string_equal(encoded, public_z85);
    assert_int_equal(proto_zap_allow_z85(zap, public_z85, "hospital-a", NULL), FL_OK);
    proto_zap_stop(&zap);
    assert_null(zap);
    zmq_ctx_term(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_key_admitted),
        cmocka_unit_test(test_unlisted_key_rejected),
        cmocka_unit_test(test_sender_must_match_key),
        cmocka_unit_test(test_stale_round_rejected),
        cmocka_unit_test(test_heartbeats_and_liveness),
        cmocka_unit_test(test_stall_not_counted_as_silence),
        cmocka_unit_test(test_client_survives_server_restart),
        cmocka_unit_test(test_server_requires_zap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
