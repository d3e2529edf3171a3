/*
 * libFuzzer target for proto_decode_envelope(), the decoder of every byte
 * that arrives from the network. Build with -DFEDLORA_FUZZ=ON (clang), then
 * run build-fuzz/bin/fuzz_proto_decode. Checks that an accepted envelope
 * also passes the encoder and decodes to the same bytes again.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Fedlora__Envelope *envelope = NULL;
    if (proto_decode_envelope(data, size, &envelope, NULL) != FL_OK) {
        assert(envelope == NULL);
        return 0;
    }

    uint8_t *encoded = NULL;
    size_t length = 0;
    fl_error err = {0};
    int status = proto_encode_envelope(envelope, &encoded, &length, &err);
    if (status != FL_OK)
        fprintf(stderr, "accepted envelope fails to encode: %s\n", err.msg);
    assert(status == FL_OK);

    Fedlora__Envelope *again = NULL;
    status = proto_decode_envelope(encoded, length, &again, NULL);
    assert(status == FL_OK);
    assert(again->body_case == envelope->body_case);
    assert(again->sequence == envelope->sequence);

    proto_envelope_free(&again);
    proto_envelope_free(&envelope);
    free(encoded);
    return 0;
}
