/* Chunk sender and receiver state machines, and file readers and sinks. */
#include "proto_chunk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fl_mem.h"
#include "proto_codec.h"

struct proto_chunk_sender {
    char object_id[PROTO_MAX_ID + 1];
    uint64_t total_size;
    size_t chunk_size;
    uint32_t window_chunks;
    proto_object_reader reader;
    void *context;
    uint8_t *buffer; /* chunk_size bytes */

    crypto_generichash_state hash_state;
    uint64_t hashed; /* bytes [0, hashed) went into hash_state */
    uint8_t hash[PROTO_HASH_BYTES];
    bool hash_done;

    uint64_t next; /* offset of the next chunk to send */
    uint64_t acknowledged;
    uint64_t max_in_flight;
    bool sent_empty; /* an object of size 0 travels as one empty chunk */
    bool started;    /* the receiver answered a query, so the start offset is known */
    bool complete;
};

struct proto_chunk_receiver {
    char object_id[PROTO_MAX_ID + 1];
    uint64_t max_total_size;
    uint64_t total_size;
    bool total_known;
    uint8_t announced_hash[PROTO_HASH_BYTES];
    bool hash_announced;
    proto_object_sink sink;
    void *context;

    crypto_generichash_state hash_state;
    uint64_t received;
    uint8_t hash[PROTO_HASH_BYTES];
    uint32_t ack_every;
    uint32_t since_ack;
    uint64_t resync_sent_at; /* received value last answered with resync; UINT64_MAX: none */
    bool complete;
    bool failed;
};

static int check_object_id(const char *object_id, fl_error *err)
{
    size_t length = object_id != NULL ? strlen(object_id) : 0;
    if (length == 0 || length > PROTO_MAX_ID || !proto_utf8_valid(object_id, length))
        return fl_error_set(err, FL_EINVAL, "chunk transfer: object id must be 1 to %u bytes of "
                            "UTF-8", PROTO_MAX_ID);
    return FL_OK;
}

int proto_chunk_sender_new(const char *object_id, uint64_t total_size, size_t chunk_size,
                           uint32_t window_chunks, proto_object_reader reader, void *context,
                           proto_chunk_sender **out, fl_error *err)
{
    *out = NULL;
    int status = check_object_id(object_id, err);
    if (status != FL_OK)
        return status;
    if (chunk_size < 1 || chunk_size > PROTO_MAX_CHUNK || window_chunks < 1 ||
        window_chunks > PROTO_MAX_WINDOW || reader == NULL)
        return fl_error_set(err, FL_EINVAL, "chunk transfer: chunk size %zu must be 1 to %u "
                            "bytes and window %u must be 1 to %u chunks", chunk_size,
                            PROTO_MAX_CHUNK, window_chunks, PROTO_MAX_WINDOW);
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "chunk transfer: sodium_init() failed");

    proto_chunk_sender *sender = fl_xcalloc(1, sizeof(proto_chunk_sender));
    strcpy(sender->object_id, object_id);
    sender->total_size = total_size;
    sender->chunk_size = chunk_size;
    sender->window_chunks = window_chunks;
    sender->reader = reader;
    sender->context = context;
    sender->buffer = fl_xmalloc(chunk_size);
    crypto_generichash_init(&sender->hash_state, NULL, 0, PROTO_HASH_BYTES);
    *out = sender;
    return FL_OK;
}

void proto_chunk_sender_destroy(proto_chunk_sender **sender)
{
    if (sender == NULL || *sender == NULL)
        return;
    free((*sender)->buffer);
    free(*sender);
    *sender = NULL;
}

void proto_chunk_sender_query(proto_chunk_sender *sender, Fedlora__TransferQuery *query)
{
    sender->started = false;
    query->object_id = (char *)sender->object_id;
    query->total_size = sender->total_size;
    query->window_chunks = sender->window_chunks;
}

/* Feeds the part of buffer (the bytes at offset) past the hashed prefix into the hash. */
static void hash_range(proto_chunk_sender *sender, uint64_t offset, const uint8_t *buffer,
                       size_t length)
{
    uint64_t end = offset + length;
    if (end > sender->hashed && offset <= sender->hashed) {
        size_t skip = (size_t)(sender->hashed - offset);
        crypto_generichash_update(&sender->hash_state, buffer + skip, length - skip);
        sender->hashed = end;
    }
    if (sender->hashed == sender->total_size && !sender->hash_done) {
        crypto_generichash_final(&sender->hash_state, sender->hash, PROTO_HASH_BYTES);
        sender->hash_done = true;
    }
}

/* Reads and hashes [hashed, until) that this sender never read, before a resume there. */
static int catch_up_hash(proto_chunk_sender *sender, uint64_t until, fl_error *err)
{
    while (sender->hashed < until) {
        uint64_t left = until - sender->hashed;
        size_t length = left < sender->chunk_size ? (size_t)left : sender->chunk_size;
        int status = sender->reader(sender->context, sender->hashed, sender->buffer, length, err);
        if (status != FL_OK)
            return status;
        hash_range(sender, sender->hashed, sender->buffer, length);
    }
    return FL_OK;
}

int proto_chunk_sender_next(proto_chunk_sender *sender, Fedlora__ObjectChunk *chunk, bool *ready,
                            fl_error *err)
{
    *ready = false;
    bool all_sent = sender->next >= sender->total_size &&
                    (sender->total_size > 0 || sender->sent_empty);
    uint64_t window_bytes = (uint64_t)sender->window_chunks * sender->chunk_size;
    if (!sender->started || sender->complete || all_sent ||
        sender->next - sender->acknowledged >= window_bytes)
        return FL_OK;

    uint64_t left = sender->total_size - sender->next;
    size_t length = left < sender->chunk_size ? (size_t)left : sender->chunk_size;
    int status = length > 0
                     ? sender->reader(sender->context, sender->next, sender->buffer, length, err)
                     : FL_OK;
    if (status != FL_OK)
        return status;
    hash_range(sender, sender->next, sender->buffer, length);

    chunk->object_id = sender->object_id;
    chunk->offset = sender->next;
    chunk->data.data = sender->buffer;
    chunk->data.len = length;
    chunk->total_size = sender->total_size;
    chunk->object_hash.data = NULL;
    chunk->object_hash.len = 0;
    if (sender->next + length == sender->total_size) {
        chunk->object_hash.data = sender->hash;
        chunk->object_hash.len = PROTO_HASH_BYTES;
        sender->sent_empty = true;
    }

    sender->next += length;
    if (sender->next - sender->acknowledged > sender->max_in_flight)
        sender->max_in_flight = sender->next - sender->acknowledged;
    *ready = true;
    return FL_OK;
}

int proto_chunk_sender_on_status(proto_chunk_sender *sender, const Fedlora__TransferStatus *status,
                                 fl_error *err)
{
    if (strcmp(status->object_id, sender->object_id) != 0 ||
        status->total_size != sender->total_size)
        return fl_error_set(err, FL_EPROTO, "chunk transfer: status for object %s of %llu bytes "
                            "does not match object %s of %llu bytes", status->object_id,
                            (unsigned long long)status->total_size, sender->object_id,
                            (unsigned long long)sender->total_size);

    /* The receiver never loses bytes it had, so a lower count only comes with resync. */
    bool rewind = status->resync || status->received > sender->next;
    if (rewind) {
        int result = catch_up_hash(sender, status->received, err);
        if (result != FL_OK)
            return result;
        sender->next = status->received;
        sender->acknowledged = status->received;
        sender->started = sender->started || status->resync;
        if (sender->total_size == 0 && !status->complete)
            sender->sent_empty = false;
    } else if (status->received > sender->acknowledged) {
        sender->acknowledged = status->received;
    }

    if (status->complete && status->received == sender->total_size)
        sender->complete = true;
    return FL_OK;
}

bool proto_chunk_sender_complete(const proto_chunk_sender *sender)
{
    return sender->complete;
}

const char *proto_chunk_sender_object_id(const proto_chunk_sender *sender)
{
    return sender->object_id;
}

uint64_t proto_chunk_sender_acknowledged(const proto_chunk_sender *sender)
{
    return sender->acknowledged;
}

uint64_t proto_chunk_sender_next_offset(const proto_chunk_sender *sender)
{
    return sender->next;
}

uint64_t proto_chunk_sender_max_in_flight(const proto_chunk_sender *sender)
{
    return sender->max_in_flight;
}

int proto_chunk_receiver_new(const char *object_id, uint64_t max_total_size,
                             const uint8_t *expected_hash, proto_object_sink sink, void *context,
                             proto_chunk_receiver **out, fl_error *err)
{
    *out = NULL;
    int status = check_object_id(object_id, err);
    if (status != FL_OK)
        return status;
    if (sink == NULL)
        return fl_error_set(err, FL_EINVAL, "chunk transfer: receiver of %s needs a sink",
                            object_id);
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "chunk transfer: sodium_init() failed");

    proto_chunk_receiver *receiver = fl_xcalloc(1, sizeof(proto_chunk_receiver));
    strcpy(receiver->object_id, object_id);
    receiver->max_total_size = max_total_size;
    if (expected_hash != NULL) {
        memcpy(receiver->announced_hash, expected_hash, PROTO_HASH_BYTES);
        receiver->hash_announced = true;
    }
    receiver->sink = sink;
    receiver->context = context;
    receiver->ack_every = 1;
    receiver->resync_sent_at = UINT64_MAX;
    crypto_generichash_init(&receiver->hash_state, NULL, 0, PROTO_HASH_BYTES);
    *out = receiver;
    return FL_OK;
}

void proto_chunk_receiver_destroy(proto_chunk_receiver **receiver)
{
    if (receiver == NULL || *receiver == NULL)
        return;
    free(*receiver);
    *receiver = NULL;
}

static void fill_status(proto_chunk_receiver *receiver, Fedlora__TransferStatus *status,
                        bool resync)
{
    status->object_id = receiver->object_id;
    status->received = receiver->received;
    status->total_size = receiver->total_size;
    status->resync = resync;
    status->complete = receiver->complete;
}

/* Checks the object id and size that a chunk or query names against earlier ones. */
static int check_identity(proto_chunk_receiver *receiver, const char *object_id,
                          uint64_t total_size, fl_error *err)
{
    if (receiver->failed)
        return fl_error_set(err, FL_ECRYPTO, "chunk transfer: object %s failed its hash check "
                            "earlier; start a new transfer", receiver->object_id);
    if (strcmp(object_id, receiver->object_id) != 0)
        return fl_error_set(err, FL_EPROTO, "chunk transfer: got object %s, expected %s",
                            object_id, receiver->object_id);
    if (!receiver->total_known) {
        if (total_size > receiver->max_total_size)
            return fl_error_set(err, FL_ERANGE, "chunk transfer: object %s has %llu bytes, more "
                                "than the %llu bytes expected", object_id,
                                (unsigned long long)total_size,
                                (unsigned long long)receiver->max_total_size);
        receiver->total_size = total_size;
        receiver->total_known = true;
    } else if (total_size != receiver->total_size) {
        return fl_error_set(err, FL_EPROTO, "chunk transfer: object %s changed its size from "
                            "%llu to %llu bytes", object_id,
                            (unsigned long long)receiver->total_size,
                            (unsigned long long)total_size);
    }
    return FL_OK;
}

/* Records the hash a chunk carries; every chunk that carries one must agree. */
static int note_hash(proto_chunk_receiver *receiver, const ProtobufCBinaryData *hash,
                     fl_error *err)
{
    if (hash->len != PROTO_HASH_BYTES)
        return FL_OK;
    if (receiver->hash_announced &&
        sodium_memcmp(receiver->announced_hash, hash->data, PROTO_HASH_BYTES) != 0)
        return fl_error_set(err, FL_EPROTO, "chunk transfer: object %s carries a hash other than "
                            "the one announced for it", receiver->object_id);
    memcpy(receiver->announced_hash, hash->data, PROTO_HASH_BYTES);
    receiver->hash_announced = true;
    return FL_OK;
}

/* Finishes the hash of a complete object and compares it with the announced one. */
static int verify_object(proto_chunk_receiver *receiver, fl_error *err)
{
    crypto_generichash_final(&receiver->hash_state, receiver->hash, PROTO_HASH_BYTES);
    if (!receiver->hash_announced ||
        sodium_memcmp(receiver->hash, receiver->announced_hash, PROTO_HASH_BYTES) != 0) {
        receiver->failed = true;
        return fl_error_set(err, FL_ECRYPTO, "chunk transfer: BLAKE2b of object %s (%llu bytes) "
                            "does not match the hash its sender announced; the data was "
                            "corrupted or the sender's reader changed it",
                            receiver->object_id, (unsigned long long)receiver->total_size);
    }
    receiver->complete = true;
    return FL_OK;
}

int proto_chunk_receiver_on_chunk(proto_chunk_receiver *receiver, const Fedlora__ObjectChunk *chunk,
                                  Fedlora__TransferStatus *status, bool *reply, fl_error *err)
{
    *reply = false;
    int result = check_identity(receiver, chunk->object_id, chunk->total_size, err);
    if (result == FL_OK)
        result = note_hash(receiver, &chunk->object_hash, err);
    if (result != FL_OK)
        return result;

    /* A re-sent chunk after completion: confirm again, the first answer may be lost. */
    if (receiver->complete) {
        fill_status(receiver, status, false);
        *reply = true;
        return FL_OK;
    }

    /* A gap: ask once per position for a restart from what is here. */
    if (chunk->offset > receiver->received) {
        if (receiver->resync_sent_at != receiver->received) {
            receiver->resync_sent_at = receiver->received;
            fill_status(receiver, status, true);
            *reply = true;
        }
        return FL_OK;
    }

    uint64_t end = chunk->offset + chunk->data.len;
    bool empty_object = receiver->total_size == 0;
    if (end <= receiver->received && !empty_object)
        return FL_OK; /* a duplicate from before a resume */

    size_t skip = (size_t)(receiver->received - chunk->offset);
    size_t length = chunk->data.len - skip;
    if (length > 0) {
        result = receiver->sink(receiver->context, receiver->received, chunk->data.data + skip,
                                length, err);
        if (result != FL_OK)
            return result;
        crypto_generichash_update(&receiver->hash_state, chunk->data.data + skip, length);
        receiver->received = end;
    }
    receiver->since_ack++;

    if (receiver->received == receiver->total_size) {
        result = verify_object(receiver, err);
        if (result != FL_OK)
            return result;
    }
    if (receiver->complete || receiver->since_ack >= receiver->ack_every) {
        receiver->since_ack = 0;
        fill_status(receiver, status, false);
        *reply = true;
    }
    return FL_OK;
}

int proto_chunk_receiver_on_query(proto_chunk_receiver *receiver,
                                  const Fedlora__TransferQuery *query,
                                  Fedlora__TransferStatus *status, fl_error *err)
{
    int result = check_identity(receiver, query->object_id, query->total_size, err);
    if (result != FL_OK)
        return result;
    receiver->ack_every = query->window_chunks / 2 > 0 ? query->window_chunks / 2 : 1;
    receiver->since_ack = 0;
    receiver->resync_sent_at = receiver->received;
    fill_status(receiver, status, true);
    return FL_OK;
}

bool proto_chunk_receiver_complete(const proto_chunk_receiver *receiver)
{
    return receiver->complete;
}

const char *proto_chunk_receiver_object_id(const proto_chunk_receiver *receiver)
{
    return receiver->object_id;
}

uint64_t proto_chunk_receiver_received(const proto_chunk_receiver *receiver)
{
    return receiver->received;
}

const uint8_t *proto_chunk_receiver_hash(const proto_chunk_receiver *receiver)
{
    return receiver->complete ? receiver->hash : NULL;
}

int proto_file_reader(void *context, uint64_t offset, uint8_t *buffer, size_t length,
                      fl_error *err)
{
    int fd = *(const int *)context;
    size_t done = 0;
    while (done < length) {
        ssize_t got = pread(fd, buffer + done, length - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fl_error_set(err, FL_EIO, "chunk transfer: reading %zu bytes at offset %llu "
                                "failed: %s", length - done,
                                (unsigned long long)(offset + done),
                                got == 0 ? "unexpected end of file" : strerror(errno));
        done += (size_t)got;
    }
    return FL_OK;
}

int proto_file_sink(void *context, uint64_t offset, const uint8_t *data, size_t length,
                    fl_error *err)
{
    int fd = *(const int *)context;
    size_t done = 0;
    while (done < length) {
        ssize_t put = pwrite(fd, data + done, length - done, (off_t)(offset + done));
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return fl_error_set(err, FL_EIO, "chunk transfer: writing %zu bytes at offset %llu "
                                "failed: %s; check free disk space", length - done,
                                (unsigned long long)(offset + done), strerror(errno));
        done += (size_t)put;
    }
    return FL_OK;
}
