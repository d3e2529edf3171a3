/*
 * Fuzz target for the secure-aggregation message decoders: the first byte
 * of the input picks a decoder, the rest is the message. Every decoder must
 * return a status for any bytes, never crash or read out of bounds, and a
 * message it accepts must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fc_msg_advertise s_advertise;
static fc_msg_key_list s_key_list;
static fc_msg_shares s_shares;
static fc_msg_masked_chunk s_chunk;
static uint32_t s_words[1024];
static fc_msg_unmask_request s_request;
static fc_msg_unmask_response s_response;

/* Aborts unless encoded equals the decoder's input, so libFuzzer reports it. */
static void expect_same(int status, uint8_t *encoded, size_t encoded_size, const uint8_t *bytes,
                        size_t size)
{
    if (status != FL_OK || encoded_size != size || memcmp(encoded, bytes, size) != 0)
        abort();
    free(encoded);
}

/* Decodes bytes as the message type selector picks; on success re-encodes and compares. */
static void decode_one(uint8_t selector, const uint8_t *bytes, size_t size)
{
    fl_error err = {0};
    uint8_t *encoded = NULL;
    size_t encoded_size = 0;
    int encode_status = FL_OK;
    int status;
    fc_msg_type share_type = selector % 7 == 2 ? FC_MSG_SHARE_KEYS : FC_MSG_SHARE_RELAY;
    switch (selector % 7) {
    case 0:
        status = fc_msg_advertise_decode(&s_advertise, bytes, size, &err);
        if (status == FL_OK)
            encode_status = fc_msg_advertise_encode(&s_advertise, &encoded, &encoded_size);
        break;
    case 1:
        status = fc_msg_key_list_decode(&s_key_list, bytes, size, &err);
        if (status == FL_OK)
            encode_status = fc_msg_key_list_encode(&s_key_list, &encoded, &encoded_size);
        break;
    case 2:
    case 3:
        status = fc_msg_shares_decode(&s_shares, share_type, bytes, size, &err);
        if (status == FL_OK)
            encode_status = fc_msg_shares_encode(&s_shares, share_type, &encoded, &encoded_size);
        break;
    case 4:
        status = fc_msg_masked_chunk_decode(&s_chunk, s_words, 1024, bytes, size, &err);
        if (status == FL_OK)
            encode_status = fc_msg_masked_chunk_encode(&s_chunk, &encoded, &encoded_size);
        break;
    case 5:
        status = fc_msg_unmask_request_decode(&s_request, bytes, size, &err);
        if (status == FL_OK)
            encode_status = fc_msg_unmask_request_encode(&s_request, &encoded, &encoded_size);
        break;
    default:
        status = fc_msg_unmask_response_decode(&s_response, bytes, size, &err);
        if (status == FL_OK)
            encode_status = fc_msg_unmask_response_encode(&s_response, &encoded, &encoded_size);
        break;
    }
    if (status == FL_OK)
        expect_same(encode_status, encoded, encoded_size, bytes, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = fc_msg_peek_type(data + 1, size - 1);
    if (type != FL_EFORMAT && (type < FC_MSG_ADVERTISE || type > FC_MSG_UNMASK_RESPONSE))
        abort();
    decode_one(data[0], data + 1, size - 1);
    return 0;
}
