/*
 * proto_admin.h - encoding, decoding and validation of the admin messages
 * of admin.proto, which researchers' `fedlora` tools exchange with the
 * coordinator's admin socket.
 *
 * Every decoded message is validated before it is returned, and encoding
 * validates too, so a caller may rely on the bounds below. Errors name the
 * field by its path in admin.proto ("abort.job_id"). All functions are
 * thread-safe: they keep no state between calls.
 */
#ifndef PROTO_ADMIN_H
#define PROTO_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin.pb-c.h"
#include "fl_error.h"
#include "proto_limits.h"

/* Largest job file in a SubmitRequest, in bytes of UTF-8. */
#define PROTO_ADMIN_MAX_JOB_JSON (1u << 20)
/* Largest status or history JSON in a response, in bytes of UTF-8. */
#define PROTO_ADMIN_MAX_JSON (16u << 20)
/* Largest piece of an exported file in one ExportResponse, in bytes. */
#define PROTO_ADMIN_MAX_CHUNK (8u << 20)
/* Longest error text of a Response and reason of a JobSummary, in bytes. */
#define PROTO_ADMIN_MAX_ERROR 1024u
/* Most jobs one ListResponse carries. */
#define PROTO_ADMIN_MAX_JOBS 100000u
/* Largest encoded message a receiver accepts. */
#define PROTO_ADMIN_MAX_FRAME (PROTO_ADMIN_MAX_JSON + 64u * 1024u)

/* The files of a PEFT adapter folder that an export may read. */
#define PROTO_ADMIN_CONFIG_FILE "adapter_config.json"
#define PROTO_ADMIN_WEIGHTS_FILE "adapter_model.safetensors"

/*
 * Decodes and validates one request from data[0..length). On success the
 * caller owns *out; free it with proto_admin_request_free(). On failure *out
 * is NULL and the result is FL_EFORMAT, FL_ERANGE or FL_EUNSUPPORTED (another
 * protocol version), with err naming the field and its value.
 */
int proto_admin_decode_request(const uint8_t *data, size_t length,
                               Fedlora__Admin__Request **out, fl_error *err) FL_WARN_UNUSED;

/* Same as proto_admin_decode_request() for a response. */
int proto_admin_decode_response(const uint8_t *data, size_t length,
                                Fedlora__Admin__Response **out, fl_error *err) FL_WARN_UNUSED;

/* Validates request as decoding does. Returns FL_OK or the codes listed there. */
int proto_admin_validate_request(const Fedlora__Admin__Request *request,
                                 fl_error *err) FL_WARN_UNUSED;

/* Validates response as decoding does. */
int proto_admin_validate_response(const Fedlora__Admin__Response *response,
                                  fl_error *err) FL_WARN_UNUSED;

/*
 * Validates and encodes request. On success *out is a heap buffer the
 * caller owns (free it with free()) and *length its size.
 */
int proto_admin_encode_request(const Fedlora__Admin__Request *request, uint8_t **out,
                               size_t *length, fl_error *err) FL_WARN_UNUSED;

/* Same as proto_admin_encode_request() for a response. */
int proto_admin_encode_response(const Fedlora__Admin__Response *response, uint8_t **out,
                                size_t *length, fl_error *err) FL_WARN_UNUSED;

/* Frees a decoded request and clears the pointer. NULL-safe. */
void proto_admin_request_free(Fedlora__Admin__Request **request);

/* Frees a decoded response and clears the pointer. NULL-safe. */
void proto_admin_response_free(Fedlora__Admin__Response **response);

/* Returns the name of a request's body ("submit", "status", ...). */
const char *proto_admin_request_name(Fedlora__Admin__Request__BodyCase body_case);

/* Returns true when name is one of the files an export may read. */
bool proto_admin_export_file_valid(const char *name);

#endif
