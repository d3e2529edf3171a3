/* Socket setup, sending and receiving of envelopes over ZeroMQ CURVE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "fl_log.h"
#include "fl_mem.h"
#include "proto_codec.h"
#include "proto_transport_internal.h"

#define ZAP_DOMAIN "fedlora"

void proto_link_options_default(proto_link_options *options)
{
    memset(options, 0, sizeof(*options));
    options->heartbeat_interval_ms = 1000;
    options->heartbeat_timeout_ms = 10000;
    options->peer_timeout_ms = 30000;
    options->reconnect_interval_ms = 200;
    options->reconnect_interval_max_ms = 5000;
    options->send_timeout_ms = 30000;
    options->high_water_mark = 64;
}

static int set_int(void *socket, int option, int value, const char *option_name, fl_error *err)
{
    if (zmq_setsockopt(socket, option, &value, sizeof(value)) != 0)
        return fl_error_set(err, FL_ENET, "transport: cannot set %s to %d: %s", option_name,
                            value, zmq_strerror(zmq_errno()));
    return FL_OK;
}

static int set_bytes(void *socket, int option, const void *value, size_t length,
                     const char *option_name, fl_error *err)
{
    if (zmq_setsockopt(socket, option, value, length) != 0)
        return fl_error_set(err, FL_ENET, "transport: cannot set %s: %s", option_name,
                            zmq_strerror(zmq_errno()));
    return FL_OK;
}

/* Applies the options both ends share: linger, watermarks, heartbeats, limits. */
static int configure_common(void *socket, const proto_link_options *o, fl_error *err)
{
    int64_t max_message = PROTO_MAX_FRAME;
    int ttl = o->heartbeat_timeout_ms;
    int status = set_int(socket, ZMQ_LINGER, 0, "ZMQ_LINGER", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_SNDHWM, o->high_water_mark, "ZMQ_SNDHWM", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_RCVHWM, o->high_water_mark, "ZMQ_RCVHWM", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_SNDTIMEO, o->send_timeout_ms, "ZMQ_SNDTIMEO", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_HEARTBEAT_IVL, o->heartbeat_interval_ms,
                         "ZMQ_HEARTBEAT_IVL", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_HEARTBEAT_TIMEOUT, o->heartbeat_timeout_ms,
                         "ZMQ_HEARTBEAT_TIMEOUT", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_HEARTBEAT_TTL, ttl, "ZMQ_HEARTBEAT_TTL", err);
    if (status == FL_OK)
        status = set_int(socket, ZMQ_TCP_KEEPALIVE, 1, "ZMQ_TCP_KEEPALIVE", err);
    if (status == FL_OK)
        status = set_bytes(socket, ZMQ_MAXMSGSIZE, &max_message, sizeof(max_message),
                           "ZMQ_MAXMSGSIZE", err);
    return status;
}

static int check_options(const proto_link_options *o, const char *name, fl_error *err)
{
    size_t length = name != NULL ? strlen(name) : 0;
    if (length == 0 || length > PROTO_MAX_ID)
        return fl_error_set(err, FL_EINVAL, "transport: link name must be 1 to %u bytes",
                            PROTO_MAX_ID);
    if (o->heartbeat_interval_ms < 1 || o->heartbeat_timeout_ms < o->heartbeat_interval_ms ||
        o->peer_timeout_ms < o->heartbeat_interval_ms || o->high_water_mark < 1 ||
        o->reconnect_interval_ms < 1 || o->send_timeout_ms < 1)
        return fl_error_set(err, FL_EINVAL,
                            "transport: invalid link options (heartbeat %d ms, heartbeat timeout "
                            "%d ms, peer timeout %d ms, high-water mark %d); the timeouts must "
                            "be at least the heartbeat interval", o->heartbeat_interval_ms,
                            o->heartbeat_timeout_ms, o->peer_timeout_ms, o->high_water_mark);
    return FL_OK;
}

/* Allocates a link with a fresh random session; the caller creates the socket. */
static proto_link *link_alloc(const char *name, const proto_link_options *options)
{
    proto_link *link = fl_xcalloc(1, sizeof(proto_link));
    link->options = *options;
    snprintf(link->name, sizeof(link->name), "%s", name);
    while (link->session == 0)
        randombytes_buf(&link->session, sizeof(link->session));
    link->replay = proto_replay_new();
    return link;
}

int proto_server_new(void *zmq_context, proto_zap *zap, const char *bind_endpoint,
                     const uint8_t server_public[PROTO_KEY_BYTES],
                     const uint8_t server_secret[PROTO_KEY_BYTES], const char *name,
                     const proto_link_options *options, proto_link **out, fl_error *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "transport: sodium_init() failed");
    int status = check_options(options, name, err);
    if (status != FL_OK)
        return status;
    if (!options->plaintext && (zap == NULL || proto_zap_context(zap) != zmq_context))
        return fl_error_set(err, FL_EINVAL, "transport: a CURVE server needs a ZAP handler in "
                            "its own context, or libzmq would admit every client");
    (void)server_public;

    proto_link *link = link_alloc(name, options);
    link->is_server = true;
    link->socket = zmq_socket(zmq_context, ZMQ_ROUTER);
    if (link->socket == NULL) {
        status = fl_error_set(err, FL_ENET, "transport: cannot create a ROUTER socket: %s",
                              zmq_strerror(zmq_errno()));
        goto free_link;
    }

    status = configure_common(link->socket, options, err);
    if (status == FL_OK)
        status = set_int(link->socket, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY", err);
    if (status == FL_OK && !options->plaintext) {
        status = set_int(link->socket, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER", err);
        if (status == FL_OK)
            status = set_bytes(link->socket, ZMQ_CURVE_SECRETKEY, server_secret,
                               PROTO_KEY_BYTES, "ZMQ_CURVE_SECRETKEY", err);
        if (status == FL_OK)
            status = set_bytes(link->socket, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN),
                               "ZMQ_ZAP_DOMAIN", err);
    }
    if (status != FL_OK)
        goto close_socket;

    if (zmq_bind(link->socket, bind_endpoint) != 0) {
        status = fl_error_set(err, FL_ENET, "transport: cannot bind %s: %s; check the address "
                              "and that the port is free", bind_endpoint,
                              zmq_strerror(zmq_errno()));
        goto close_socket;
    }
    size_t endpoint_size = sizeof(link->endpoint);
    zmq_getsockopt(link->socket, ZMQ_LAST_ENDPOINT, link->endpoint, &endpoint_size);
    fl_info("listening on %s (%s)", link->endpoint, options->plaintext ? "plaintext" : "CURVE");
    *out = link;
    return FL_OK;

close_socket:
    zmq_close(link->socket);
free_link:
    proto_replay_destroy(&link->replay);
    free(link);
    return status;
}

int proto_client_new(void *zmq_context, const char *endpoint,
                     const uint8_t server_public[PROTO_KEY_BYTES],
                     const uint8_t client_public[PROTO_KEY_BYTES],
                     const uint8_t client_secret[PROTO_KEY_BYTES], const char *name,
                     const proto_link_options *options, proto_link **out, fl_error *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "transport: sodium_init() failed");
    int status = check_options(options, name, err);
    if (status != FL_OK)
        return status;

    proto_link *link = link_alloc(name, options);
    snprintf(link->endpoint, sizeof(link->endpoint), "%s", endpoint);
    link->socket = zmq_socket(zmq_context, ZMQ_DEALER);
    if (link->socket == NULL) {
        status = fl_error_set(err, FL_ENET, "transport: cannot create a DEALER socket: %s",
                              zmq_strerror(zmq_errno()));
        goto free_link;
    }

    status = configure_common(link->socket, options, err);
    if (status == FL_OK)
        status = set_int(link->socket, ZMQ_RECONNECT_IVL, options->reconnect_interval_ms,
                         "ZMQ_RECONNECT_IVL", err);
    if (status == FL_OK)
        status = set_int(link->socket, ZMQ_RECONNECT_IVL_MAX, options->reconnect_interval_max_ms,
                         "ZMQ_RECONNECT_IVL_MAX", err);
    if (status == FL_OK && !options->plaintext) {
        status = set_bytes(link->socket, ZMQ_CURVE_SERVERKEY, server_public, PROTO_KEY_BYTES,
                           "ZMQ_CURVE_SERVERKEY", err);
        if (status == FL_OK)
            status = set_bytes(link->socket, ZMQ_CURVE_PUBLICKEY, client_public,
                               PROTO_KEY_BYTES, "ZMQ_CURVE_PUBLICKEY", err);
        if (status == FL_OK)
            status = set_bytes(link->socket, ZMQ_CURVE_SECRETKEY, client_secret,
                               PROTO_KEY_BYTES, "ZMQ_CURVE_SECRETKEY", err);
    }
    if (status != FL_OK)
        goto close_socket;

    if (zmq_connect(link->socket, endpoint) != 0) {
        status = fl_error_set(err, FL_ENET, "transport: cannot connect to %s: %s", endpoint,
                              zmq_strerror(zmq_errno()));
        goto close_socket;
    }
    status = proto_link_send_hello(link, NULL, err);
    if (status != FL_OK)
        goto close_socket;
    link->last_heartbeat_sent_ms = proto_now_ms();
    *out = link;
    return FL_OK;

close_socket:
    zmq_close(link->socket);
free_link:
    proto_replay_destroy(&link->replay);
    free(link);
    return status;
}

void proto_link_destroy(proto_link **link)
{
    if (link == NULL || *link == NULL)
        return;
    zmq_close((*link)->socket);
    proto_replay_destroy(&(*link)->replay);
    free((*link)->peers);
    free(*link);
    *link = NULL;
}

const char *proto_link_endpoint(const proto_link *link)
{
    return link->endpoint;
}

void *proto_link_socket(proto_link *link)
{
    return link->socket;
}

int proto_link_set_job(proto_link *link, const char *job_id, uint64_t round, fl_error *err)
{
    size_t length = strlen(job_id);
    if (length == 0 || length > PROTO_MAX_ID)
        return fl_error_set(err, FL_EINVAL, "transport: job id must be 1 to %u bytes",
                            PROTO_MAX_ID);

    int status;
    if (strcmp(link->job_id, job_id) == 0)
        status = proto_replay_set_round(link->replay, round, err);
    else
        status = proto_replay_set_job(link->replay, job_id, round, err);
    if (status != FL_OK)
        return status;
    memcpy(link->job_id, job_id, length + 1);
    link->round = round;
    return FL_OK;
}

void proto_link_on_sent(proto_link *link, proto_sent_fn on_sent, void *context)
{
    link->on_sent = on_sent;
    link->on_sent_context = context;
}

void proto_link_set_state(proto_link *link, Fedlora__AgentState state)
{
    link->state = state;
}

void proto_link_set_progress(proto_link *link, const proto_round_progress *progress)
{
    link->progress = *progress;
}

static void free_buffer(void *data, void *hint)
{
    (void)hint;
    free(data);
}

int proto_link_send(proto_link *link, const char *peer, Fedlora__Envelope *envelope,
                    fl_error *err)
{
    return proto_link_send_flags(link, peer, envelope, 0, err);
}

int proto_link_send_flags(proto_link *link, const char *peer, Fedlora__Envelope *envelope,
                          int flags, fl_error *err)
{
    const proto_peer *target = NULL;
    if (link->is_server) {
        target = peer != NULL ? proto_link_find_peer(link, peer) : NULL;
        if (target == NULL)
            return fl_error_set(err, FL_ENOTFOUND, "transport: no connection from peer %s yet",
                                peer != NULL ? peer : "(none)");
    }

    envelope->protocol_version = PROTO_VERSION;
    envelope->sender = link->name;
    envelope->job_id = link->job_id;
    envelope->round = link->round;
    envelope->session = link->session;
    envelope->sequence = link->sequence + 1;

    uint8_t *bytes = NULL;
    size_t length = 0;
    int status = proto_encode_envelope(envelope, &bytes, &length, err);
    if (status != FL_OK)
        return status;
    link->sequence++;

    if (target != NULL &&
        zmq_send(link->socket, target->routing_id, target->routing_id_length,
                 ZMQ_SNDMORE | flags) < 0) {
        free(bytes);
        goto send_failed;
    }

    if (link->on_sent != NULL)
        link->on_sent(envelope, bytes, length, link->on_sent_context);
    zmq_msg_t payload;
    zmq_msg_init_data(&payload, bytes, length, free_buffer, NULL);
    if (zmq_msg_send(&payload, link->socket, flags) < 0) {
        zmq_msg_close(&payload);
        goto send_failed;
    }
    return FL_OK;

send_failed:
    if (zmq_errno() == EAGAIN)
        return fl_error_set(err, FL_ETIMEOUT, "transport: sending %s to %s timed out after %d ms "
                            "because the queue stayed full", proto_body_name(envelope->body_case),
                            peer != NULL ? peer : link->endpoint, link->options.send_timeout_ms);
    if (zmq_errno() == EHOSTUNREACH)
        return fl_error_set(err, FL_ENOTFOUND, "transport: cannot send %s to %s: the peer is not "
                            "connected now", proto_body_name(envelope->body_case),
                            peer != NULL ? peer : link->endpoint);
    return fl_error_set(err, FL_ENET, "transport: sending %s to %s failed: %s",
                        proto_body_name(envelope->body_case), peer != NULL ? peer : link->endpoint,
                        zmq_strerror(zmq_errno()));
}

void proto_message_release(proto_message *message)
{
    if (message == NULL)
        return;
    proto_envelope_free(&message->envelope);
}

/* Receives the rest of a multipart message so the next read starts cleanly. */
static void drain_frames(void *socket)
{
    int more = 1;
    size_t size = sizeof(more);
    while (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        zmq_msg_recv(&frame, socket, 0);
        zmq_msg_close(&frame);
    }
}

/* Reads the frames of one message into routing_id (server) and payload. */
static int read_frames(proto_link *link, zmq_msg_t *routing_id, zmq_msg_t *payload,
                       fl_error *err)
{
    if (link->is_server && zmq_msg_recv(routing_id, link->socket, 0) < 0)
        return fl_error_set(err, FL_ENET, "transport: receive failed: %s",
                            zmq_strerror(zmq_errno()));
    if (link->is_server && !zmq_msg_more(routing_id))
        return fl_error_set(err, FL_EFORMAT, "transport: message without payload frame");
    if (zmq_msg_recv(payload, link->socket, 0) < 0)
        return fl_error_set(err, FL_ENET, "transport: receive failed: %s",
                            zmq_strerror(zmq_errno()));
    if (zmq_msg_more(payload)) {
        drain_frames(link->socket);
        return fl_error_set(err, FL_EFORMAT, "transport: message with more than one payload "
                            "frame");
    }
    return FL_OK;
}

/* Finds who sent payload: the ZAP User-Id on a CURVE server, else the envelope's sender. */
static int authenticate(proto_link *link, zmq_msg_t *payload, const Fedlora__Envelope *e,
                        char peer[PROTO_MAX_ID + 1], fl_error *err)
{
    const char *user_id = link->is_server && !link->options.plaintext
                              ? zmq_msg_gets(payload, "User-Id")
                              : NULL;
    if (link->is_server && !link->options.plaintext) {
        if (user_id == NULL || user_id[0] == '\0')
            return fl_error_set(err, FL_EPERM, "transport: message from %s carries no "
                                "authenticated identity", e->sender);
        if (strcmp(user_id, e->sender) != 0)
            return fl_error_set(err, FL_EPERM, "transport: message claims sender \"%s\" but its "
                                "CURVE key belongs to \"%s\"", e->sender, user_id);
    }
    snprintf(peer, PROTO_MAX_ID + 1, "%s", e->sender);
    return FL_OK;
}

/* Records that peer was heard from, over the connection routing_id on a server. */
static void mark_seen(proto_link *link, const char *name, zmq_msg_t *routing_id,
                      const Fedlora__Envelope *e)
{
    proto_peer *peer = proto_link_add_peer(link, name);
    if (link->is_server) {
        size_t length = zmq_msg_size(routing_id);
        if (length > PROTO_MAX_ROUTING_ID)
            length = PROTO_MAX_ROUTING_ID;
        memcpy(peer->routing_id, zmq_msg_data(routing_id), length);
        peer->routing_id_length = length;
    }
    if (peer->dead)
        fl_info("peer %s is alive again", name);
    peer->dead = false;
    peer->last_seen_ms = proto_now_ms();
    if (e->body_case == FEDLORA__ENVELOPE__BODY_HEARTBEAT)
        peer->heartbeats_received++;
}

/*
 * Each side answers the Hello that opens a peer session with its own, so a
 * restarted coordinator and its agents learn each other's new sessions. A
 * failed answer is logged only: the peer's next Hello retries it.
 */
static void answer_hello(proto_link *link, const char *name, const Fedlora__Envelope *e)
{
    proto_peer *peer = proto_link_find_peer(link, name);
    if (e->body_case != FEDLORA__ENVELOPE__BODY_HELLO || peer->answered_session == e->session)
        return;

    fl_info("peer %s opened session %016llx (%s)", name, (unsigned long long)e->session,
            e->hello->software);
    fl_error err = {0};
    if (proto_link_send_hello(link, name, &err) != FL_OK) {
        fl_warn("cannot answer the hello of %s: %s", name, err.msg);
        return;
    }
    peer->answered_session = e->session;
}

/*
 * After this side restarted, an authenticated peer keeps sending in a session
 * this side never saw opened. Sending our Hello (once per peer session) makes
 * the peer answer with its own, which reopens the session here. Returns
 * false when this session was prompted before, so its later rejections are
 * not worth a warning each.
 */
static bool prompt_hello(proto_link *link, const char *name, zmq_msg_t *routing_id,
                         const Fedlora__Envelope *e)
{
    if (name[0] == '\0' || proto_replay_session_known(link->replay, name, e->session))
        return true;

    proto_peer *peer = proto_link_find_peer(link, name);
    if (peer != NULL && peer->prompted_session == e->session)
        return false;
    peer = proto_link_add_peer(link, name);
    if (link->is_server) {
        size_t length = zmq_msg_size(routing_id);
        peer->routing_id_length = length < PROTO_MAX_ROUTING_ID ? length : PROTO_MAX_ROUTING_ID;
        memcpy(peer->routing_id, zmq_msg_data(routing_id), peer->routing_id_length);
    }
    peer->prompted_session = e->session;
    peer->last_seen_ms = proto_now_ms();

    fl_error err = {0};
    if (proto_link_send_hello(link, link->is_server ? name : NULL, &err) != FL_OK)
        fl_warn("cannot send a hello to %s: %s", name, err.msg);
    return true;
}

int proto_link_recv(proto_link *link, int timeout_ms, proto_message *message, fl_error *err)
{
    fl_error local_err = {0};
    if (err == NULL)
        err = &local_err;
    memset(message, 0, sizeof(*message));
    zmq_pollitem_t item = {.socket = link->socket, .events = ZMQ_POLLIN};
    int ready = zmq_poll(&item, 1, timeout_ms);
    if (ready < 0 && zmq_errno() == EINTR)
        return fl_error_set(err, FL_ETIMEOUT, "transport: poll interrupted by a signal");
    if (ready < 0)
        return fl_error_set(err, FL_ENET, "transport: poll failed: %s",
                            zmq_strerror(zmq_errno()));
    if (ready == 0)
        return fl_error_set(err, FL_ETIMEOUT, "transport: no message within %d ms", timeout_ms);

    zmq_msg_t routing_id, payload;
    zmq_msg_init(&routing_id);
    zmq_msg_init(&payload);
    Fedlora__Envelope *envelope = NULL;
    int status = read_frames(link, &routing_id, &payload, err);
    if (status == FL_OK)
        status = proto_decode_envelope(zmq_msg_data(&payload), zmq_msg_size(&payload),
                                       &envelope, err);
    if (status == FL_OK)
        status = authenticate(link, &payload, envelope, message->peer, err);
    if (status == FL_OK)
        status = proto_replay_accept(link->replay, envelope, err);
    bool first_rejection = true;
    if (status == FL_OK) {
        mark_seen(link, message->peer, &routing_id, envelope);
        answer_hello(link, message->peer, envelope);
    } else if (status == FL_EPROTO) {
        first_rejection = prompt_hello(link, message->peer, &routing_id, envelope);
    }

    const char *sender = envelope != NULL ? envelope->sender : "a peer";
    if (status != FL_OK && status != FL_ENET && first_rejection)
        fl_warn("rejected a message from %s: %s", sender, err->msg);
    else if (status != FL_OK && status != FL_ENET)
        fl_debug("rejected a message from %s: %s", sender, err->msg);
    if (status != FL_OK)
        proto_envelope_free(&envelope);
    message->envelope = envelope;
    zmq_msg_close(&routing_id);
    zmq_msg_close(&payload);
    return status;
}
