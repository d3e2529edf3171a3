#include "proto_zap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "fl_log.h"
#include "fl_mem.h"
#include "proto_codec.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* How often the thread checks its stop flag while no request arrives. */
#define ZAP_POLL_MS 50
/* A ZAP request has 6 frames plus one per credential; CURVE sends 1. */
#define ZAP_MAX_FRAMES 8

/* Repeated rejections of one key are logged at most once per this period. */
#define ZAP_LOG_PERIOD_MS 60000
/* Rejected keys remembered for rate-limiting the log; older ones are logged again. */
#define ZAP_RECENT_KEYS 64

typedef struct zap_rejection {
    char fingerprint[PROTO_FINGERPRINT_CHARS + 1];
    int64_t logged_ms;
    uint64_t unlogged;
} zap_rejection;

typedef struct zap_entry {
    uint8_t key[PROTO_KEY_BYTES];
    char name[PROTO_MAX_ID + 1];
} zap_entry;

struct proto_zap {
    void *context;
    void *socket;
    pthread_t thread;
    atomic_int stop;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t admitted;

    zap_rejection recent[ZAP_RECENT_KEYS]; /* used by the handler thread only */
    size_t recent_next;

    pthread_mutex_t lock; /* guards entries and hint */
    char hint[160];       /* what the rejection log tells the operator to do */
    zap_entry *entries;
    size_t entry_count;
    size_t entry_capacity;
};

void proto_key_fingerprint(const uint8_t public_key[PROTO_KEY_BYTES],
                           char out[PROTO_FINGERPRINT_CHARS + 1])
{
    uint8_t digest[32];
    crypto_generichash(digest, sizeof(digest), public_key, PROTO_KEY_BYTES, NULL, 0);
    sodium_bin2hex(out, PROTO_FINGERPRINT_CHARS + 1, digest, PROTO_FINGERPRINT_CHARS / 2);
}

/* Copies the name listed for key into name; returns 0 when the key is not listed. */
static int lookup_key(proto_zap *zap, const uint8_t *key, char name[PROTO_MAX_ID + 1])
{
    int found = 0;
    pthread_mutex_lock(&zap->lock);
    for (size_t i = 0; i < zap->entry_count && !found; i++) {
        if (sodium_memcmp(zap->entries[i].key, key, PROTO_KEY_BYTES) == 0) {
            memcpy(name, zap->entries[i].name, PROTO_MAX_ID + 1);
            found = 1;
        }
    }
    pthread_mutex_unlock(&zap->lock);
    return found;
}

/* Receives all frames of one request; returns the frame count, or -1 on error. */
static int receive_request(void *socket, zmq_msg_t frames[ZAP_MAX_FRAMES])
{
    int count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t discard;
        zmq_msg_t *frame = count < ZAP_MAX_FRAMES ? &frames[count] : &discard;
        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, socket, 0) < 0) {
            zmq_msg_close(frame);
            for (int i = 0; i < count && i < ZAP_MAX_FRAMES; i++)
                zmq_msg_close(&frames[i]);
            return -1;
        }
        more = zmq_msg_more(frame);
        if (frame == &discard)
            zmq_msg_close(&discard);
        count++;
    }
    return count;
}

static int frame_equals(zmq_msg_t *frame, const char *text)
{
    size_t length = strlen(text);
    return zmq_msg_size(frame) == length && memcmp(zmq_msg_data(frame), text, length) == 0;
}

/* Sends a reply; request_id is NULL when the request was too short to carry one. */
static void send_reply(void *socket, zmq_msg_t *request_id, const char *code, const char *text,
                       const char *user_id)
{
    zmq_send(socket, "1.0", 3, ZMQ_SNDMORE);
    if (request_id != NULL)
        zmq_send(socket, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE);
    else
        zmq_send(socket, "", 0, ZMQ_SNDMORE);
    zmq_send(socket, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(socket, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(socket, user_id, strlen(user_id), ZMQ_SNDMORE);
    zmq_send(socket, "", 0, 0);
}

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * Logs the rejection of key. A rejected client keeps reconnecting, so
 * repeats of one key are counted and logged at most once per
 * ZAP_LOG_PERIOD_MS.
 */
static void log_rejection(proto_zap *zap, const uint8_t *key, const char *address)
{
    char fingerprint[PROTO_FINGERPRINT_CHARS + 1];
    proto_key_fingerprint(key, fingerprint);
    int64_t now = monotonic_ms();

    zap_rejection *entry = NULL;
    for (size_t i = 0; i < ZAP_RECENT_KEYS && entry == NULL; i++) {
        if (strcmp(zap->recent[i].fingerprint, fingerprint) == 0)
            entry = &zap->recent[i];
    }
    if (entry != NULL && now - entry->logged_ms < ZAP_LOG_PERIOD_MS) {
        entry->unlogged++;
        return;
    }
    if (entry == NULL) {
        entry = &zap->recent[zap->recent_next];
        zap->recent_next = (zap->recent_next + 1) % ZAP_RECENT_KEYS;
        memcpy(entry->fingerprint, fingerprint, sizeof(fingerprint));
        entry->unlogged = 0;
    }

    char hint[sizeof(zap->hint)];
    pthread_mutex_lock(&zap->lock);
    memcpy(hint, zap->hint, sizeof(hint));
    pthread_mutex_unlock(&zap->lock);
    fl_warn("rejected CURVE client from %s: public key with fingerprint %s is not in the "
            "allow-list (%llu earlier attempts not logged); %s", address, fingerprint,
            (unsigned long long)entry->unlogged, hint);
    entry->logged_ms = now;
    entry->unlogged = 0;
}

/*
 * Answers one request. Frames: version, request id, domain, address,
 * routing id, mechanism, then the credentials (the client's public key).
 */
static void handle_request(proto_zap *zap, zmq_msg_t *frames, int count)
{
    char address[64] = "unknown address";
    if (count >= 4) {
        size_t length = zmq_msg_size(&frames[3]);
        if (length >= sizeof(address))
            length = sizeof(address) - 1;
        memcpy(address, zmq_msg_data(&frames[3]), length);
        address[length] = '\0';
    }

    if (count != 7 || !frame_equals(&frames[0], "1.0") || !frame_equals(&frames[5], "CURVE") ||
        zmq_msg_size(&frames[6]) != PROTO_KEY_BYTES) {
        atomic_fetch_add(&zap->rejected, 1);
        fl_warn("rejected a connection from %s: not a CURVE handshake (%d ZAP frames); every "
                "fedlora socket must use CURVE", address, count);
        send_reply(zap->socket, count >= 2 ? &frames[1] : NULL, "400", "CURVE required", "");
        return;
    }

    const uint8_t *key = zmq_msg_data(&frames[6]);
    char name[PROTO_MAX_ID + 1];
    if (!lookup_key(zap, key, name)) {
        atomic_fetch_add(&zap->rejected, 1);
        log_rejection(zap, key, address);
        send_reply(zap->socket, &frames[1], "400", "public key not allowed", "");
        return;
    }

    atomic_fetch_add(&zap->admitted, 1);
    fl_debug("admitted CURVE client %s from %s", name, address);
    send_reply(zap->socket, &frames[1], "200", "OK", name);
}

static void *zap_thread(void *arg)
{
    proto_zap *zap = arg;
    zmq_pollitem_t item = {.socket = zap->socket, .events = ZMQ_POLLIN};
    while (!atomic_load(&zap->stop)) {
        int ready = zmq_poll(&item, 1, ZAP_POLL_MS);
        if (ready < 0 && zmq_errno() == ETERM)
            break;
        if (ready <= 0)
            continue;

        zmq_msg_t frames[ZAP_MAX_FRAMES];
        int count = receive_request(zap->socket, frames);
        if (count < 0)
            continue;
        handle_request(zap, frames, count);
        for (int i = 0; i < count && i < ZAP_MAX_FRAMES; i++)
            zmq_msg_close(&frames[i]);
    }
    return NULL;
}

int proto_zap_start(void *zmq_context, proto_zap **out, fl_error *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "ZAP handler: sodium_init() failed");

    int status = FL_ENET;
    proto_zap *zap = fl_xcalloc(1, sizeof(proto_zap));
    pthread_mutex_init(&zap->lock, NULL);
    snprintf(zap->hint, sizeof(zap->hint), "add the key to the project's site list to admit it");
    zap->context = zmq_context;
    zap->socket = zmq_socket(zmq_context, ZMQ_REP);
    if (zap->socket == NULL) {
        fl_error_set(err, FL_ENET, "ZAP handler: cannot create a REP socket: %s",
                     zmq_strerror(zmq_errno()));
        goto free_zap;
    }
    int linger = 0;
    zmq_setsockopt(zap->socket, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(zap->socket, ZAP_ENDPOINT) != 0) {
        status = zmq_errno() == EADDRINUSE ? FL_EEXIST : FL_ENET;
        fl_error_set(err, status, "ZAP handler: cannot bind %s: %s; only one handler may run per "
                     "ZeroMQ context", ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        goto close_socket;
    }
    if (pthread_create(&zap->thread, NULL, zap_thread, zap) != 0) {
        fl_error_set(err, FL_ENET, "ZAP handler: cannot start its thread");
        goto close_socket;
    }
    *out = zap;
    return FL_OK;

close_socket:
    zmq_close(zap->socket);
free_zap:
    pthread_mutex_destroy(&zap->lock);
    free(zap);
    return status;
}

void proto_zap_stop(proto_zap **zap)
{
    if (zap == NULL || *zap == NULL)
        return;
    proto_zap *handler = *zap;
    atomic_store(&handler->stop, 1);
    pthread_join(handler->thread, NULL);
    zmq_close(handler->socket);
    pthread_mutex_destroy(&handler->lock);
    free(handler->entries);
    free(handler);
    *zap = NULL;
}

int proto_zap_allow(proto_zap *zap, const uint8_t public_key[PROTO_KEY_BYTES], const char *name,
                    fl_error *err)
{
    size_t length = strlen(name);
    if (length == 0 || length > PROTO_MAX_ID || !proto_utf8_valid(name, length))
        return fl_error_set(err, FL_EINVAL,
                            "ZAP allow-list: name of %zu bytes is not 1 to %u bytes of UTF-8",
                            length, PROTO_MAX_ID);

    pthread_mutex_lock(&zap->lock);
    zap_entry *entry = NULL;
    for (size_t i = 0; i < zap->entry_count && entry == NULL; i++) {
        if (memcmp(zap->entries[i].key, public_key, PROTO_KEY_BYTES) == 0)
            entry = &zap->entries[i];
    }
    if (entry == NULL) {
        if (zap->entry_count == zap->entry_capacity) {
            zap->entry_capacity = zap->entry_capacity ? 2 * zap->entry_capacity : 8;
            zap->entries = fl_xrealloc(zap->entries, zap->entry_capacity * sizeof(zap_entry));
        }
        entry = &zap->entries[zap->entry_count++];
        memcpy(entry->key, public_key, PROTO_KEY_BYTES);
    }
    memcpy(entry->name, name, length + 1);
    pthread_mutex_unlock(&zap->lock);
    return FL_OK;
}

int proto_key_from_z85(const char *z85, const char *what, uint8_t key[PROTO_KEY_BYTES],
                       fl_error *err)
{
    size_t length = strlen(z85);
    if (length != 40 || zmq_z85_decode(key, z85) == NULL)
        return fl_error_set(err, FL_EFORMAT, "%s is not a Curve25519 key in Z85: expected 40 "
                            "characters of the Z85 alphabet, got %zu characters", what, length);
    return FL_OK;
}

int proto_zap_allow_z85(proto_zap *zap, const char *public_key_z85, const char *name,
                        fl_error *err)
{
    char what[PROTO_MAX_ID + 32];
    snprintf(what, sizeof(what), "public key of %s", name);
    uint8_t key[PROTO_KEY_BYTES];
    int status = proto_key_from_z85(public_key_z85, what, key, err);
    if (status != FL_OK)
        return status;
    return proto_zap_allow(zap, key, name, err);
}

int proto_zap_revoke(proto_zap *zap, const uint8_t public_key[PROTO_KEY_BYTES])
{
    int status = FL_ENOTFOUND;
    pthread_mutex_lock(&zap->lock);
    for (size_t i = 0; i < zap->entry_count; i++) {
        if (memcmp(zap->entries[i].key, public_key, PROTO_KEY_BYTES) == 0) {
            zap->entries[i] = zap->entries[zap->entry_count - 1];
            zap->entry_count--;
            status = FL_OK;
            break;
        }
    }
    pthread_mutex_unlock(&zap->lock);
    return status;
}

uint64_t proto_zap_rejected_count(proto_zap *zap)
{
    return atomic_load(&zap->rejected);
}

uint64_t proto_zap_admitted_count(proto_zap *zap)
{
    return atomic_load(&zap->admitted);
}

void *proto_zap_context(const proto_zap *zap)
{
    return zap->context;
}

void proto_zap_set_hint(proto_zap *zap, const char *hint)
{
    pthread_mutex_lock(&zap->lock);
    snprintf(zap->hint, sizeof(zap->hint), "%s", hint);
    pthread_mutex_unlock(&zap->lock);
}
