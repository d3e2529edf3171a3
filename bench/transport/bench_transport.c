/*
 * bench_transport - throughput of one large chunked transfer over
 * 127.0.0.1, through the same links, chunking, hashing and flow control the
 * daemons use, once with CURVE and once in plaintext as the reference.
 *
 * Usage: bench_transport [MEGABYTES]   (default 1000, i.e. 10^9 bytes)
 * Prints a table, then one JSON line with both throughputs in MB/s
 * (10^6 bytes per second). The target is CURVE >= 125 MB/s, the payload
 * rate of a 1 Gbit/s link.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "fl_log.h"
#include "fl_mem.h"
#include "proto_transfer.h"

#define OBJECT_ID "bench-object"
#define PATTERN_BYTES (1u << 22)

typedef struct bench_source {
    uint8_t *pattern; /* random bytes the reader repeats */
} bench_source;

static int read_pattern(void *context, uint64_t offset, uint8_t *buffer, size_t length,
                        fl_error *err)
{
    (void)err;
    const bench_source *source = context;
    size_t done = 0;
    while (done < length) {
        size_t start = (size_t)((offset + done) % PATTERN_BYTES);
        size_t take = PATTERN_BYTES - start < length - done ? PATTERN_BYTES - start : length - done;
        memcpy(buffer + done, source->pattern + start, take);
        done += take;
    }
    return FL_OK;
}

static int discard(void *context, uint64_t offset, const uint8_t *data, size_t length,
                   fl_error *err)
{
    (void)offset;
    (void)data;
    (void)err;
    *(uint64_t *)context += length;
    return FL_OK;
}

typedef struct receiver_side {
    proto_link *server;
    proto_chunk_receiver *receiver;
    atomic_int stop;
    int status;
    char error[1024];
    uint64_t heartbeats; /* heartbeats that arrived while the object was in transit */
    int dead_peers;
} receiver_side;

static void count_dead(const char *peer, void *context)
{
    (void)peer;
    ((receiver_side *)context)->dead_peers++;
}

static void *receive_loop(void *arg)
{
    receiver_side *side = arg;
    while (!atomic_load(&side->stop)) {
        fl_error err = {0};
        proto_message message;
        int status = proto_link_tick(side->server, count_dead, side, &err);
        if (status == FL_OK && proto_link_recv(side->server, 20, &message, &err) == FL_OK) {
            if (message.envelope->body_case == FEDLORA__ENVELOPE__BODY_HEARTBEAT &&
                proto_chunk_receiver_received(side->receiver) > 0 &&
                !proto_chunk_receiver_complete(side->receiver))
                side->heartbeats++;
            bool handled = false;
            status = proto_link_receive_chunk(side->server, side->receiver, &message, &handled,
                                              &err);
            proto_message_release(&message);
        }
        if (status != FL_OK && side->status == FL_OK) {
            side->status = status;
            snprintf(side->error, sizeof(side->error), "%s", err.msg);
        }
    }
    return NULL;
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Liveness seen by the receiver during one transfer. */
typedef struct liveness_report {
    uint64_t heartbeats;
    int dead_peers;
} liveness_report;

/* Runs one transfer of total bytes; returns MB/s, or a negative value on failure. */
static double run_transfer(bool plaintext, uint64_t total, size_t chunk_size, uint32_t window,
                           const bench_source *source, liveness_report *liveness)
{
    void *context = zmq_ctx_new();
    proto_zap *zap = NULL;
    proto_link *server = NULL;
    proto_link *client = NULL;
    proto_chunk_sender *sender = NULL;
    uint64_t sunk = 0;
    receiver_side side = {0};
    double rate = -1.0;
    fl_error err = {0};

    uint8_t server_public[32], server_secret[32], client_public[32], client_secret[32];
    crypto_box_keypair(server_public, server_secret);
    crypto_box_keypair(client_public, client_secret);

    proto_link_options options;
    proto_link_options_default(&options);
    options.plaintext = plaintext;
    if (proto_zap_start(context, &zap, &err) != FL_OK ||
        proto_zap_allow(zap, client_public, "site-1", &err) != FL_OK ||
        proto_server_new(context, zap, "tcp://127.0.0.1:*", server_public, server_secret,
                         "coordinator", &options, &server, &err) != FL_OK ||
        proto_link_set_job(server, "bench", 1, &err) != FL_OK ||
        proto_chunk_receiver_new(OBJECT_ID, UINT64_MAX, NULL, discard, &sunk, &side.receiver,
                                 &err) != FL_OK ||
        proto_client_new(context, proto_link_endpoint(server), server_public, client_public,
                         client_secret, "site-1", &options, &client, &err) != FL_OK ||
        proto_link_set_job(client, "bench", 1, &err) != FL_OK ||
        proto_chunk_sender_new(OBJECT_ID, total, chunk_size, window, read_pattern,
                               (void *)source, &sender, &err) != FL_OK) {
        fprintf(stderr, "bench_transport: setup failed: %s\n", err.msg);
        goto close_all;
    }

    side.server = server;
    pthread_t thread;
    pthread_create(&thread, NULL, receive_loop, &side);
    proto_transfer_options transfer;
    proto_transfer_options_default(&transfer);
    transfer.masked_input = true;

    double start = now_seconds();
    int status = proto_link_send_object(client, NULL, sender, &transfer, NULL, NULL, &err);
    double seconds = now_seconds() - start;
    atomic_store(&side.stop, 1);
    pthread_join(thread, NULL);

    if (status != FL_OK || side.status != FL_OK || sunk != total)
        fprintf(stderr, "bench_transport: transfer failed: %s %s (%llu of %llu bytes)\n",
                err.msg, side.error, (unsigned long long)sunk, (unsigned long long)total);
    else
        rate = (double)total / seconds / 1e6;
    liveness->heartbeats = side.heartbeats;
    liveness->dead_peers = side.dead_peers;

close_all:
    proto_chunk_sender_destroy(&sender);
    proto_chunk_receiver_destroy(&side.receiver);
    proto_link_destroy(&client);
    proto_link_destroy(&server);
    proto_zap_stop(&zap);
    zmq_ctx_term(context);
    sodium_memzero(server_secret, sizeof(server_secret));
    sodium_memzero(client_secret, sizeof(client_secret));
    return rate;
}

/* Single-core rate of the primitives on the path: BLAKE2b and CURVE's XSalsa20-Poly1305. */
static void measure_primitives(double *blake2b_mb_s, double *box_mb_s)
{
    size_t size = 1u << 20;
    int rounds = 256;
    uint8_t *buffer = fl_xmalloc(size + crypto_box_MACBYTES);
    uint8_t key[crypto_box_BEFORENMBYTES];
    uint8_t nonce[crypto_box_NONCEBYTES] = {0};
    uint8_t hash[32];
    randombytes_buf(buffer, size);
    randombytes_buf(key, sizeof(key));

    double start = now_seconds();
    for (int i = 0; i < rounds; i++)
        crypto_generichash(hash, sizeof(hash), buffer, size, NULL, 0);
    *blake2b_mb_s = (double)size * rounds / (now_seconds() - start) / 1e6;

    start = now_seconds();
    for (int i = 0; i < rounds; i++)
        crypto_box_easy_afternm(buffer, buffer, size, nonce, key);
    *box_mb_s = (double)size * rounds / (now_seconds() - start) / 1e6;
    free(buffer);
}

int main(int argc, char **argv)
{
    long megabytes = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (megabytes < 1) {
        fprintf(stderr, "usage: bench_transport [MEGABYTES]  (a positive size, default 1000)\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    fl_log_set_level(FL_LOG_WARN);

    bench_source source = {.pattern = fl_xmalloc(PATTERN_BYTES)};
    randombytes_buf(source.pattern, PATTERN_BYTES);
    uint64_t total = (uint64_t)megabytes * 1000000u;
    const size_t chunk_sizes[] = {256u << 10, PROTO_DEFAULT_CHUNK, 4u << 20};
    const uint32_t window = PROTO_DEFAULT_WINDOW;

    double blake2b_mb_s, box_mb_s;
    measure_primitives(&blake2b_mb_s, &box_mb_s);
    printf("transport benchmark: %ld MB streamed over 127.0.0.1 per row, window %u chunks, "
           "libzmq %d.%d.%d, libsodium %s\n", megabytes, window, ZMQ_VERSION_MAJOR,
           ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH, sodium_version_string());
    printf("single core: BLAKE2b %.0f MB/s, XSalsa20-Poly1305 (CURVE's cipher) %.0f MB/s\n\n",
           blake2b_mb_s, box_mb_s);
    printf("%-10s %10s %12s %12s %11s\n", "mode", "chunk KiB", "MB/s", "heartbeats",
           "dead peers");

    double curve_default = -1.0, plain_default = -1.0;
    liveness_report curve_liveness = {0};
    for (size_t i = 0; i < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); i++) {
        for (int plaintext = 0; plaintext <= 1; plaintext++) {
            liveness_report liveness = {0};
            double rate = run_transfer(plaintext, total, chunk_sizes[i], window, &source,
                                       &liveness);
            printf("%-10s %10zu %12.1f %12llu %11d\n", plaintext ? "plaintext" : "CURVE",
                   chunk_sizes[i] >> 10, rate, (unsigned long long)liveness.heartbeats,
                   liveness.dead_peers);
            fflush(stdout);
            if (chunk_sizes[i] == PROTO_DEFAULT_CHUNK && plaintext)
                plain_default = rate;
            if (chunk_sizes[i] == PROTO_DEFAULT_CHUNK && !plaintext) {
                curve_default = rate;
                curve_liveness = liveness;
            }
        }
    }
    printf("\nheartbeats: sent every 1000 ms, counted while the object was in transit\n");
    printf("target: CURVE >= 125 MB/s (1 Gbit/s); the JSON reports the 1 MiB default chunk\n");
    printf("{\"bench\":\"transport\",\"curve_mb_per_s\":%.1f,\"plain_mb_per_s\":%.1f,"
           "\"chunk_bytes\":%u,\"megabytes\":%ld,\"curve_heartbeats\":%llu,"
           "\"curve_dead_peers\":%d}\n", curve_default, plain_default, PROTO_DEFAULT_CHUNK,
           megabytes, (unsigned long long)curve_liveness.heartbeats, curve_liveness.dead_peers);
    free(source.pattern);
    return curve_default > 0 && plain_default > 0 ? 0 : 1;
}
