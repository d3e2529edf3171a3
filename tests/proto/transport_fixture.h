/*
 * transport_fixture.h - a coordinator-side server link with its ZAP handler
 * on 127.0.0.1 and an OS-assigned port, plus real CURVE keys, for the
 * transport tests.
 */
#ifndef TRANSPORT_FIXTURE_H
#define TRANSPORT_FIXTURE_H

#include <stdio.h>

#include "proto_transport.h"

typedef struct transport_keys {
    uint8_t public_key[PROTO_KEY_BYTES];
    uint8_t secret_key[PROTO_KEY_BYTES];
} transport_keys;

typedef struct transport_fixture {
    void *context;
    proto_zap *zap;
    proto_link *server;
    transport_keys server_keys;
    proto_link_options options;
    FILE *log; /* captured log lines */
} transport_fixture;

/* Starts context, ZAP handler and server with options (NULL for defaults). */
void transport_fixture_start(transport_fixture *f, const proto_link_options *options);

/* Closes everything and restores logging to stderr. */
void transport_fixture_stop(transport_fixture *f);

/* Generates a client key pair with libsodium. */
void transport_keys_generate(transport_keys *keys);

/* Connects a client named name with keys to the fixture's server. */
proto_link *transport_client(transport_fixture *f, const transport_keys *keys, const char *name);

/*
 * Receives on link until a message with body_case arrives or timeout_ms
 * passes; other messages are dropped. Returns FL_OK with *message filled.
 */
int transport_wait_for(proto_link *link, Fedlora__Envelope__BodyCase body_case,
                       int timeout_ms, proto_message *message);

/* Returns true when the captured log contains text. */
int transport_log_contains(transport_fixture *f, const char *text);

/* Returns how many times text occurs in the captured log. */
int transport_log_count(transport_fixture *f, const char *text);

#endif
