/*
 * proto_transport_internal.h - the link struct shared by proto_transport*.c.
 * Not part of the public API.
 */
#ifndef PROTO_TRANSPORT_INTERNAL_H
#define PROTO_TRANSPORT_INTERNAL_H

#include "proto_replay.h"
#include "proto_transport.h"

/* Longest ZMQ routing id a ROUTER assigns (libzmq uses 5 bytes by default). */
#define PROTO_MAX_ROUTING_ID 255

typedef struct proto_peer {
    char name[PROTO_MAX_ID + 1];
    uint8_t routing_id[PROTO_MAX_ROUTING_ID];
    size_t routing_id_length;
    int64_t last_seen_ms;
    int64_t last_heartbeat_sent_ms;
    uint64_t heartbeats_received;
    uint64_t answered_session; /* peer session whose Hello this side answered */
    uint64_t prompted_session; /* unknown peer session this side sent a Hello to */
    bool dead;
} proto_peer;

struct proto_link {
    void *socket;
    bool is_server;
    proto_link_options options;
    char name[PROTO_MAX_ID + 1];
    char job_id[PROTO_MAX_ID + 1];
    uint64_t round;
    uint64_t session;
    uint64_t sequence;
    Fedlora__AgentState state;
    proto_round_progress progress;  /* client only: reported in every heartbeat */
    char endpoint[256];
    proto_replay *replay;
    int64_t last_heartbeat_sent_ms; /* client only */
    int64_t last_tick_ms;           /* previous proto_link_tick, 0 before the first */

    proto_peer *peers;
    size_t peer_count;
    size_t peer_capacity;

    proto_sent_fn on_sent;          /* called for every message sent; may be NULL */
    void *on_sent_context;
};

/* Returns the peer named name, or NULL. */
proto_peer *proto_link_find_peer(const proto_link *link, const char *name);

/* Returns the peer named name, adding it when new. */
proto_peer *proto_link_add_peer(proto_link *link, const char *name);

/* proto_link_send() with zmq_send() flags, such as ZMQ_DONTWAIT. */
int proto_link_send_flags(proto_link *link, const char *peer, Fedlora__Envelope *envelope,
                          int flags, fl_error *err);

/* Sends a Hello from link, to peer on a server or to the server on a client. */
int proto_link_send_hello(proto_link *link, const char *peer, fl_error *err);

#endif
