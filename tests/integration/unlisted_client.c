/*
 * unlisted_client: connects to a coordinator over CURVE with a fresh key pair
 * that no project lists, sends one frame and waits for a reply that should
 * never come. Prints the key's fingerprint, so a test can look for it in the
 * coordinator's log.
 *
 * Usage: unlisted_client ENDPOINT SERVER_CURVE_PUBLIC_Z85 WAIT_MS
 * Exit status: 0 when no reply arrived (the client was not admitted), 1 when
 * a reply arrived, 2 on a usage or ZeroMQ error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "proto_zap.h"

static int fail(const char *what)
{
    fprintf(stderr, "unlisted_client: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: unlisted_client ENDPOINT SERVER_CURVE_PUBLIC_Z85 WAIT_MS\n");
        return 2;
    }
    char public_text[41], secret_text[41];
    if (zmq_curve_keypair(public_text, secret_text) != 0)
        return fail("zmq_curve_keypair");
    uint8_t public_key[32];
    zmq_z85_decode(public_key, public_text);
    char fingerprint[PROTO_FINGERPRINT_CHARS + 1];
    proto_key_fingerprint(public_key, fingerprint);
    printf("%s\n", fingerprint);
    fflush(stdout);

    void *context = zmq_ctx_new();
    void *socket = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    if (socket == NULL || zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, argv[2], 40) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, public_text, 40) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_text, 40) != 0 ||
        zmq_connect(socket, argv[1]) != 0)
        return fail("socket set-up");

    zmq_send(socket, "hello", 5, ZMQ_DONTWAIT);
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    int ready = zmq_poll(&item, 1, atoi(argv[3]));
    zmq_close(socket);
    zmq_ctx_term(context);
    return ready > 0 ? 1 : 0;
}
