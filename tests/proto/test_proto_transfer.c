/*
 * Tests of chunked transfers over real CURVE sockets on 127.0.0.1: a large
 * object streamed from a generator, heartbeats during the transfer, and a
 * transfer resumed after the agent's DEALER was closed and reopened.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <zmq.h>

#include "object_generator.h"
#include "proto_transfer.h"
#include "transport_fixture.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

#define SITE "hospital-a"
#define OBJECT_ID "masked-hospital-a-r1"
#define CHUNK_SIZE (1u << 20)
#define WINDOW 8u

/* The coordinator side, run in its own thread. */
typedef struct receiver_side {
    proto_link *server;
    proto_chunk_receiver *receiver;
    atomic_int stop;
    int status;
    char error[1024];
    int dead_count;
    uint64_t heartbeats_during_transfer;
    uint64_t first_session;
    uint64_t resume_offset; /* first chunk offset seen in a second session */
    bool resumed;
} receiver_side;

static void count_dead(const char *peer, void *context)
{
    (void)peer;
    receiver_side *side = context;
    side->dead_count++;
}

/* Notes heartbeats that arrive mid-transfer and where a new session resumes. */
static void observe(receiver_side *side, const Fedlora__Envelope *e)
{
    uint64_t received = proto_chunk_receiver_received(side->receiver);
    bool transferring = received > 0 && !proto_chunk_receiver_complete(side->receiver);
    if (e->body_case == FEDLORA__ENVELOPE__BODY_HEARTBEAT && transferring)
        side->heartbeats_during_transfer++;

    if (e->body_case != FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK)
        return;
    if (side->first_session == 0)
        side->first_session = e->session;
    if (e->session != side->first_session && !side->resumed) {
        side->resumed = true;
        side->resume_offset = e->masked_input_chunk->offset;
    }
}

static void *receiver_thread(void *arg)
{
    receiver_side *side = arg;
    while (!atomic_load(&side->stop)) {
        fl_error err = {0};
        int status = proto_link_tick(side->server, count_dead, side, &err);
        proto_message message;
        if (status == FL_OK && proto_link_recv(side->server, 20, &message, &err) == FL_OK) {
            observe(side, message.envelope);
            bool handled = false;
            status = proto_link_receive_chunk(side->server, side->receiver, &message, &handled,
                                              &err);
            proto_message_release(&message);
        }
        if (status != FL_OK && side->status == FL_OK) {
            side->status = status;
            snprintf(side->error, sizeof(side->error), "%s", err.msg);
        }
    }
    return NULL;
}

typedef struct transfer_setup {
    transport_fixture fixture;
    transport_keys keys;
    object_generator generator;
    object_check_sink sink;
    receiver_side side;
    pthread_t thread;
    proto_link *client;
    bool restarted;
} transfer_setup;

static void setup_start(transfer_setup *t)
{
    memset(t, 0, sizeof(*t));
    proto_link_options options;
    proto_link_options_default(&options);
    options.heartbeat_interval_ms = 10;
    options.peer_timeout_ms = 2000;
    options.reconnect_interval_ms = 20;
    transport_fixture_start(&t->fixture, &options);
    transport_keys_generate(&t->keys);
    assert_int_equal(proto_zap_allow(t->fixture.zap, t->keys.public_key, SITE, NULL), FL_OK);
    assert_int_equal(proto_link_set_job(t->fixture.server, "job-1", 1, NULL), FL_OK);

    t->generator.seed = 7;
    t->generator.cancel_at = UINT64_MAX;
    t->sink.generator = t->generator;
    assert_int_equal(proto_chunk_receiver_new(OBJECT_ID, UINT64_MAX, NULL,
                                              object_check_sink_write, &t->sink,
                                              &t->side.receiver, NULL), FL_OK);
    t->side.server = t->fixture.server;
    assert_int_equal(pthread_create(&t->thread, NULL, receiver_thread, &t->side), 0);
}

static proto_link *connect_agent(transfer_setup *t)
{
    proto_link *client = transport_client(&t->fixture, &t->keys, SITE);
    assert_int_equal(proto_link_set_job(client, "job-1", 1, NULL), FL_OK);
    proto_link_set_state(client, FEDLORA__AGENT_STATE__AGENT_STATE_UPLOADING);
    return client;
}

static void setup_stop(transfer_setup *t)
{
    atomic_store(&t->side.stop, 1);
    pthread_join(t->thread, NULL);
    proto_link_destroy(&t->client);
    proto_chunk_receiver_destroy(&t->side.receiver);
    transport_fixture_stop(&t->fixture);
}

static long peak_rss_kib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

static void test_large_object_streamed(void **state)
{
    (void)state;
    uint64_t total = UNDER_SANITIZER ? (uint64_t)64 << 20 : (uint64_t)200 << 20;
    transfer_setup t;
    setup_start(&t);
    uint8_t expected[PROTO_HASH_BYTES];
    object_generator_hash(&t.generator, total, expected);
    long rss_before = peak_rss_kib();

    proto_chunk_sender *sender = NULL;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, CHUNK_SIZE, WINDOW,
                                            object_generator_read, &t.generator, &sender, NULL),
                     FL_OK);
    t.client = connect_agent(&t);
    proto_transfer_options options;
    proto_transfer_options_default(&options);
    options.masked_input = true;
    fl_error err = {0};
    int status = proto_link_send_object(t.client, NULL, sender, &options, NULL, NULL, &err);
    if (status != FL_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(status, FL_OK);
    long rss_growth_mib = (peak_rss_kib() - rss_before) / 1024;
    uint64_t max_in_flight = proto_chunk_sender_max_in_flight(sender);
    setup_stop(&t);

    if (t.side.status != FL_OK)
        print_error("receiver: %s\n", t.side.error);
    assert_int_equal(t.side.status, FL_OK);
    assert_int_equal(t.sink.bytes, total);
    assert_false(t.sink.mismatch);
    assert_int_equal(t.generator.bytes_read, total);

    /* Memory: the window bounds what is in flight, whatever the object's size. */
    assert_true(max_in_flight <= (uint64_t)WINDOW * CHUNK_SIZE);
    print_message("%llu MiB sent; peak RSS grew by %ld MiB; at most %llu KiB in flight; "
                  "%llu heartbeats arrived during the transfer\n",
                  (unsigned long long)(total >> 20), rss_growth_mib,
                  (unsigned long long)(max_in_flight >> 10),
                  (unsigned long long)t.side.heartbeats_during_transfer);
    if (!UNDER_SANITIZER)
        assert_true(rss_growth_mib < 100);

    /* Heartbeats kept flowing and the receiver never declared the sender dead. */
    assert_true(t.side.heartbeats_during_transfer >= 2);
    assert_int_equal(t.side.dead_count, 0);
    proto_chunk_sender_destroy(&sender);
}

static void test_interrupted_transfer_resumes(void **state)
{
    (void)state;
    uint64_t total = (uint64_t)40 * CHUNK_SIZE + 12345;
    transfer_setup t;
    setup_start(&t);
    uint8_t expected[PROTO_HASH_BYTES];
    object_generator_hash(&t.generator, total, expected);

    /* The reader fails at 60%, so the first attempt stops midway. */
    uint64_t cancel_at = total / 10 * 6;
    t.generator.cancel_at = cancel_at;
    proto_chunk_sender *sender = NULL;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, CHUNK_SIZE, WINDOW,
                                            object_generator_read, &t.generator, &sender, NULL),
                     FL_OK);
    proto_transfer_options options;
    proto_transfer_options_default(&options);
    options.masked_input = true;
    options.status_timeout_ms = 500;

    t.client = connect_agent(&t);
    fl_error err = {0};
    assert_int_equal(proto_link_send_object(t.client, NULL, sender, &options, NULL, NULL, &err),
                     FL_ECANCELED);
    uint64_t acknowledged = proto_chunk_sender_acknowledged(sender);
    assert_true(acknowledged > 0);

    /* Close the DEALER, dropping what it had queued, and open a new one. */
    proto_link_destroy(&t.client);
    t.client = connect_agent(&t);
    int status = proto_link_send_object(t.client, NULL, sender, &options, NULL, NULL, &err);
    if (status != FL_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(status, FL_OK);
    setup_stop(&t);

    if (t.side.status != FL_OK)
        print_error("receiver: %s\n", t.side.error);
    assert_int_equal(t.side.status, FL_OK);
    print_message("first attempt acknowledged %llu bytes; the new session resumed at %llu\n",
                  (unsigned long long)acknowledged, (unsigned long long)t.side.resume_offset);

    /* The new session started where the receiver was, not at 0, and nothing arrived twice. */
    assert_true(t.side.resumed);
    assert_true(t.side.resume_offset >= acknowledged);
    assert_true(t.side.resume_offset <= cancel_at);
    assert_int_equal(t.sink.bytes, total);
    assert_false(t.sink.mismatch);
    proto_chunk_sender_destroy(&sender);
}

/* Restarts the coordinator side: new server link on the same port, new receiver. */
static void restart_coordinator(void *context)
{
    transfer_setup *t = context;
    atomic_store(&t->side.stop, 1);
    pthread_join(t->thread, NULL);
    char endpoint[256];
    snprintf(endpoint, sizeof(endpoint), "%s", proto_link_endpoint(t->fixture.server));
    proto_link_destroy(&t->fixture.server);
    proto_chunk_receiver_destroy(&t->side.receiver);

    /* libzmq closes the old socket in its I/O thread, so the port frees up shortly. */
    int status = FL_ENET;
    fl_error err = {0};
    for (int i = 0; i < 1000 && status == FL_ENET; i++) {
        status = proto_server_new(t->fixture.context, t->fixture.zap, endpoint,
                                  t->fixture.server_keys.public_key,
                                  t->fixture.server_keys.secret_key, "coordinator",
                                  &t->fixture.options, &t->fixture.server, &err);
        if (status != FL_OK)
            zmq_poll(NULL, 0, 10);
    }
    assert_int_equal(status, FL_OK);
    assert_int_equal(proto_link_set_job(t->fixture.server, "job-1", 1, NULL), FL_OK);

    /* The restarted coordinator lost what it had received: its sink starts empty. */
    memset(&t->sink, 0, sizeof(t->sink));
    t->sink.generator.seed = t->generator.seed;
    assert_int_equal(proto_chunk_receiver_new(OBJECT_ID, UINT64_MAX, NULL,
                                              object_check_sink_write, &t->sink,
                                              &t->side.receiver, NULL), FL_OK);
    t->side.server = t->fixture.server;
    atomic_store(&t->side.stop, 0);
    t->restarted = true;
    assert_int_equal(pthread_create(&t->thread, NULL, receiver_thread, &t->side), 0);
}

static void test_coordinator_restart_mid_transfer(void **state)
{
    (void)state;
    uint64_t total = (uint64_t)24 * CHUNK_SIZE + 777;
    transfer_setup t;
    setup_start(&t);
    t.generator.hook = restart_coordinator;
    t.generator.hook_context = &t;
    t.generator.hook_at = total / 2;

    proto_chunk_sender *sender = NULL;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, CHUNK_SIZE, WINDOW,
                                            object_generator_read, &t.generator, &sender, NULL),
                     FL_OK);
    proto_transfer_options options;
    proto_transfer_options_default(&options);
    options.masked_input = true;
    options.status_timeout_ms = 300;
    t.client = connect_agent(&t);
    fl_error err = {0};
    int status = proto_link_send_object(t.client, NULL, sender, &options, NULL, NULL, &err);
    if (status != FL_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(status, FL_OK);
    setup_stop(&t);

    if (t.side.status != FL_OK)
        print_error("receiver: %s\n", t.side.error);
    assert_int_equal(t.side.status, FL_OK);
    assert_true(t.restarted);

    /* The new coordinator asked for everything again and got it intact. */
    assert_int_equal(t.sink.bytes, total);
    assert_false(t.sink.mismatch);
    assert_true(t.generator.bytes_read > total);
    proto_chunk_sender_destroy(&sender);
}

static void test_changed_bytes_stop_sender(void **state)
{
    (void)state;
    uint64_t total = (uint64_t)20 * CHUNK_SIZE;
    transfer_setup t;
    setup_start(&t);
    t.generator.cancel_at = total / 2;
    proto_chunk_sender *sender = NULL;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, CHUNK_SIZE, WINDOW,
                                            object_generator_read, &t.generator, &sender, NULL),
                     FL_OK);
    proto_transfer_options options;
    proto_transfer_options_default(&options);
    options.masked_input = true;
    t.client = connect_agent(&t);
    fl_error err = {0};
    assert_int_equal(proto_link_send_object(t.client, NULL, sender, &options, NULL, NULL, &err),
                     FL_ECANCELED);
    assert_true(proto_chunk_sender_acknowledged(sender) > 0);
    proto_chunk_sender_destroy(&sender);

    /* A restarted agent resumes, but its reader now returns other bytes. */
    t.generator.seed = 8;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, CHUNK_SIZE, WINDOW,
                                            object_generator_read, &t.generator, &sender, NULL),
                     FL_OK);
    int status = proto_link_send_object(t.client, NULL, sender, &options, NULL, NULL, &err);
    setup_stop(&t);

    /* The receiver's hash check fails and its Error stops the sender at once. */
    assert_int_equal(status, FL_ECRYPTO);
    assert_non_null(strstr(err.msg, "coordinator rejected it"));
    assert_non_null(strstr(err.msg, "does not match the hash its sender announced"));
    assert_int_equal(t.side.status, FL_ECRYPTO);
    assert_true(t.sink.mismatch);
    proto_chunk_sender_destroy(&sender);
}

/* An agent that downloads the global adapter in its own thread. */
typedef struct downloader {
    proto_link *client;
    proto_chunk_receiver *receiver;
    object_check_sink sink;
    atomic_int stop;
    int status;
    char error[1024];
} downloader;

static void *download_thread(void *arg)
{
    downloader *agent = arg;
    while (!atomic_load(&agent->stop)) {
        fl_error err = {0};
        int status = proto_link_tick(agent->client, NULL, NULL, &err);
        proto_message message;
        if (status == FL_OK && proto_link_recv(agent->client, 20, &message, &err) == FL_OK) {
            bool handled = false;
            status = proto_link_receive_chunk(agent->client, agent->receiver, &message, &handled,
                                              &err);
            proto_message_release(&message);
        }
        if (status != FL_OK && agent->status == FL_OK) {
            agent->status = status;
            snprintf(agent->error, sizeof(agent->error), "%s", err.msg);
        }
    }
    return NULL;
}

static void test_adapter_sent_to_sites_at_once(void **state)
{
    (void)state;
    enum { SITES = 3 };
    const char *names[SITES] = {"hospital-a", "hospital-b", "hospital-c"};
    uint64_t total = (uint64_t)8 << 20;
    proto_link_options options;
    proto_link_options_default(&options);
    options.heartbeat_interval_ms = 10;
    transport_fixture f;
    transport_fixture_start(&f, &options);
    assert_int_equal(proto_link_set_job(f.server, "job-1", 1, NULL), FL_OK);

    object_generator generator = {.seed = 99, .cancel_at = UINT64_MAX};
    uint8_t expected[PROTO_HASH_BYTES];
    object_generator_hash(&generator, total, expected);

    /* Each site announces itself and waits for the adapter with its known hash. */
    downloader agents[SITES];
    pthread_t threads[SITES];
    proto_chunk_sender *senders[SITES];
    object_generator readers[SITES];
    for (int i = 0; i < SITES; i++) {
        memset(&agents[i], 0, sizeof(agents[i]));
        transport_keys keys;
        transport_keys_generate(&keys);
        assert_int_equal(proto_zap_allow(f.zap, keys.public_key, names[i], NULL), FL_OK);
        agents[i].client = transport_client(&f, &keys, names[i]);
        assert_int_equal(proto_link_set_job(agents[i].client, "job-1", 1, NULL), FL_OK);
        agents[i].sink.generator = generator;
        assert_int_equal(proto_chunk_receiver_new("adapter-r1", total, expected,
                                                  object_check_sink_write, &agents[i].sink,
                                                  &agents[i].receiver, NULL), FL_OK);
        readers[i] = generator;
        assert_int_equal(proto_chunk_sender_new("adapter-r1", total, 256u << 10, 4,
                                                object_generator_read, &readers[i],
                                                &senders[i], NULL), FL_OK);
    }

    /* The coordinator learns every site from its Hello, then starts the transfers. */
    int known = 0;
    int64_t deadline = proto_now_ms() + 10000;
    while (known < SITES && proto_now_ms() < deadline) {
        proto_message message;
        if (proto_link_recv(f.server, 20, &message, NULL) == FL_OK) {
            known += message.envelope->body_case == FEDLORA__ENVELOPE__BODY_HELLO;
            proto_message_release(&message);
        }
    }
    assert_int_equal(known, SITES);
    for (int i = 0; i < SITES; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, download_thread, &agents[i]), 0);
        assert_int_equal(proto_link_start_object(f.server, names[i], senders[i], NULL), FL_OK);
    }

    /* One loop pumps all three transfers. */
    int complete = 0;
    deadline = proto_now_ms() + 60000;
    while (complete < SITES && proto_now_ms() < deadline) {
        for (int i = 0; i < SITES; i++)
            assert_int_equal(proto_link_pump_object(f.server, names[i], senders[i], false, NULL),
                             FL_OK);
        proto_message message;
        if (proto_link_recv(f.server, 20, &message, NULL) == FL_OK) {
            for (int i = 0; i < SITES; i++) {
                bool handled = false;
                assert_int_equal(proto_link_apply_status(senders[i], names[i], &message, &handled,
                                                         NULL), FL_OK);
            }
            proto_message_release(&message);
        }
        complete = 0;
        for (int i = 0; i < SITES; i++)
            complete += proto_chunk_sender_complete(senders[i]);
    }

    for (int i = 0; i < SITES; i++) {
        atomic_store(&agents[i].stop, 1);
        pthread_join(threads[i], NULL);
        if (agents[i].status != FL_OK)
            print_error("%s: %s\n", names[i], agents[i].error);
        assert_int_equal(agents[i].status, FL_OK);
        assert_true(proto_chunk_receiver_complete(agents[i].receiver));
        assert_memory_equal(proto_chunk_receiver_hash(agents[i].receiver), expected,
                            PROTO_HASH_BYTES);
        assert_int_equal(agents[i].sink.bytes, total);
        assert_false(agents[i].sink.mismatch);
        proto_chunk_receiver_destroy(&agents[i].receiver);
        proto_chunk_sender_destroy(&senders[i]);
        proto_link_destroy(&agents[i].client);
    }
    assert_int_equal(complete, SITES);
    transport_fixture_stop(&f);
}

/*
 * Pumps out (the coordinator's transfer to SITE) for duration_ms, applying every
 * status that arrives, and fails on any error. Returns early once done.
 */
static void pump_for(transport_fixture *f, proto_outgoing *out,
                     const proto_transfer_options *options, int duration_ms,
                     uint64_t stop_at_acknowledged)
{
    int64_t deadline = proto_now_ms() + duration_ms;
    while (proto_now_ms() < deadline && !proto_outgoing_complete(out) &&
           proto_chunk_sender_acknowledged(out->sender) < stop_at_acknowledged) {
        fl_error err = {0};
        int status = proto_outgoing_pump(out, f->server, options, &err);
        if (status != FL_OK)
            print_error("pump: %s\n", err.msg);
        assert_int_equal(status, FL_OK);
        assert_int_equal(proto_link_tick(f->server, NULL, NULL, NULL), FL_OK);
        proto_message message;
        if (proto_link_recv(f->server, 10, &message, NULL) != FL_OK)
            continue;
        bool handled = false;
        assert_int_equal(proto_outgoing_on_message(out, &message, &handled, &err), FL_OK);
        proto_message_release(&message);
    }
}

/* Connects SITE with keys and starts its download thread over the new link. */
static void connect_downloader(transport_fixture *f, const transport_keys *keys,
                               downloader *agent, pthread_t *thread)
{
    agent->client = transport_client(f, keys, SITE);
    assert_int_equal(proto_link_set_job(agent->client, "job-1", 1, NULL), FL_OK);
    atomic_store(&agent->stop, 0);
    assert_int_equal(pthread_create(thread, NULL, download_thread, agent), 0);
}

/*
 * The site's connection goes away in the middle of the adapter download, so the
 * coordinator's ROUTER has no route to it while it still sends. The transfer
 * waits instead of failing, and resumes where the site stopped once the site
 * is back (here with a new DEALER and the same key and receiver).
 */
static void test_adapter_resumes_after_site_reconnects(void **state)
{
    (void)state;
    uint64_t total = (uint64_t)8 << 20;
    proto_link_options link_options;
    proto_link_options_default(&link_options);
    link_options.heartbeat_interval_ms = 10;
    link_options.reconnect_interval_ms = 20;
    transport_fixture f;
    transport_fixture_start(&f, &link_options);
    assert_int_equal(proto_link_set_job(f.server, "job-1", 1, NULL), FL_OK);
    transport_keys keys;
    transport_keys_generate(&keys);
    assert_int_equal(proto_zap_allow(f.zap, keys.public_key, SITE, NULL), FL_OK);

    object_generator reader = {.seed = 5, .cancel_at = UINT64_MAX};
    uint8_t expected[PROTO_HASH_BYTES];
    object_generator_hash(&reader, total, expected);
    downloader agent;
    memset(&agent, 0, sizeof(agent));
    agent.sink.generator = reader;
    assert_int_equal(proto_chunk_receiver_new("adapter-r1", total, expected,
                                              object_check_sink_write, &agent.sink,
                                              &agent.receiver, NULL), FL_OK);
    proto_chunk_sender *sender = NULL;
    assert_int_equal(proto_chunk_sender_new("adapter-r1", total, 256u << 10, 4,
                                            object_generator_read, &reader, &sender, NULL),
                     FL_OK);
    proto_transfer_options options;
    proto_transfer_options_default(&options);
    options.status_timeout_ms = 100;
    options.max_queries = 50;

    pthread_t thread;
    connect_downloader(&f, &keys, &agent, &thread);
    proto_message hello;
    assert_int_equal(transport_wait_for(f.server, FEDLORA__ENVELOPE__BODY_HELLO, 5000, &hello),
                     FL_OK);
    proto_message_release(&hello);
    proto_outgoing out;
    assert_int_equal(proto_outgoing_start(&out, f.server, SITE, sender, false, NULL), FL_OK);
    pump_for(&f, &out, &options, 20000, total / 4);
    uint64_t before_cut = proto_chunk_sender_acknowledged(sender);
    assert_true(before_cut >= total / 4);
    assert_false(proto_outgoing_complete(&out));

    /* The site's connection closes; the coordinator goes on for several status timeouts. */
    atomic_store(&agent.stop, 1);
    pthread_join(thread, NULL);
    proto_link_destroy(&agent.client);
    pump_for(&f, &out, &options, 10 * options.status_timeout_ms, UINT64_MAX);
    assert_false(proto_outgoing_complete(&out));

    connect_downloader(&f, &keys, &agent, &thread);
    pump_for(&f, &out, &options, 30000, UINT64_MAX);
    atomic_store(&agent.stop, 1);
    pthread_join(thread, NULL);
    if (agent.status != FL_OK)
        print_error("site: %s\n", agent.error);
    assert_int_equal(agent.status, FL_OK);
    print_message("the site had %llu of %llu bytes confirmed when its connection closed\n",
                  (unsigned long long)before_cut, (unsigned long long)total);

    /* Every byte arrived once, in order, and the object's hash matches. */
    assert_true(proto_outgoing_complete(&out));
    assert_true(proto_chunk_receiver_complete(agent.receiver));
    assert_int_equal(agent.sink.bytes, total);
    assert_false(agent.sink.mismatch);
    assert_true(transport_log_contains(&f, "resending from byte"));
    proto_chunk_receiver_destroy(&agent.receiver);
    proto_chunk_sender_destroy(&sender);
    proto_link_destroy(&agent.client);
    transport_fixture_stop(&f);
}

/* A site that uploads its masked input in its own thread. */
typedef struct uploader {
    proto_link *client;
    proto_chunk_sender *sender;
    object_generator reader;
    int status;
    char error[1024];
} uploader;

static void *upload_thread(void *arg)
{
    uploader *site = arg;
    proto_transfer_options options;
    proto_transfer_options_default(&options);
    options.masked_input = true;
    fl_error err = {0};
    site->status = proto_link_send_object(site->client, NULL, site->sender, &options, NULL, NULL,
                                          &err);
    snprintf(site->error, sizeof(site->error), "%s", err.msg);
    return NULL;
}

static void test_sites_upload_at_once(void **state)
{
    (void)state;
    enum { SITES = 8 };
    uint64_t total = (uint64_t)(UNDER_SANITIZER ? 4 : 16) << 20;
    proto_link_options options;
    proto_link_options_default(&options);
    transport_fixture f;
    transport_fixture_start(&f, &options);
    assert_int_equal(proto_link_set_job(f.server, "job-1", 1, NULL), FL_OK);

    /* Every site uploads an object with the same id; the coordinator keeps one receiver each. */
    char names[SITES][32];
    uploader sites[SITES];
    object_check_sink sinks[SITES];
    proto_chunk_receiver *receivers[SITES];
    pthread_t threads[SITES];
    for (int i = 0; i < SITES; i++) {
        snprintf(names[i], sizeof(names[i]), "hospital-%d", i);
        memset(&sites[i], 0, sizeof(sites[i]));
        memset(&sinks[i], 0, sizeof(sinks[i]));
        transport_keys keys;
        transport_keys_generate(&keys);
        assert_int_equal(proto_zap_allow(f.zap, keys.public_key, names[i], NULL), FL_OK);
        sites[i].client = transport_client(&f, &keys, names[i]);
        assert_int_equal(proto_link_set_job(sites[i].client, "job-1", 1, NULL), FL_OK);
        sites[i].reader.seed = 1000 + (uint64_t)i;
        sites[i].reader.cancel_at = UINT64_MAX;
        sinks[i].generator = sites[i].reader;
        assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, 256u << 10, WINDOW,
                                                object_generator_read, &sites[i].reader,
                                                &sites[i].sender, NULL), FL_OK);
        assert_int_equal(proto_chunk_receiver_new(OBJECT_ID, total, NULL, object_check_sink_write,
                                                  &sinks[i], &receivers[i], NULL), FL_OK);
    }
    long rss_before = peak_rss_kib();
    for (int i = 0; i < SITES; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, upload_thread, &sites[i]), 0);

    /* The coordinator's loop routes each message to the receiver of its sender. */
    int complete = 0;
    int64_t deadline = proto_now_ms() + 60000;
    while (complete < SITES && proto_now_ms() < deadline) {
        assert_int_equal(proto_link_tick(f.server, NULL, NULL, NULL), FL_OK);
        proto_message message;
        if (proto_link_recv(f.server, 20, &message, NULL) != FL_OK)
            continue;
        for (int i = 0; i < SITES; i++) {
            if (strcmp(message.peer, names[i]) != 0)
                continue;
            bool handled = false;
            fl_error err = {0};
            int status = proto_link_receive_chunk(f.server, receivers[i], &message, &handled, &err);
            if (status != FL_OK)
                print_error("%s: %s\n", names[i], err.msg);
            assert_int_equal(status, FL_OK);
        }
        proto_message_release(&message);
        complete = 0;
        for (int i = 0; i < SITES; i++)
            complete += proto_chunk_receiver_complete(receivers[i]);
    }

    /* The final confirmations are already queued, so the uploads finish by themselves. */
    for (int i = 0; i < SITES; i++)
        pthread_join(threads[i], NULL);
    long rss_growth_mib = (peak_rss_kib() - rss_before) / 1024;
    print_message("%d sites sent %llu MiB each at once; peak RSS grew by %ld MiB\n", SITES,
                  (unsigned long long)(total >> 20), rss_growth_mib);

    for (int i = 0; i < SITES; i++) {
        if (sites[i].status != FL_OK)
            print_error("%s: %s\n", names[i], sites[i].error);
        assert_int_equal(sites[i].status, FL_OK);
        assert_true(proto_chunk_receiver_complete(receivers[i]));
        assert_int_equal(sinks[i].bytes, total);
        assert_false(sinks[i].mismatch);
        proto_chunk_receiver_destroy(&receivers[i]);
        proto_chunk_sender_destroy(&sites[i].sender);
        proto_link_destroy(&sites[i].client);
    }

    /*
     * The eight uploads together raise the process's peak RSS by less than two
     * objects' worth; holding them would take eight.
     */
    if (!UNDER_SANITIZER)
        assert_true(rss_growth_mib < (long)(2 * (total >> 20)) + 32);
    transport_fixture_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_object_streamed),
        cmocka_unit_test(test_interrupted_transfer_resumes),
        cmocka_unit_test(test_coordinator_restart_mid_transfer),
        cmocka_unit_test(test_changed_bytes_stop_sender),
        cmocka_unit_test(test_adapter_sent_to_sites_at_once),
        cmocka_unit_test(test_adapter_resumes_after_site_reconnects),
        cmocka_unit_test(test_sites_upload_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
