/*
 * proto_transport.h - ZeroMQ CURVE links between coordinator and agents.
 *
 * The coordinator opens a server link: a ROUTER socket acting as CURVE
 * server, whose clients a proto_zap handler approves. Each agent opens a
 * client link: a DEALER socket that reconnects by itself. A link carries envelopes:
 * proto_link_send() fills in the header (protocol version, sender, session,
 * sequence, job, round) and proto_link_recv() decodes, validates,
 * authenticates and replay-checks every message before returning it.
 *
 * Liveness: every message received marks its peer as seen. proto_link_tick()
 * sends an application Heartbeat to each live peer once per heartbeat
 * interval and declares a peer dead after peer_timeout_ms of silence. Time
 * beyond PROTO_TICK_STALL_MS between two ticks (this process was busy or had
 * no CPU) does not count as silence, because heartbeats wait in the queue. ZMQ's
 * own heartbeats (ZMQ_HEARTBEAT_IVL/TTL/TIMEOUT) close dead TCP connections,
 * and the client reconnects every reconnect_interval_ms.
 *
 * A link is not thread-safe: use it from one thread only.
 */
#ifndef PROTO_TRANSPORT_H
#define PROTO_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "fedlora.pb-c.h"
#include "fl_error.h"
#include "proto_limits.h"
#include "proto_zap.h"

/* Longest expected gap between two proto_link_tick calls of a serving loop, ms. */
#define PROTO_TICK_STALL_MS 1000

typedef struct proto_link_options {
    /* Application Heartbeat period and ZMQ_HEARTBEAT_IVL, ms. Default 1000. */
    int heartbeat_interval_ms;
    /* ZMQ_HEARTBEAT_TIMEOUT and ZMQ_HEARTBEAT_TTL, ms. Default 10000. */
    int heartbeat_timeout_ms;
    /* Silence after which proto_link_tick() declares a peer dead, ms. Default 30000. */
    int peer_timeout_ms;
    /* ZMQ_RECONNECT_IVL and ZMQ_RECONNECT_IVL_MAX of a client, ms. Defaults 200 and 5000. */
    int reconnect_interval_ms;
    int reconnect_interval_max_ms;
    /* ZMQ_SNDTIMEO: how long a send may wait for queue space, ms. Default 30000. */
    int send_timeout_ms;
    /* ZMQ_SNDHWM and ZMQ_RCVHWM, in messages. Default 64. */
    int high_water_mark;
    /*
     * Sends without CURVE when true. Only the transport benchmark sets it, to
     * measure what encryption costs; the daemons never do.
     */
    bool plaintext;
} proto_link_options;

typedef struct proto_link proto_link;

/*
 * A client's place in a round attempt, reported in each of its heartbeats
 * (RoundProgress in fedlora.proto). Control steps are numbered as
 * proto_control_step() returns them; 0 means none.
 */
typedef struct proto_round_progress {
    uint32_t attempt;
    uint32_t control_received; /* latest coordinator control message processed */
    uint32_t control_replied; /* latest one replied to with a control message of its own */
} proto_round_progress;

/* One received, validated message. */
typedef struct proto_message {
    /*
     * The authenticated peer: on a server the name the ZAP handler lists
     * for the client's key, on a client the server's envelope sender.
     */
    char peer[PROTO_MAX_ID + 1];
    Fedlora__Envelope *envelope;
} proto_message;

/*
 * Called for every message the link hands to ZeroMQ, heartbeats and transfer
 * acknowledgements included, with the encoded bytes, just before they are
 * queued. A site records them in its audit log; when queueing then fails,
 * proto_link_send() returns the error, so such an entry may name a message
 * that never left.
 */
typedef void (*proto_sent_fn)(const Fedlora__Envelope *envelope, const uint8_t *bytes,
                              size_t length, void *context);

/* Called by proto_link_tick() once for each peer it declares dead. */
typedef void (*proto_dead_peer_fn)(const char *peer, void *context);

/* Fills options with the defaults listed above. */
void proto_link_options_default(proto_link_options *options);

/*
 * Opens a server link: a ROUTER bound to bind_endpoint, with CURVE server
 * keys given raw (32 bytes each). An endpoint such as "tcp://127.0.0.1:*"
 * lets the OS pick the port, which proto_link_endpoint() then returns. zap must run in the same
 * context, because without a ZAP handler libzmq admits every CURVE client.
 * name is the sender name in outgoing envelopes. Returns FL_OK and the link
 * in *out, FL_EINVAL for bad arguments or FL_ENET when the socket fails.
 */
int proto_server_new(void *zmq_context, proto_zap *zap, const char *bind_endpoint,
                     const uint8_t server_public[PROTO_KEY_BYTES],
                     const uint8_t server_secret[PROTO_KEY_BYTES], const char *name,
                     const proto_link_options *options, proto_link **out,
                     fl_error *err) FL_WARN_UNUSED;

/*
 * Opens a client link: a DEALER connected to endpoint, authenticating the
 * server by server_public and itself by its own key pair, and queues a
 * Hello that opens a new session. name is the site id. Returns as
 * proto_server_new().
 */
int proto_client_new(void *zmq_context, const char *endpoint,
                     const uint8_t server_public[PROTO_KEY_BYTES],
                     const uint8_t client_public[PROTO_KEY_BYTES],
                     const uint8_t client_secret[PROTO_KEY_BYTES], const char *name,
                     const proto_link_options *options, proto_link **out,
                     fl_error *err) FL_WARN_UNUSED;

/* Closes the socket without waiting for unsent messages and frees the link. NULL-safe. */
void proto_link_destroy(proto_link **link);

/* Returns the endpoint the server bound or the client connects to. */
const char *proto_link_endpoint(const proto_link *link);

/* Returns the ZeroMQ socket, for zmq_poll() together with other sockets. */
void *proto_link_socket(proto_link *link);

/*
 * Sets the job and round put into outgoing envelopes and enforced on
 * incoming ones (see proto_replay.h). Returns FL_ESTATE when the round goes
 * back within the same job.
 */
int proto_link_set_job(proto_link *link, const char *job_id, uint64_t round,
                        fl_error *err) FL_WARN_UNUSED;

/* Sets the function called for every message sent (NULL to stop). */
void proto_link_on_sent(proto_link *link, proto_sent_fn on_sent, void *context);

/* Sets the state a client reports in its heartbeats. */
void proto_link_set_state(proto_link *link, Fedlora__AgentState state);

/*
 * Sets the round progress a client reports in its heartbeats, which name the
 * round last given to proto_link_set_job(). A client link reports zeros
 * until this is called.
 */
void proto_link_set_progress(proto_link *link, const proto_round_progress *progress);

/*
 * Sends envelope, whose body the caller set, after filling in its header.
 * On a server peer names the client; a client passes NULL. Returns FL_OK,
 * the codes of proto_encode_envelope() for an invalid message,
 * FL_ENOTFOUND for a peer never heard from or not connected now, FL_ENET
 * when the socket failed and FL_ETIMEOUT when the queue stayed full for
 * send_timeout_ms.
 */
int proto_link_send(proto_link *link, const char *peer, Fedlora__Envelope *envelope,
                    fl_error *err) FL_WARN_UNUSED;

/*
 * Waits up to timeout_ms for one message. Returns FL_OK with *message
 * filled (release it with proto_message_release()), FL_ETIMEOUT when none
 * came, or FL_ENET when the socket failed. Any other code means a message
 * arrived but was rejected: malformed, a sender name that does not match
 * its key, replayed or stale. The rejection is logged here, and the caller
 * may simply call again. A server answers a Hello that opens a session with its
 * own Hello before returning it.
 */
int proto_link_recv(proto_link *link, int timeout_ms, proto_message *message,
                    fl_error *err) FL_WARN_UNUSED;

/* Frees the envelope of message. NULL-safe. */
void proto_message_release(proto_message *message);

/*
 * Sends heartbeats that are due and declares silent peers dead, calling
 * on_dead (may be NULL) for each. Call it at least once per heartbeat
 * interval, including while a transfer runs. Returns FL_OK or FL_ENET.
 */
int proto_link_tick(proto_link *link, proto_dead_peer_fn on_dead, void *context,
                    fl_error *err) FL_WARN_UNUSED;

/* Returns true when peer has been heard from and is not declared dead. */
bool proto_link_peer_alive(const proto_link *link, const char *peer);

/*
 * Returns when peer was last heard from, on the proto_now_ms() clock, or -1
 * when it never was.
 */
int64_t proto_link_peer_last_seen_ms(const proto_link *link, const char *peer);

/* Returns how many application heartbeats the link received from peer. */
uint64_t proto_link_heartbeats_from(const proto_link *link, const char *peer);

/* Returns the current monotonic time in ms, the clock liveness uses. */
int64_t proto_now_ms(void);

#endif
