/* Transfers driven from a caller's loop, without blocking. */
#include <stdio.h>
#include <string.h>

#include "fl_log.h"
#include "proto_transfer.h"

/* The link's name for the receiver: NULL on a client, whose only peer is the server. */
static const char *peer_of(const proto_outgoing *out)
{
    return out->peer[0] != '\0' ? out->peer : NULL;
}

int proto_outgoing_start(proto_outgoing *out, proto_link *link, const char *peer,
                         proto_chunk_sender *sender, bool masked_input, fl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->sender = sender;
    snprintf(out->peer, sizeof(out->peer), "%s", peer != NULL ? peer : "");
    out->masked_input = masked_input;
    out->last_status_ms = proto_now_ms();
    out->queries = 1;
    return proto_link_start_object(link, peer_of(out), sender, err);
}

int proto_outgoing_on_message(proto_outgoing *out, const proto_message *message, bool *handled,
                              fl_error *err)
{
    uint64_t sent = proto_chunk_sender_next_offset(out->sender);
    int rc = proto_link_apply_status(out->sender, peer_of(out), message, handled, err);
    if (*handled) {
        const Fedlora__TransferStatus *status = message->envelope->transfer_status;
        if (rc == FL_OK && status->resync && status->received < sent)
            fl_info("transfer of %s to %s: resending from byte %llu of %llu, the first byte the "
                    "receiver lacks", status->object_id,
                    out->peer[0] ? out->peer : "the coordinator",
                    (unsigned long long)status->received, (unsigned long long)status->total_size);
        out->answered = out->answered || status->resync;
        out->last_status_ms = proto_now_ms();
        out->queries = 0;
    }
    return rc;
}

int proto_outgoing_pump(proto_outgoing *out, proto_link *link,
                        const proto_transfer_options *options, fl_error *err)
{
    if (proto_chunk_sender_complete(out->sender))
        return FL_OK;
    if (out->answered) {
        int status = proto_link_pump_object(link, peer_of(out), out->sender, out->masked_input,
                                            err);
        /*
         * A server has no route to a peer whose connection closed, and what it
         * sends before the peer reconnects is lost. So the transfer pauses until
         * the receiver replies to a later query. The peer's silence, not this
         * send, decides whether it is dead.
         */
        if (status == FL_ENOTFOUND) {
            fl_info("transfer of %s to %s: paused at byte %llu because the peer is not "
                    "connected. Asking where to resume every %d ms",
                    proto_chunk_sender_object_id(out->sender), out->peer,
                    (unsigned long long)proto_chunk_sender_acknowledged(out->sender),
                    options->status_timeout_ms);
            out->answered = false;
        } else if (status != FL_OK) {
            return status;
        }
    }

    if (proto_now_ms() - out->last_status_ms < options->status_timeout_ms)
        return FL_OK;
    if (out->queries >= options->max_queries)
        return fl_error_set(err, FL_ETIMEOUT,
                            "transfer of %s to %s: no answer to %d queries, %d ms apart",
                            proto_chunk_sender_object_id(out->sender),
                            out->peer[0] ? out->peer : "the coordinator", out->queries,
                            options->status_timeout_ms);

    fl_info("transfer of %s to %s: no status for %d ms, asking where to resume",
            proto_chunk_sender_object_id(out->sender),
            out->peer[0] ? out->peer : "the coordinator", options->status_timeout_ms);
    out->queries++;
    out->last_status_ms = proto_now_ms();
    /* A full queue or a disconnected peer is not fatal, because the next timeout queries again. */
    int status = proto_link_start_object(link, peer_of(out), out->sender, err);
    return status == FL_ETIMEOUT || status == FL_ENOTFOUND ? FL_OK : status;
}

bool proto_outgoing_complete(const proto_outgoing *out)
{
    return proto_chunk_sender_complete(out->sender);
}
