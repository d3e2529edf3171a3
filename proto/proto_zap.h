/*
 * proto_zap.h - the ZAP handler that decides which CURVE clients may connect.
 *
 * libzmq asks a ZAP handler (RFC 27, bound at inproc://zeromq.zap.01 in the
 * socket's context) to approve every CURVE handshake on a server socket.
 * This handler runs in its own thread, admits only public keys in its
 * allow-list, and logs each rejection with the key's fingerprint. An
 * admitted connection gets the name listed with its key as ZMQ "User-Id",
 * which proto_link_recv() reports as the authenticated peer.
 *
 * The allow-list may be changed at any time from any thread; a change
 * applies to handshakes that start afterwards, not to open connections.
 */
#ifndef PROTO_ZAP_H
#define PROTO_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"
#include "proto_limits.h"

/* Hex digits of a key fingerprint: the first 8 bytes of BLAKE2b-256 of the key. */
#define PROTO_FINGERPRINT_CHARS 16

typedef struct proto_zap proto_zap;

/*
 * Starts the handler thread in zmq_context (not owned). Only one handler can
 * bind in a context, so a second start in the same context fails with
 * FL_EEXIST. Returns FL_OK and the handler in *out, or FL_ENET.
 */
int proto_zap_start(void *zmq_context, proto_zap **out, fl_error *err) FL_WARN_UNUSED;

/*
 * Stops the thread, closes its socket and frees the handler; clears the
 * pointer. NULL-safe. Call it before zmq_ctx_term() on the context.
 */
void proto_zap_stop(proto_zap **zap);

/*
 * Admits public_key under name (1 to PROTO_MAX_ID bytes of UTF-8, usually
 * the site id). Adding a listed key again replaces its name. Returns FL_OK,
 * or FL_EINVAL for a bad name.
 */
int proto_zap_allow(proto_zap *zap, const uint8_t public_key[PROTO_KEY_BYTES], const char *name,
                    fl_error *err) FL_WARN_UNUSED;

/* Same as proto_zap_allow() with the key as 40 Z85 characters; FL_EFORMAT for a bad key. */
int proto_zap_allow_z85(proto_zap *zap, const char *public_key_z85, const char *name,
                        fl_error *err) FL_WARN_UNUSED;

/* Removes public_key from the allow-list. Returns FL_OK or FL_ENOTFOUND. */
int proto_zap_revoke(proto_zap *zap, const uint8_t public_key[PROTO_KEY_BYTES]);

/*
 * Sets what the log line of a rejected key tells the operator to do, at
 * most 159 bytes (longer text is cut). The default asks to add the key to
 * the project's site list.
 */
void proto_zap_set_hint(proto_zap *zap, const char *hint);

/* Returns how many handshakes the handler rejected so far. */
uint64_t proto_zap_rejected_count(proto_zap *zap);

/* Returns how many handshakes the handler admitted so far. */
uint64_t proto_zap_admitted_count(proto_zap *zap);

/*
 * Decodes a Curve25519 key written as 40 Z85 characters (the form
 * zmq_curve_keypair() produces and key files use) into key. Returns FL_OK,
 * or FL_EFORMAT naming what (for example "server public key") is invalid.
 */
int proto_key_from_z85(const char *z85, const char *what, uint8_t key[PROTO_KEY_BYTES],
                       fl_error *err) FL_WARN_UNUSED;

/* Returns the ZeroMQ context the handler serves. */
void *proto_zap_context(const proto_zap *zap);

/*
 * Writes the fingerprint of public_key, PROTO_FINGERPRINT_CHARS lowercase hex
 * digits plus a NUL, into out. Logs show fingerprints, never whole keys.
 */
void proto_key_fingerprint(const uint8_t public_key[PROTO_KEY_BYTES],
                           char out[PROTO_FINGERPRINT_CHARS + 1]);

#endif
