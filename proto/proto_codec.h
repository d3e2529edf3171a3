/*
 * proto_codec.h - encoding, decoding and validation of fedlora envelopes.
 *
 * The message types are the protobuf-c structs generated from fedlora.proto
 * (Fedlora__Envelope and friends, in fedlora.pb-c.h). Every decoded envelope
 * is validated before it is returned, so callers may rely on the bounds
 * documented in fedlora.proto and proto_limits.h. Encoding validates too, so
 * a program never sends a message its peer would reject.
 *
 * All functions are thread-safe: they keep no state between calls.
 */
#ifndef PROTO_CODEC_H
#define PROTO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "fedlora.pb-c.h"
#include "fl_error.h"
#include "proto_limits.h"

/*
 * Decodes and validates one envelope from data[0..length). On success
 * returns FL_OK and stores a message the caller owns in *out; free it with
 * proto_envelope_free(). On failure *out is NULL and the function returns
 * FL_EFORMAT (not a valid protobuf, or a malformed field), FL_ERANGE (a value
 * outside its bounds) or FL_EUNSUPPORTED (another protocol version), with err
 * naming the field and its value.
 */
int proto_decode_envelope(const uint8_t *data, size_t length, Fedlora__Envelope **out,
                          fl_error *err) FL_WARN_UNUSED;

/*
 * Validates envelope as proto_decode_envelope() does. Returns FL_OK or the
 * codes listed there, with err naming the field.
 */
int proto_validate_envelope(const Fedlora__Envelope *envelope, fl_error *err) FL_WARN_UNUSED;

/*
 * Validates and encodes envelope. On success *out is a heap buffer the caller
 * owns (free it with free()) and *length its size.
 */
int proto_encode_envelope(const Fedlora__Envelope *envelope, uint8_t **out, size_t *length,
                          fl_error *err) FL_WARN_UNUSED;

/* Frees a decoded envelope and clears the pointer. NULL-safe. */
void proto_envelope_free(Fedlora__Envelope **envelope);

/* Returns the name of the body's message type ("hello", "model_chunk", ...). */
const char *proto_body_name(Fedlora__Envelope__BodyCase body_case);

/*
 * Returns the number of a coordinator's round control message within its round
 * attempt: 1 for RoundStart, 2 for the KeyList (advertise_keys), 3 for the
 * share relay (share_keys), 4 for UnmaskRequest, as RoundProgress in
 * fedlora.proto numbers them. Returns 0 for every other body.
 */
uint32_t proto_control_step(Fedlora__Envelope__BodyCase body_case);

/*
 * Computes the BLAKE2b-256 hash of envelope's body without its header, which
 * every send fills in afresh, so a resent message hashes like its first copy.
 */
void proto_body_hash(const Fedlora__Envelope *envelope, uint8_t hash[PROTO_HASH_BYTES]);

/*
 * Returns true when text[0..length) is well-formed UTF-8 (no overlong forms,
 * surrogates or code points above U+10FFFF).
 */
int proto_utf8_valid(const char *text, size_t length);

#endif
