/*
 * proto_transfer.h - chunked object transfers over a proto_link.
 *
 * proto_link_send_object() drives a proto_chunk_sender until the receiver
 * confirms the whole object, sending heartbeats all along so a long upload
 * is never mistaken for a dead peer. On the receiving side the caller's own
 * receive loop passes each message to proto_link_receive_chunk(), which
 * feeds the chunks of one object to a proto_chunk_receiver and replies.
 */
#ifndef PROTO_TRANSFER_H
#define PROTO_TRANSFER_H

#include <stdbool.h>

#include "proto_chunk.h"
#include "proto_transport.h"

typedef struct proto_transfer_options {
    /* Time without a TransferStatus before the sender repeats its query, ms. Default 5000. */
    int status_timeout_ms;
    /* Unanswered queries in a row before the transfer fails with FL_ETIMEOUT. Default 12. */
    int max_queries;
    /* Send masked_input_chunk messages instead of model_chunk. */
    bool masked_input;
} proto_transfer_options;

/*
 * Handles a message that is not part of the transfer (a Heartbeat, an
 * Abort, another site's upload). Returns FL_OK to go on; any other status
 * stops the transfer and is returned. The handler must release message.
 */
typedef int (*proto_message_fn)(proto_message *message, void *context);

/* Fills options with the defaults listed above. */
void proto_transfer_options_default(proto_transfer_options *options);

/*
 * Sends sender's object to peer (NULL on a client) until the receiver
 * confirms it complete, starting or resuming with a TransferQuery. Calls
 * proto_link_tick() (heartbeats, liveness) throughout and on_other (may be
 * NULL, then other messages are dropped) for every unrelated message.
 * The same sender may be passed again, over a new link, after a failure.
 * Returns FL_OK, FL_ETIMEOUT after max_queries unanswered queries, FL_ENET,
 * FL_ECRYPTO or FL_EPROTO when the receiver answered with an Error
 * (ERROR_HASH_MISMATCH, ERROR_TRANSFER_FAILED), or the status of the reader,
 * the sender or on_other.
 */
int proto_link_send_object(proto_link *link, const char *peer, proto_chunk_sender *sender,
                           const proto_transfer_options *options, proto_message_fn on_other,
                           void *context, fl_error *err) FL_WARN_UNUSED;

/*
 * The steps of proto_link_send_object(), for a caller that runs several
 * transfers from one loop (a coordinator sending the adapter to every
 * site). proto_link_start_object() sends the TransferQuery that opens or
 * reopens the transfer; send it again when no status came for a while.
 * proto_link_pump_object() sends every chunk the window allows now and
 * returns without waiting. proto_link_apply_status() applies message to
 * sender when it is the TransferStatus of sender's object from peer, and
 * sets *handled; the caller still owns message. Each returns FL_OK or the
 * status of the link, the reader or the sender.
 */
int proto_link_start_object(proto_link *link, const char *peer, proto_chunk_sender *sender,
                            fl_error *err) FL_WARN_UNUSED;
int proto_link_pump_object(proto_link *link, const char *peer, proto_chunk_sender *sender,
                           bool masked_input, fl_error *err) FL_WARN_UNUSED;
int proto_link_apply_status(proto_chunk_sender *sender, const char *peer,
                            const proto_message *message, bool *handled,
                            fl_error *err) FL_WARN_UNUSED;

/*
 * Handles message when it is a chunk of, or a query about, receiver's
 * object: feeds the receiver and sends the TransferStatus back to
 * message->peer. When the receiver rejects the chunk or query it sends an
 * Error (ERROR_HASH_MISMATCH for FL_ECRYPTO, else ERROR_TRANSFER_FAILED)
 * instead, so the sender stops. Sets *handled accordingly; the caller still
 * owns message. Returns FL_OK or the receiver's or the link's status.
 */
int proto_link_receive_chunk(proto_link *link, proto_chunk_receiver *receiver,
                             const proto_message *message, bool *handled,
                             fl_error *err) FL_WARN_UNUSED;

/*
 * A transfer driven without blocking on top of the steps above: it keeps the
 * time of the last status and sends the query again after status_timeout_ms, as
 * proto_link_send_object() does. Start it, hand it each received message,
 * and pump it on every pass of the loop.
 */
typedef struct proto_outgoing {
    proto_chunk_sender *sender; /* borrowed; must outlive the transfer */
    char peer[PROTO_MAX_ID + 1]; /* empty on a client */
    bool masked_input;
    bool answered;              /* a TransferStatus named the offset to start at */
    int64_t last_status_ms;
    int queries;                /* queries in a row without a TransferStatus */
} proto_outgoing;

/* Starts sending sender's object to peer (NULL on a client) with a TransferQuery. */
int proto_outgoing_start(proto_outgoing *out, proto_link *link, const char *peer,
                         proto_chunk_sender *sender, bool masked_input,
                         fl_error *err) FL_WARN_UNUSED;

/* Applies message when it is this transfer's TransferStatus and sets *handled. */
int proto_outgoing_on_message(proto_outgoing *out, const proto_message *message, bool *handled,
                              fl_error *err) FL_WARN_UNUSED;

/*
 * Sends the chunks the window allows and repeats the query after status_timeout_ms
 * without a TransferStatus. When a server link has no connection to the peer
 * now, the transfer pauses until the receiver replies to a later query, and
 * this is not an error. Returns FL_OK, FL_ETIMEOUT after max_queries unanswered
 * queries, or the sender's or the link's status.
 */
int proto_outgoing_pump(proto_outgoing *out, proto_link *link,
                        const proto_transfer_options *options, fl_error *err) FL_WARN_UNUSED;

/* Returns true once the receiver confirmed the whole object. */
bool proto_outgoing_complete(const proto_outgoing *out);

#endif
