/*
 * Fuzz target for the admin message decoders: the first byte of the input
 * picks the request (even) or the response (odd) decoder, the rest is the
 * message. A decoder must return a status for any bytes, never crash or
 * read out of bounds, and a message it accepts must encode again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proto_admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *bytes = data + 1;
    size_t length = size - 1;
    uint8_t *encoded = NULL;
    size_t encoded_length = 0;

    if (data[0] % 2 == 0) {
        Fedlora__Admin__Request *request = NULL;
        if (proto_admin_decode_request(bytes, length, &request, NULL) == FL_OK) {
            if (proto_admin_encode_request(request, &encoded, &encoded_length, NULL) != FL_OK)
                abort(); /* validation accepted on decode what it rejects on encode */
            proto_admin_request_free(&request);
        }
    } else {
        Fedlora__Admin__Response *response = NULL;
        if (proto_admin_decode_response(bytes, length, &response, NULL) == FL_OK) {
            if (proto_admin_encode_response(response, &encoded, &encoded_length, NULL) != FL_OK)
                abort();
            proto_admin_response_free(&response);
        }
    }
    free(encoded);
    return 0;
}
