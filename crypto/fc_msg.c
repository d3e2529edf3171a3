/* Binary encoding and decoding of the secure-aggregation messages. */
#include "fc_msg.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "fc_wire.h"
#include "fl_mem.h"

static const char *type_name(fc_msg_type type)
{
    switch (type) {
    case FC_MSG_ADVERTISE:
        return "AdvertiseKeys";
    case FC_MSG_KEY_LIST:
        return "KeyList";
    case FC_MSG_SHARE_KEYS:
        return "ShareKeys";
    case FC_MSG_SHARE_RELAY:
        return "ShareRelay";
    case FC_MSG_MASKED_CHUNK:
        return "MaskedChunk";
    case FC_MSG_UNMASK_REQUEST:
        return "UnmaskRequest";
    case FC_MSG_UNMASK_RESPONSE:
        return "UnmaskResponse";
    }
    return "unknown";
}

int fc_msg_peek_type(const uint8_t *bytes, size_t size)
{
    if (size < 2 || bytes[0] != FC_MSG_VERSION || bytes[1] < FC_MSG_ADVERTISE ||
        bytes[1] > FC_MSG_UNMASK_RESPONSE)
        return FL_EFORMAT;
    return bytes[1];
}

/* Allocates the output buffer and writes the version and type bytes. */
static void begin(fc_wire_writer *writer, uint8_t **bytes, size_t size, fc_msg_type type)
{
    *bytes = fl_xmalloc(size);
    fc_wire_writer_init(writer, *bytes, size);
    fc_wire_put_u8(writer, FC_MSG_VERSION);
    fc_wire_put_u8(writer, (uint8_t)type);
}

/* Checks the version and type bytes. */
static int expect_header(fc_wire_reader *reader, fc_msg_type type, fl_error *err)
{
    uint8_t version = fc_wire_get_u8(reader);
    uint8_t found = fc_wire_get_u8(reader);
    if (reader->failed)
        return fl_error_set(err, FL_EFORMAT, "%s message: %zu bytes is too short for a header",
                            type_name(type), reader->size);
    if (version != FC_MSG_VERSION)
        return fl_error_set(err, FL_EFORMAT,
                            "%s message: version %u is not the supported version %d; update "
                            "the older side",
                            type_name(type), version, FC_MSG_VERSION);
    if (found != type)
        return fl_error_set(err, FL_EFORMAT, "%s message: type byte is %u, expected %d",
                            type_name(type), found, (int)type);
    return FL_OK;
}

/* Checks a list count against its maximum. */
static int expect_count(fc_wire_reader *reader, uint32_t count, uint32_t max, fc_msg_type type,
                        const char *field, fl_error *err)
{
    if (reader->failed || count <= max)
        return FL_OK;
    return fl_error_set(err, FL_EFORMAT, "%s message: %s is %" PRIu32 ", above the maximum %"
                        PRIu32, type_name(type), field, count, max);
}

/* Checks that the reader consumed exactly the whole message. */
static int expect_end(const fc_wire_reader *reader, fc_msg_type type, fl_error *err)
{
    if (reader->failed)
        return fl_error_set(err, FL_EFORMAT, "%s message: truncated at %zu bytes",
                            type_name(type), reader->size);
    if (fc_wire_remaining(reader) != 0)
        return fl_error_set(err, FL_EFORMAT, "%s message: %zu trailing bytes after the end",
                            type_name(type), fc_wire_remaining(reader));
    return FL_OK;
}

/* AdvertiseKeys and KeyList entries share one layout after the round. */
static void put_advertise_body(fc_wire_writer *writer, const fc_msg_advertise *entry)
{
    fc_wire_put_u16(writer, entry->site);
    fc_wire_put_bytes(writer, entry->share_public, FC_KEY_BYTES);
    fc_wire_put_bytes(writer, entry->mask_public, FC_KEY_BYTES);
    fc_wire_put_bytes(writer, entry->signature, FC_SIG_BYTES);
}

static void get_advertise_body(fc_wire_reader *reader, fc_msg_advertise *entry)
{
    entry->site = fc_wire_get_u16(reader);
    fc_wire_get_bytes(reader, entry->share_public, FC_KEY_BYTES);
    fc_wire_get_bytes(reader, entry->mask_public, FC_KEY_BYTES);
    fc_wire_get_bytes(reader, entry->signature, FC_SIG_BYTES);
}

#define ADVERTISE_BODY_BYTES (2 + 2 * FC_KEY_BYTES + FC_SIG_BYTES)

int fc_msg_advertise_encode(const fc_msg_advertise *msg, uint8_t **bytes, size_t *size)
{
    fc_wire_writer writer;
    *size = 2 + 8 + ADVERTISE_BODY_BYTES;
    begin(&writer, bytes, *size, FC_MSG_ADVERTISE);
    fc_wire_put_u64(&writer, msg->round);
    put_advertise_body(&writer, msg);
    return FL_OK;
}

int fc_msg_advertise_decode(fc_msg_advertise *msg, const uint8_t *bytes, size_t size,
                            fl_error *err)
{
    fc_wire_reader reader;
    fc_wire_reader_init(&reader, bytes, size);
    int status = expect_header(&reader, FC_MSG_ADVERTISE, err);
    if (status != FL_OK)
        return status;
    msg->round = fc_wire_get_u64(&reader);
    get_advertise_body(&reader, msg);
    return expect_end(&reader, FC_MSG_ADVERTISE, err);
}

int fc_msg_key_list_encode(const fc_msg_key_list *msg, uint8_t **bytes, size_t *size)
{
    if (msg->count > FC_SECAGG_MAX_SITES)
        return FL_EINVAL;
    fc_wire_writer writer;
    *size = 2 + 8 + 2 + (size_t)msg->count * ADVERTISE_BODY_BYTES;
    begin(&writer, bytes, *size, FC_MSG_KEY_LIST);
    fc_wire_put_u64(&writer, msg->round);
    fc_wire_put_u16(&writer, msg->count);
    for (uint16_t i = 0; i < msg->count; i++)
        put_advertise_body(&writer, &msg->entries[i]);
    return FL_OK;
}

int fc_msg_key_list_decode(fc_msg_key_list *msg, const uint8_t *bytes, size_t size,
                           fl_error *err)
{
    fc_wire_reader reader;
    fc_wire_reader_init(&reader, bytes, size);
    int status = expect_header(&reader, FC_MSG_KEY_LIST, err);
    if (status != FL_OK)
        return status;
    msg->round = fc_wire_get_u64(&reader);
    msg->count = fc_wire_get_u16(&reader);
    status = expect_count(&reader, msg->count, FC_SECAGG_MAX_SITES, FC_MSG_KEY_LIST, "count",
                          err);
    if (status != FL_OK)
        return status;
    for (uint16_t i = 0; i < msg->count && !reader.failed; i++) {
        msg->entries[i].round = msg->round;
        get_advertise_body(&reader, &msg->entries[i]);
    }
    return expect_end(&reader, FC_MSG_KEY_LIST, err);
}

int fc_msg_shares_encode(const fc_msg_shares *msg, fc_msg_type type, uint8_t **bytes,
                         size_t *size)
{
    if (msg->count > FC_SECAGG_MAX_SITES ||
        (type != FC_MSG_SHARE_KEYS && type != FC_MSG_SHARE_RELAY))
        return FL_EINVAL;
    fc_wire_writer writer;
    *size = 2 + 8 + 2 + 2 + (size_t)msg->count * (2 + FC_SHARE_CIPHERTEXT_BYTES);
    begin(&writer, bytes, *size, type);
    fc_wire_put_u64(&writer, msg->round);
    fc_wire_put_u16(&writer, msg->site);
    fc_wire_put_u16(&writer, msg->count);
    for (uint16_t i = 0; i < msg->count; i++) {
        fc_wire_put_u16(&writer, msg->entries[i].peer);
        fc_wire_put_bytes(&writer, msg->entries[i].ciphertext, FC_SHARE_CIPHERTEXT_BYTES);
    }
    return FL_OK;
}

int fc_msg_shares_decode(fc_msg_shares *msg, fc_msg_type type, const uint8_t *bytes,
                         size_t size, fl_error *err)
{
    if (type != FC_MSG_SHARE_KEYS && type != FC_MSG_SHARE_RELAY)
        return fl_error_set(err, FL_EINVAL, "type %d is not a share message", (int)type);
    fc_wire_reader reader;
    fc_wire_reader_init(&reader, bytes, size);
    int status = expect_header(&reader, type, err);
    if (status != FL_OK)
        return status;
    msg->round = fc_wire_get_u64(&reader);
    msg->site = fc_wire_get_u16(&reader);
    msg->count = fc_wire_get_u16(&reader);
    status = expect_count(&reader, msg->count, FC_SECAGG_MAX_SITES, type, "count", err);
    if (status != FL_OK)
        return status;
    for (uint16_t i = 0; i < msg->count && !reader.failed; i++) {
        msg->entries[i].peer = fc_wire_get_u16(&reader);
        fc_wire_get_bytes(&reader, msg->entries[i].ciphertext, FC_SHARE_CIPHERTEXT_BYTES);
    }
    return expect_end(&reader, type, err);
}

int fc_msg_masked_chunk_encode(const fc_msg_masked_chunk *msg, uint8_t **bytes, size_t *size)
{
    fc_wire_writer writer;
    *size = FC_MSG_CHUNK_HEADER_BYTES + (size_t)msg->count * 4;
    begin(&writer, bytes, *size, FC_MSG_MASKED_CHUNK);
    fc_wire_put_u64(&writer, msg->round);
    fc_wire_put_u16(&writer, msg->site);
    fc_wire_put_u64(&writer, msg->offset);
    fc_wire_put_u32(&writer, msg->count);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    fc_wire_put_bytes(&writer, (const uint8_t *)msg->words, (size_t)msg->count * 4);
#else
    for (uint32_t i = 0; i < msg->count; i++)
        fc_wire_put_u32(&writer, msg->words[i]);
#endif
    return FL_OK;
}

int fc_msg_masked_chunk_decode(fc_msg_masked_chunk *msg, uint32_t *words_buffer,
                               size_t capacity, const uint8_t *bytes, size_t size,
                               fl_error *err)
{
    fc_wire_reader reader;
    fc_wire_reader_init(&reader, bytes, size);
    int status = expect_header(&reader, FC_MSG_MASKED_CHUNK, err);
    if (status != FL_OK)
        return status;
    msg->round = fc_wire_get_u64(&reader);
    msg->site = fc_wire_get_u16(&reader);
    msg->offset = fc_wire_get_u64(&reader);
    msg->count = fc_wire_get_u32(&reader);
    msg->words = words_buffer;
    if (reader.failed)
        return expect_end(&reader, FC_MSG_MASKED_CHUNK, err);
    if (msg->count > capacity)
        return fl_error_set(err, FL_EFORMAT,
                            "MaskedChunk message: count is %" PRIu32 ", above the chunk size "
                            "%zu",
                            msg->count, capacity);
    if (fc_wire_remaining(&reader) != (size_t)msg->count * 4)
        return fl_error_set(err, FL_EFORMAT,
                            "MaskedChunk message: count %" PRIu32 " needs %zu bytes of words, "
                            "found %zu",
                            msg->count, (size_t)msg->count * 4, fc_wire_remaining(&reader));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    fc_wire_get_bytes(&reader, (uint8_t *)words_buffer, (size_t)msg->count * 4);
#else
    for (uint32_t i = 0; i < msg->count; i++)
        words_buffer[i] = fc_wire_get_u32(&reader);
#endif
    return expect_end(&reader, FC_MSG_MASKED_CHUNK, err);
}

int fc_msg_unmask_request_encode(const fc_msg_unmask_request *msg, uint8_t **bytes,
                                 size_t *size)
{
    if (msg->live_count > FC_SECAGG_MAX_SITES || msg->dropped_count > FC_SECAGG_MAX_SITES)
        return FL_EINVAL;
    fc_wire_writer writer;
    *size = 2 + 8 + 2 + 2 * (size_t)msg->live_count + 2 + 2 * (size_t)msg->dropped_count;
    begin(&writer, bytes, *size, FC_MSG_UNMASK_REQUEST);
    fc_wire_put_u64(&writer, msg->round);
    fc_wire_put_u16(&writer, msg->live_count);
    for (uint16_t i = 0; i < msg->live_count; i++)
        fc_wire_put_u16(&writer, msg->live[i]);
    fc_wire_put_u16(&writer, msg->dropped_count);
    for (uint16_t i = 0; i < msg->dropped_count; i++)
        fc_wire_put_u16(&writer, msg->dropped[i]);
    return FL_OK;
}

int fc_msg_unmask_request_decode(fc_msg_unmask_request *msg, const uint8_t *bytes,
                                 size_t size, fl_error *err)
{
    fc_wire_reader reader;
    fc_wire_reader_init(&reader, bytes, size);
    int status = expect_header(&reader, FC_MSG_UNMASK_REQUEST, err);
    if (status != FL_OK)
        return status;
    msg->round = fc_wire_get_u64(&reader);
    msg->live_count = fc_wire_get_u16(&reader);
    status = expect_count(&reader, msg->live_count, FC_SECAGG_MAX_SITES, FC_MSG_UNMASK_REQUEST,
                          "live count", err);
    if (status != FL_OK)
        return status;
    for (uint16_t i = 0; i < msg->live_count && !reader.failed; i++)
        msg->live[i] = fc_wire_get_u16(&reader);
    msg->dropped_count = fc_wire_get_u16(&reader);
    status = expect_count(&reader, msg->dropped_count, FC_SECAGG_MAX_SITES,
                          FC_MSG_UNMASK_REQUEST, "dropped count", err);
    if (status != FL_OK)
        return status;
    for (uint16_t i = 0; i < msg->dropped_count && !reader.failed; i++)
        msg->dropped[i] = fc_wire_get_u16(&reader);
    return expect_end(&reader, FC_MSG_UNMASK_REQUEST, err);
}

int fc_msg_unmask_response_encode(const fc_msg_unmask_response *msg, uint8_t **bytes,
                                  size_t *size)
{
    if (msg->count > FC_SECAGG_MAX_SITES)
        return FL_EINVAL;
    fc_wire_writer writer;
    *size = 2 + 8 + 2 + 2 + (size_t)msg->count * (2 + 1 + FC_SHARE_BYTES);
    begin(&writer, bytes, *size, FC_MSG_UNMASK_RESPONSE);
    fc_wire_put_u64(&writer, msg->round);
    fc_wire_put_u16(&writer, msg->site);
    fc_wire_put_u16(&writer, msg->count);
    for (uint16_t i = 0; i < msg->count; i++) {
        fc_wire_put_u16(&writer, msg->entries[i].peer);
        fc_wire_put_u8(&writer, msg->entries[i].kind);
        fc_wire_put_bytes(&writer, msg->entries[i].share, FC_SHARE_BYTES);
    }
    return FL_OK;
}

int fc_msg_unmask_response_decode(fc_msg_unmask_response *msg, const uint8_t *bytes,
                                  size_t size, fl_error *err)
{
    fc_wire_reader reader;
    fc_wire_reader_init(&reader, bytes, size);
    int status = expect_header(&reader, FC_MSG_UNMASK_RESPONSE, err);
    if (status != FL_OK)
        return status;
    msg->round = fc_wire_get_u64(&reader);
    msg->site = fc_wire_get_u16(&reader);
    msg->count = fc_wire_get_u16(&reader);
    status = expect_count(&reader, msg->count, FC_SECAGG_MAX_SITES, FC_MSG_UNMASK_RESPONSE,
                          "count", err);
    if (status != FL_OK)
        return status;
    for (uint16_t i = 0; i < msg->count && !reader.failed; i++) {
        fc_msg_unmask_entry *entry = &msg->entries[i];
        entry->peer = fc_wire_get_u16(&reader);
        entry->kind = fc_wire_get_u8(&reader);
        fc_wire_get_bytes(&reader, entry->share, FC_SHARE_BYTES);
        if (!reader.failed && entry->kind != FC_SHARE_SELF_MASK &&
            entry->kind != FC_SHARE_MASK_KEY)
            return fl_error_set(err, FL_EFORMAT,
                                "UnmaskResponse message: entry %u has share kind %u, expected "
                                "%d (self mask) or %d (mask key)",
                                i, entry->kind, FC_SHARE_SELF_MASK, FC_SHARE_MASK_KEY);
    }
    status = expect_end(&reader, FC_MSG_UNMASK_RESPONSE, err);
    if (status != FL_OK)
        sodium_memzero(msg->entries, sizeof(msg->entries));
    return status;
}
