/* Tests of the chunk sender and receiver state machines, without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "object_generator.h"

#define OBJECT_ID "masked-hospital-a-r1"

typedef struct pair {
    object_generator generator;
    object_check_sink sink;
    proto_chunk_sender *sender;
    proto_chunk_receiver *receiver;
} pair;

static void pair_init(pair *p, uint64_t total_size, size_t chunk_size, uint32_t window)
{
    memset(p, 0, sizeof(*p));
    p->generator.seed = 42;
    p->generator.cancel_at = UINT64_MAX;
    p->sink.generator = p->generator;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total_size, chunk_size, window,
                                            object_generator_read, &p->generator, &p->sender,
                                            NULL), FL_OK);
    assert_int_equal(proto_chunk_receiver_new(OBJECT_ID, UINT64_MAX, NULL,
                                              object_check_sink_write, &p->sink, &p->receiver,
                                              NULL), FL_OK);
}

static void pair_release(pair *p)
{
    proto_chunk_sender_destroy(&p->sender);
    proto_chunk_receiver_destroy(&p->receiver);
    assert_null(p->sender);
    assert_null(p->receiver);
}

/* Opens the transfer: query to the receiver, its status back to the sender. */
static void exchange_query(pair *p)
{
    Fedlora__TransferQuery query = FEDLORA__TRANSFER_QUERY__INIT;
    proto_chunk_sender_query(p->sender, &query);
    Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
    assert_int_equal(proto_chunk_receiver_on_query(p->receiver, &query, &status, NULL), FL_OK);
    assert_true(status.resync);
    assert_int_equal(proto_chunk_sender_on_status(p->sender, &status, NULL), FL_OK);
}

/*
 * Moves chunks from sender to receiver, dropping the chunk numbered drop
 * (or none when drop < 0), until the sender is complete. Returns the
 * number of chunks sent.
 */
static int run_transfer(pair *p, int drop)
{
    int sent = 0;
    for (int rounds = 0; !proto_chunk_sender_complete(p->sender); rounds++) {
        assert_true(rounds < 100000);
        Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
        bool ready = false;
        assert_int_equal(proto_chunk_sender_next(p->sender, &chunk, &ready, NULL), FL_OK);
        if (!ready) {
            /* Window full without an acknowledgement: the lost chunk's gap status got lost too. */
            exchange_query(p);
            continue;
        }
        if (sent++ == drop)
            continue;

        Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
        bool reply = false;
        fl_error err = {0};
        int result = proto_chunk_receiver_on_chunk(p->receiver, &chunk, &status, &reply, &err);
        if (result != FL_OK)
            print_error("%s\n", err.msg);
        assert_int_equal(result, FL_OK);
        if (reply)
            assert_int_equal(proto_chunk_sender_on_status(p->sender, &status, NULL), FL_OK);
    }
    return sent;
}

static void test_object_arrives_intact(void **state)
{
    (void)state;
    pair p;
    uint64_t total = 10 * 4096 + 123;
    pair_init(&p, total, 4096, 4);
    exchange_query(&p);
    assert_int_equal(run_transfer(&p, -1), 11);

    uint8_t expected[PROTO_HASH_BYTES];
    object_generator_hash(&p.generator, total, expected);
    assert_true(proto_chunk_receiver_complete(p.receiver));
    assert_memory_equal(proto_chunk_receiver_hash(p.receiver), expected, PROTO_HASH_BYTES);
    assert_int_equal(p.sink.bytes, total);
    assert_false(p.sink.mismatch);
    assert_int_equal(proto_chunk_sender_acknowledged(p.sender), total);
    assert_true(proto_chunk_sender_max_in_flight(p.sender) <= 4 * 4096);
    pair_release(&p);
}

static void test_lost_chunk_resent(void **state)
{
    (void)state;
    pair p;
    uint64_t total = 20 * 1000;
    pair_init(&p, total, 1000, 8);
    exchange_query(&p);
    int sent = run_transfer(&p, 5);
    assert_true(sent > 20);
    assert_true(proto_chunk_receiver_complete(p.receiver));
    assert_int_equal(p.sink.bytes, total);
    assert_false(p.sink.mismatch);
    pair_release(&p);
}

static void test_empty_object(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, 0, 1000, 2);
    exchange_query(&p);
    assert_int_equal(run_transfer(&p, -1), 1);
    assert_true(proto_chunk_receiver_complete(p.receiver));
    assert_int_equal(p.sink.calls, 0);
    pair_release(&p);
}

static void test_window_limits_in_flight(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, 100000, 1000, 3);
    Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
    bool ready = true;

    /* Nothing goes out before the receiver said where to start. */
    assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
    assert_false(ready);
    exchange_query(&p);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
        assert_true(ready);
    }
    assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
    assert_false(ready);
    assert_int_equal(proto_chunk_sender_max_in_flight(p.sender), 3000);
    pair_release(&p);
}

static void test_resume_by_new_sender(void **state)
{
    (void)state;
    pair p;
    uint64_t total = 50 * 1000 + 7;
    pair_init(&p, total, 1000, 4);
    exchange_query(&p);

    /* The first sender delivers 30 chunks and disappears. */
    for (int i = 0; i < 30; i++) {
        Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
        bool ready = false;
        assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
        assert_true(ready);
        Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
        bool reply = false;
        assert_int_equal(proto_chunk_receiver_on_chunk(p.receiver, &chunk, &status, &reply, NULL),
                         FL_OK);
        if (reply)
            assert_int_equal(proto_chunk_sender_on_status(p.sender, &status, NULL), FL_OK);
    }
    proto_chunk_sender_destroy(&p.sender);
    assert_int_equal(proto_chunk_receiver_received(p.receiver), 30000);

    /* A new sender asks where to resume, hashes the skipped part and sends the rest. */
    p.generator.bytes_read = 0;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, total, 1000, 4, object_generator_read,
                                            &p.generator, &p.sender, NULL), FL_OK);
    exchange_query(&p);
    run_transfer(&p, -1);
    assert_true(proto_chunk_receiver_complete(p.receiver));
    assert_int_equal(p.sink.bytes, total);
    assert_false(p.sink.mismatch);
    assert_int_equal(p.generator.bytes_read, total);
    pair_release(&p);
}

static void test_wrong_hash_rejected(void **state)
{
    (void)state;
    pair p;
    uint8_t wrong[PROTO_HASH_BYTES] = {1};
    memset(&p, 0, sizeof(p));
    p.generator.seed = 42;
    p.generator.cancel_at = UINT64_MAX;
    p.sink.generator = p.generator;
    assert_int_equal(proto_chunk_sender_new(OBJECT_ID, 3000, 1000, 4, object_generator_read,
                                            &p.generator, &p.sender, NULL), FL_OK);
    assert_int_equal(proto_chunk_receiver_new(OBJECT_ID, UINT64_MAX, wrong,
                                              object_check_sink_write, &p.sink, &p.receiver,
                                              NULL), FL_OK);

    /* The announced hash differs from the one the last chunk carries. */
    exchange_query(&p);
    fl_error err = {0};
    int result = FL_OK;
    for (int i = 0; i < 3 && result == FL_OK; i++) {
        Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
        bool ready = false;
        assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
        Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
        bool reply = false;
        result = proto_chunk_receiver_on_chunk(p.receiver, &chunk, &status, &reply, &err);
    }
    assert_int_equal(result, FL_EPROTO);
    assert_non_null(strstr(err.msg, "carries a hash other than the one announced"));
    assert_false(proto_chunk_receiver_complete(p.receiver));
    pair_release(&p);
}

static void test_corrupted_data_rejected(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, 2000, 1000, 4);
    exchange_query(&p);
    fl_error err = {0};
    int result = FL_OK;
    for (int i = 0; i < 2; i++) {
        Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
        bool ready = false;
        assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
        if (i == 0)
            chunk.data.data[10] ^= 0x01;
        Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
        bool reply = false;
        result = proto_chunk_receiver_on_chunk(p.receiver, &chunk, &status, &reply, &err);
    }
    assert_int_equal(result, FL_ECRYPTO);
    assert_non_null(strstr(err.msg, "does not match the hash its sender announced"));
    assert_false(proto_chunk_receiver_complete(p.receiver));
    assert_null(proto_chunk_receiver_hash(p.receiver));
    pair_release(&p);
}

static void test_size_over_4gib_tracked(void **state)
{
    (void)state;
    pair p;
    uint64_t total = (uint64_t)5 << 30;
    pair_init(&p, total, 1 << 20, 4);
    exchange_query(&p);

    Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
    bool ready = false;
    assert_int_equal(proto_chunk_sender_next(p.sender, &chunk, &ready, NULL), FL_OK);
    assert_int_equal(chunk.total_size, total);
    Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
    bool reply = false;
    assert_int_equal(proto_chunk_receiver_on_chunk(p.receiver, &chunk, &status, &reply, NULL),
                     FL_OK);

    /* A chunk far past 4 GiB shows a gap; the receiver asks for a restart at 1 MiB. */
    uint8_t byte = 0;
    Fedlora__ObjectChunk far = FEDLORA__OBJECT_CHUNK__INIT;
    far.object_id = OBJECT_ID;
    far.offset = (uint64_t)9 << 29;
    far.data.data = &byte;
    far.data.len = 1;
    far.total_size = total;
    assert_int_equal(proto_chunk_receiver_on_chunk(p.receiver, &far, &status, &reply, NULL),
                     FL_OK);
    assert_true(reply);
    assert_true(status.resync);
    assert_int_equal(status.received, 1 << 20);
    assert_int_equal(status.total_size, total);

    /* The same size over the limit a receiver sets is rejected. */
    proto_chunk_receiver *limited = NULL;
    assert_int_equal(proto_chunk_receiver_new(OBJECT_ID, (uint64_t)4 << 30, NULL,
                                              object_check_sink_write, &p.sink, &limited, NULL),
                     FL_OK);
    fl_error err = {0};
    assert_int_equal(proto_chunk_receiver_on_chunk(limited, &chunk, &status, &reply, &err),
                     FL_ERANGE);
    assert_non_null(strstr(err.msg, "has 5368709120 bytes"));
    proto_chunk_receiver_destroy(&limited);
    pair_release(&p);
}

static void test_other_object_rejected(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, 1000, 1000, 1);
    Fedlora__TransferQuery query = FEDLORA__TRANSFER_QUERY__INIT;
    query.object_id = "other-object";
    query.total_size = 1000;
    query.window_chunks = 1;
    Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
    fl_error err = {0};
    assert_int_equal(proto_chunk_receiver_on_query(p.receiver, &query, &status, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "got object other-object, expected " OBJECT_ID));

    status.object_id = "other-object";
    status.total_size = 1000;
    assert_int_equal(proto_chunk_sender_on_status(p.sender, &status, &err), FL_EPROTO);
    pair_release(&p);
}

static void test_file_reader_and_sink(void **state)
{
    (void)state;
    char path[] = "/tmp/fedlora-chunk-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);

    const uint8_t data[] = "adapter bytes";
    assert_int_equal(proto_file_sink(&fd, 3, data, sizeof(data), NULL), FL_OK);
    uint8_t back[sizeof(data)];
    assert_int_equal(proto_file_reader(&fd, 3, back, sizeof(back), NULL), FL_OK);
    assert_memory_equal(back, data, sizeof(data));

    fl_error err = {0};
    assert_int_equal(proto_file_reader(&fd, 100, back, sizeof(back), &err), FL_EIO);
    assert_non_null(strstr(err.msg, "unexpected end of file"));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_arrives_intact),
        cmocka_unit_test(test_lost_chunk_resent),
        cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_window_limits_in_flight),
        cmocka_unit_test(test_resume_by_new_sender),
        cmocka_unit_test(test_wrong_hash_rejected),
        cmocka_unit_test(test_corrupted_data_rejected),
        cmocka_unit_test(test_size_over_4gib_tracked),
        cmocka_unit_test(test_other_object_rejected),
        cmocka_unit_test(test_file_reader_and_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
