/* Driving chunk senders and receivers over a link. */
#include "proto_transfer.h"

#include <string.h>

#include "fl_log.h"

void proto_transfer_options_default(proto_transfer_options *options)
{
    memset(options, 0, sizeof(*options));
    options->status_timeout_ms = 5000;
    options->max_queries = 12;
}

int proto_link_start_object(proto_link *link, const char *peer, proto_chunk_sender *sender,
                            fl_error *err)
{
    Fedlora__TransferQuery query = FEDLORA__TRANSFER_QUERY__INIT;
    proto_chunk_sender_query(sender, &query);
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY;
    envelope.transfer_query = &query;
    return proto_link_send(link, peer, &envelope, err);
}

int proto_link_pump_object(proto_link *link, const char *peer, proto_chunk_sender *sender,
                           bool masked_input, fl_error *err)
{
    for (;;) {
        Fedlora__ObjectChunk chunk = FEDLORA__OBJECT_CHUNK__INIT;
        bool ready = false;
        int status = proto_chunk_sender_next(sender, &chunk, &ready, err);
        if (status != FL_OK || !ready)
            return status;

        Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
        if (masked_input) {
            envelope.body_case = FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK;
            envelope.masked_input_chunk = &chunk;
        } else {
            envelope.body_case = FEDLORA__ENVELOPE__BODY_MODEL_CHUNK;
            envelope.model_chunk = &chunk;
        }
        status = proto_link_send(link, peer, &envelope, err);
        if (status == FL_OK)
            status = proto_link_tick(link, NULL, NULL, err);
        if (status != FL_OK)
            return status;
    }
}

int proto_link_apply_status(proto_chunk_sender *sender, const char *peer,
                            const proto_message *message, bool *handled, fl_error *err)
{
    const Fedlora__Envelope *e = message->envelope;
    *handled = e->body_case == FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS &&
               (peer == NULL || strcmp(message->peer, peer) == 0) &&
               strcmp(e->transfer_status->object_id, proto_chunk_sender_object_id(sender)) == 0;
    if (!*handled)
        return FL_OK;
    return proto_chunk_sender_on_status(sender, e->transfer_status, err);
}

/* Turns an Error from the receiver about this transfer into the status that stops it. */
static int check_transfer_error(const proto_chunk_sender *sender, const char *peer,
                                const proto_message *message, fl_error *err)
{
    const Fedlora__Envelope *e = message->envelope;
    if (e->body_case != FEDLORA__ENVELOPE__BODY_ERROR ||
        (peer != NULL && strcmp(message->peer, peer) != 0))
        return FL_OK;

    Fedlora__ErrorCode code = e->error->code;
    if (code != FEDLORA__ERROR_CODE__ERROR_HASH_MISMATCH &&
        code != FEDLORA__ERROR_CODE__ERROR_TRANSFER_FAILED)
        return FL_OK;
    return fl_error_set(err, code == FEDLORA__ERROR_CODE__ERROR_HASH_MISMATCH ? FL_ECRYPTO
                                                                             : FL_EPROTO,
                        "transfer of %s: %s rejected it: %s",
                        proto_chunk_sender_object_id(sender), message->peer, e->error->detail);
}

/* Receives one message for up to 20 ms and passes it to sender or on_other. */
static int receive_one(proto_link *link, const char *peer, proto_chunk_sender *sender,
                       proto_message_fn on_other, void *context, bool *got_status, fl_error *err)
{
    *got_status = false;
    proto_message message;
    int status = proto_link_recv(link, 20, &message, err);
    if (status == FL_ENET)
        return status;
    if (status != FL_OK)
        return FL_OK; /* a timeout, or a rejected message proto_link_recv() logged */

    status = proto_link_apply_status(sender, peer, &message, got_status, err);
    if (status == FL_OK && !*got_status)
        status = check_transfer_error(sender, peer, &message, err);
    if (status != FL_OK || *got_status || on_other == NULL) {
        proto_message_release(&message);
        return status;
    }
    return on_other(&message, context);
}

int proto_link_send_object(proto_link *link, const char *peer, proto_chunk_sender *sender,
                           const proto_transfer_options *options, proto_message_fn on_other,
                           void *context, fl_error *err)
{
    int status = proto_link_start_object(link, peer, sender, err);
    if (status != FL_OK)
        return status;
    int64_t last_status_ms = proto_now_ms();
    int queries = 1;

    while (!proto_chunk_sender_complete(sender)) {
        bool got_status = false;
        status = proto_link_pump_object(link, peer, sender, options->masked_input, err);
        if (status == FL_OK)
            status = proto_link_tick(link, NULL, NULL, err);
        if (status == FL_OK)
            status = receive_one(link, peer, sender, on_other, context, &got_status, err);
        if (status != FL_OK)
            return status;

        if (got_status) {
            last_status_ms = proto_now_ms();
            queries = 0;
        }
        if (proto_now_ms() - last_status_ms < options->status_timeout_ms)
            continue;
        if (queries >= options->max_queries)
            return fl_error_set(err, FL_ETIMEOUT, "transfer of %s: no answer from %s to %d "
                                "queries, %d ms apart", proto_chunk_sender_object_id(sender),
                                peer != NULL ? peer : "the coordinator", queries,
                                options->status_timeout_ms);

        /* A full queue (FL_ETIMEOUT) is not fatal here: the next timeout asks again. */
        fl_info("transfer of %s: no status for %d ms, asking where to resume",
                proto_chunk_sender_object_id(sender), options->status_timeout_ms);
        status = proto_link_start_object(link, peer, sender, err);
        if (status != FL_OK && status != FL_ETIMEOUT)
            return status;
        queries++;
        last_status_ms = proto_now_ms();
    }
    return FL_OK;
}

/*
 * Tells the sender why the receiver rejected its chunk or query, so it stops
 * instead of retrying until it times out. Best effort: a failed send is
 * logged only.
 */
static void report_failure(proto_link *link, const proto_message *message, int result,
                           const fl_error *cause)
{
    /* Cut a long text before a character that would not fit, so it stays valid UTF-8. */
    const char *text = cause != NULL ? cause->msg : fl_strerror(result);
    char detail[PROTO_MAX_DETAIL];
    size_t length = strnlen(text, sizeof(detail) - 1);
    while (length > 0 && ((unsigned char)text[length] & 0xC0) == 0x80)
        length--;
    memcpy(detail, text, length);
    detail[length] = '\0';

    Fedlora__Error error = FEDLORA__ERROR__INIT;
    error.code = result == FL_ECRYPTO ? FEDLORA__ERROR_CODE__ERROR_HASH_MISMATCH
                                      : FEDLORA__ERROR_CODE__ERROR_TRANSFER_FAILED;
    error.in_reply_to = message->envelope->sequence;
    error.detail = detail;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_ERROR;
    envelope.error = &error;

    fl_error err = {0};
    if (proto_link_send(link, message->peer, &envelope, &err) != FL_OK)
        fl_warn("cannot tell %s that its transfer failed: %s", message->peer, err.msg);
}

int proto_link_receive_chunk(proto_link *link, proto_chunk_receiver *receiver,
                             const proto_message *message, bool *handled, fl_error *err)
{
    const Fedlora__Envelope *e = message->envelope;
    const char *object_id = proto_chunk_receiver_object_id(receiver);
    const Fedlora__ObjectChunk *chunk = NULL;
    if (e->body_case == FEDLORA__ENVELOPE__BODY_MODEL_CHUNK)
        chunk = e->model_chunk;
    else if (e->body_case == FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK)
        chunk = e->masked_input_chunk;

    *handled = false;
    Fedlora__TransferStatus status = FEDLORA__TRANSFER_STATUS__INIT;
    bool reply = false;
    int result = FL_OK;
    if (chunk != NULL && strcmp(chunk->object_id, object_id) == 0) {
        *handled = true;
        result = proto_chunk_receiver_on_chunk(receiver, chunk, &status, &reply, err);
    } else if (e->body_case == FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY &&
               strcmp(e->transfer_query->object_id, object_id) == 0) {
        *handled = true;
        reply = true;
        result = proto_chunk_receiver_on_query(receiver, e->transfer_query, &status, err);
    }
    if (result != FL_OK && *handled) {
        report_failure(link, message, result, err);
        return result;
    }
    if (result != FL_OK || !reply)
        return result;

    Fedlora__Envelope answer = FEDLORA__ENVELOPE__INIT;
    answer.body_case = FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS;
    answer.transfer_status = &status;
    result = proto_link_send(link, message->peer, &answer, err);

    /* A sender that went away asks again with a TransferQuery when it reconnects. */
    if (result == FL_ENOTFOUND) {
        fl_debug("transfer of %s: status not sent, %s is not connected", object_id,
                 message->peer);
        result = FL_OK;
    }
    return result;
}
