/*
 * libFuzzer target for proto_chunk_receiver: the input is a sequence of
 * envelopes, each preceded by a 2-byte little-endian length. Every decoded
 * chunk or query goes to one receiver, whose sink checks that bytes arrive
 * in order, without gaps or overlaps, and never past the object's size.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "proto_chunk.h"
#include "proto_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct order_sink {
    uint64_t next_offset;
} order_sink;

static int check_order(void *context, uint64_t offset, const uint8_t *bytes, size_t length,
                       fl_error *err)
{
    (void)bytes;
    (void)err;
    order_sink *sink = context;
    assert(offset == sink->next_offset);
    assert(length > 0);
    sink->next_offset += length;
    return FL_OK;
}

static void feed(proto_chunk_receiver *receiver, const Fedlora__Envelope *e)
{
    Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
    bool reply = false;
    const Fedlora__ObjectChunk *chunk = NULL;
    if (e->body_case == FEDLORA__ENVELOPE__BODY_MODEL_CHUNK)
        chunk = e->model_chunk;
    else if (e->body_case == FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK)
        chunk = e->masked_input_chunk;

    int result = FL_EINVAL;
    if (chunk != NULL)
        result = proto_chunk_receiver_on_chunk(receiver, chunk, &status, &reply, NULL);
    if (result == FL_OK && reply)
        assert(status.received <= status.total_size);
    if (e->body_case == FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY &&
        proto_chunk_receiver_on_query(receiver, e->transfer_query, &status, NULL) == FL_OK) {
        assert(status.resync);
        assert(status.received <= status.total_size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    order_sink sink = {0};
    proto_chunk_receiver *receiver = NULL;
    if (proto_chunk_receiver_new("o", UINT64_MAX, NULL, check_order, &sink, &receiver, NULL) !=
        FL_OK)
        return 0;

    size_t offset = 0;
    while (size - offset >= 2) {
        size_t length = (size_t)data[offset] | (size_t)data[offset + 1] << 8;
        offset += 2;
        if (length > size - offset)
            break;
        Fedlora__Envelope *envelope = NULL;
        if (proto_decode_envelope(data + offset, length, &envelope, NULL) == FL_OK) {
            feed(receiver, envelope);
            proto_envelope_free(&envelope);
        }
        offset += length;
    }

    assert(proto_chunk_receiver_received(receiver) == sink.next_offset);
    proto_chunk_receiver_destroy(&receiver);
    return 0;
}
