/*
 * proto_chunk.h - large objects (adapters, masked vectors) in chunks.
 *
 * A proto_chunk_sender reads an object of any 64-bit size through a reader
 * callback, one chunk at a time, and hashes it with BLAKE2b-256 as it goes.
 * A proto_chunk_receiver hands the chunks in offset order to a sink callback
 * and checks the hash at the end. Neither holds more than one chunk, so
 * memory stays bounded whatever the object's size.
 *
 * Protocol (messages in fedlora.proto): the sender opens or reopens a
 * transfer with TransferQuery; the receiver answers with TransferStatus
 * (resync = true) naming the bytes it already has, and the sender continues
 * from there, so a transfer survives a lost connection. The sender keeps at
 * most window_chunks chunks unacknowledged; the receiver acknowledges every
 * max(1, window_chunks / 2) chunks and answers a gap with resync = true.
 *
 * These are state machines without sockets; proto_transfer.h drives them
 * over a link. Neither object is thread-safe.
 */
#ifndef PROTO_CHUNK_H
#define PROTO_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fedlora.pb-c.h"
#include "fl_error.h"
#include "proto_limits.h"

/*
 * Reads exactly length bytes of the object at offset into buffer. Offsets
 * increase, except after a resume, when the sender reads part of the object
 * again; the bytes must then be the same. Returns FL_OK or a negative status
 * with err filled, which stops the transfer.
 */
typedef int (*proto_object_reader)(void *context, uint64_t offset, uint8_t *buffer,
                                   size_t length, fl_error *err);

/*
 * Consumes length bytes of the object at offset. Calls come in order without
 * gaps or overlaps, starting at 0. Returns FL_OK or a negative status.
 */
typedef int (*proto_object_sink)(void *context, uint64_t offset, const uint8_t *data,
                                 size_t length, fl_error *err);

/* A proto_object_reader over a file; context points to an int descriptor. */
int proto_file_reader(void *context, uint64_t offset, uint8_t *buffer, size_t length,
                      fl_error *err);

/* A proto_object_sink into a file; context points to an int descriptor. */
int proto_file_sink(void *context, uint64_t offset, const uint8_t *data, size_t length,
                    fl_error *err);

typedef struct proto_chunk_sender proto_chunk_sender;
typedef struct proto_chunk_receiver proto_chunk_receiver;

/*
 * Creates a sender of total_size bytes read through reader in chunks of
 * chunk_size bytes (1 to PROTO_MAX_CHUNK), with at most window_chunks (1 to
 * PROTO_MAX_WINDOW) in flight; PROTO_DEFAULT_CHUNK and PROTO_DEFAULT_WINDOW
 * suit most links. Keep the window below the link's high-water mark, or
 * sends wait for queue space. object_id follows the id rules of
 * fedlora.proto. Returns FL_OK and the sender in *out, or FL_EINVAL.
 */
int proto_chunk_sender_new(const char *object_id, uint64_t total_size, size_t chunk_size,
                           uint32_t window_chunks, proto_object_reader reader, void *context,
                           proto_chunk_sender **out, fl_error *err) FL_WARN_UNUSED;

/* Frees the sender and clears the pointer. NULL-safe. */
void proto_chunk_sender_destroy(proto_chunk_sender **sender);

/*
 * Fills query (initialised by the caller) to open or reopen the transfer.
 * The sender then holds its chunks until a TransferStatus with resync set
 * says where to start.
 */
void proto_chunk_sender_query(proto_chunk_sender *sender, Fedlora__TransferQuery *query);

/*
 * Prepares the next chunk in *chunk (initialised by the caller) and sets
 * *ready. *ready is false before the answer to a query, when the window is
 * full or when every byte was sent; then wait for a TransferStatus.
 * chunk->data points into the sender and stays valid until the next call.
 * Returns FL_OK, or the reader's status.
 */
int proto_chunk_sender_next(proto_chunk_sender *sender, Fedlora__ObjectChunk *chunk, bool *ready,
                            fl_error *err) FL_WARN_UNUSED;

/*
 * Applies a TransferStatus from the receiver: moves the acknowledged point,
 * rewinds to status->received on resync (reading and hashing any bytes the
 * sender never read, when it resumes a transfer another sender began).
 * Returns FL_OK, FL_EPROTO for a status of another object or size, or the
 * reader's status.
 */
int proto_chunk_sender_on_status(proto_chunk_sender *sender, const Fedlora__TransferStatus *status,
                                 fl_error *err) FL_WARN_UNUSED;

/* Returns true once the receiver reported the whole object received and verified. */
bool proto_chunk_sender_complete(const proto_chunk_sender *sender);

/* Returns the object id. */
const char *proto_chunk_sender_object_id(const proto_chunk_sender *sender);

/* Returns the bytes the receiver acknowledged. */
uint64_t proto_chunk_sender_acknowledged(const proto_chunk_sender *sender);

/* Returns the offset of the next chunk to send: the bytes sent so far, since the last rewind. */
uint64_t proto_chunk_sender_next_offset(const proto_chunk_sender *sender);

/* Returns the highest number of bytes in flight (sent, not acknowledged) seen so far. */
uint64_t proto_chunk_sender_max_in_flight(const proto_chunk_sender *sender);

/*
 * Creates a receiver of object_id that passes the bytes to sink. An object
 * larger than max_total_size (UINT64_MAX for no limit) is rejected;
 * expected_hash (32 bytes, or NULL) is the hash announced in advance, for
 * example in RoundStart. Returns FL_OK and the receiver in *out, or FL_EINVAL.
 */
int proto_chunk_receiver_new(const char *object_id, uint64_t max_total_size,
                             const uint8_t *expected_hash, proto_object_sink sink, void *context,
                             proto_chunk_receiver **out, fl_error *err) FL_WARN_UNUSED;

/* Frees the receiver and clears the pointer. NULL-safe. */
void proto_chunk_receiver_destroy(proto_chunk_receiver **receiver);

/*
 * Handles one chunk. Sets *reply when *status (initialised by the caller;
 * its object_id points into the receiver) should go back to the sender.
 * Returns FL_OK, FL_EPROTO for a chunk of another object or size, FL_ERANGE
 * above max_total_size, FL_ECRYPTO when the finished object's hash differs
 * (the receiver then fails every later call), or the sink's status.
 */
int proto_chunk_receiver_on_chunk(proto_chunk_receiver *receiver, const Fedlora__ObjectChunk *chunk,
                                  Fedlora__TransferStatus *status, bool *reply,
                                  fl_error *err) FL_WARN_UNUSED;

/* Handles a TransferQuery; *status must always be sent back. Returns as on_chunk. */
int proto_chunk_receiver_on_query(proto_chunk_receiver *receiver,
                                  const Fedlora__TransferQuery *query,
                                  Fedlora__TransferStatus *status, fl_error *err) FL_WARN_UNUSED;

/* Returns true once every byte arrived and the hash matched. */
bool proto_chunk_receiver_complete(const proto_chunk_receiver *receiver);

/* Returns the object id. */
const char *proto_chunk_receiver_object_id(const proto_chunk_receiver *receiver);

/* Returns the bytes received in order so far. */
uint64_t proto_chunk_receiver_received(const proto_chunk_receiver *receiver);

/* Returns the verified BLAKE2b-256 of the object, or NULL before completion. */
const uint8_t *proto_chunk_receiver_hash(const proto_chunk_receiver *receiver);

#endif
