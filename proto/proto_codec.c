/* Encoding and decoding of envelopes; the field checks live in proto_validate.c. */
#include "proto_codec.h"

#include <stdlib.h>

#include <sodium.h>

#include "fl_mem.h"

int proto_decode_envelope(const uint8_t *data, size_t length, Fedlora__Envelope **out,
                          fl_error *err)
{
    *out = NULL;
    if (length > PROTO_MAX_FRAME)
        return fl_error_set(err, FL_ERANGE,
                            "proto: envelope of %zu bytes exceeds the limit of %u bytes; "
                            "the sender must use smaller chunks",
                            length, PROTO_MAX_FRAME);

    Fedlora__Envelope *envelope = fedlora__envelope__unpack(NULL, length, data);
    if (envelope == NULL)
        return fl_error_set(err, FL_EFORMAT,
                            "proto: %zu bytes are not a valid protobuf Envelope", length);

    int status = proto_validate_envelope(envelope, err);

    /*
     * protobuf-c cuts a string at an embedded NUL byte and keeps only the
     * last copy of a repeated field, silently. Such input re-encodes to
     * fewer bytes than arrived, which every canonical encoder avoids.
     */
    size_t canonical = status == FL_OK ? fedlora__envelope__get_packed_size(envelope) : length;
    if (canonical != length)
        status = fl_error_set(err, FL_EFORMAT,
                              "proto: envelope of %zu bytes re-encodes to %zu bytes: a string "
                              "contains a NUL byte, a field is repeated or the encoding is not "
                              "canonical protobuf", length, canonical);
    if (status != FL_OK) {
        fedlora__envelope__free_unpacked(envelope, NULL);
        return status;
    }
    *out = envelope;
    return FL_OK;
}

int proto_encode_envelope(const Fedlora__Envelope *envelope, uint8_t **out, size_t *length,
                          fl_error *err)
{
    *out = NULL;
    *length = 0;
    int status = proto_validate_envelope(envelope, err);
    if (status != FL_OK) {
        if (err != NULL)
            fl_error_prefix(err, "cannot send an invalid %s message: ",
                            proto_body_name(envelope->body_case));
        return status;
    }

    size_t size = fedlora__envelope__get_packed_size(envelope);
    uint8_t *buffer = fl_xmalloc(size > 0 ? size : 1);
    size_t packed = fedlora__envelope__pack(envelope, buffer);
    if (packed != size) {
        free(buffer);
        return fl_error_set(err, FL_EFORMAT, "proto: packed %zu bytes, expected %zu", packed,
                            size);
    }
    *out = buffer;
    *length = size;
    return FL_OK;
}

void proto_envelope_free(Fedlora__Envelope **envelope)
{
    if (envelope == NULL || *envelope == NULL)
        return;
    fedlora__envelope__free_unpacked(*envelope, NULL);
    *envelope = NULL;
}

const char *proto_body_name(Fedlora__Envelope__BodyCase body_case)
{
    switch (body_case) {
    case FEDLORA__ENVELOPE__BODY_HELLO: return "hello";
    case FEDLORA__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
    case FEDLORA__ENVELOPE__BODY_JOB: return "job";
    case FEDLORA__ENVELOPE__BODY_ROUND_START: return "round_start";
    case FEDLORA__ENVELOPE__BODY_MODEL_CHUNK: return "model_chunk";
    case FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY: return "transfer_query";
    case FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS: return "transfer_status";
    case FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS: return "advertise_keys";
    case FEDLORA__ENVELOPE__BODY_SHARE_KEYS: return "share_keys";
    case FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK: return "masked_input_chunk";
    case FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST: return "unmask_request";
    case FEDLORA__ENVELOPE__BODY_UNMASK_SHARES: return "unmask_shares";
    case FEDLORA__ENVELOPE__BODY_METRICS: return "metrics";
    case FEDLORA__ENVELOPE__BODY_REFUSAL: return "refusal";
    case FEDLORA__ENVELOPE__BODY_ABORT: return "abort";
    case FEDLORA__ENVELOPE__BODY_ERROR: return "error";
    case FEDLORA__ENVELOPE__BODY_JOB_ACCEPT: return "job_accept";
    case FEDLORA__ENVELOPE__BODY__NOT_SET: break;
    default: break;
    }
    return "unknown";
}

uint32_t proto_control_step(Fedlora__Envelope__BodyCase body_case)
{
    switch (body_case) {
    case FEDLORA__ENVELOPE__BODY_ROUND_START: return 1;
    case FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS: return 2;
    case FEDLORA__ENVELOPE__BODY_SHARE_KEYS: return 3;
    case FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST: return 4;
    default: return 0;
    }
}

void proto_body_hash(const Fedlora__Envelope *envelope, uint8_t hash[PROTO_HASH_BYTES])
{
    /* A shallow copy with the header fields at their defaults, so only the body is packed. */
    Fedlora__Envelope body_only = *envelope;
    body_only.protocol_version = 0;
    body_only.job_id = (char *)protobuf_c_empty_string;
    body_only.round = 0;
    body_only.sender = (char *)protobuf_c_empty_string;
    body_only.session = 0;
    body_only.sequence = 0;

    size_t size = fedlora__envelope__get_packed_size(&body_only);
    uint8_t *bytes = fl_xmalloc(size > 0 ? size : 1);
    fedlora__envelope__pack(&body_only, bytes);
    crypto_generichash(hash, PROTO_HASH_BYTES, bytes, size, NULL, 0);
    free(bytes);
}

/* Length of the UTF-8 sequence that starts with lead, 0 for an invalid lead byte. */
static size_t utf8_sequence_length(uint8_t lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

int proto_utf8_valid(const char *text, size_t length)
{
    const uint8_t *bytes = (const uint8_t *)text;
    size_t i = 0;
    while (i < length) {
        size_t n = utf8_sequence_length(bytes[i]);
        if (n == 0 || n > length - i)
            return 0;

        uint32_t code_point = n == 1 ? bytes[i] : (uint32_t)(bytes[i] & (0x7F >> n));
        for (size_t k = 1; k < n; k++) {
            if ((bytes[i + k] & 0xC0) != 0x80)
                return 0;
            code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
        }

        /* Reject overlong 3- and 4-byte forms, surrogates and values past U+10FFFF. */
        if ((n == 3 && code_point < 0x800) || (n == 4 && code_point < 0x10000))
            return 0;
        if (code_point >= 0xD800 && code_point <= 0xDFFF)
            return 0;
        if (code_point > 0x10FFFF)
            return 0;
        i += n;
    }
    return 1;
}
