/*
 * Round control messages that survive a lost connection.
 *
 * ZeroMQ drops what a ROUTER sends to a peer whose connection closed, and
 * what was queued on a connection that a cut ended. Chunked transfers recover
 * by their own queries. A control message (RoundStart, the KeyList, the
 * share relay, UnmaskRequest) is kept per site instead and resent while the
 * site's heartbeats show that it, or the site's reply to it, did not arrive.
 * The site takes a repeated message as a request to resend its reply, and both
 * sides ignore copies of what they already processed.
 */
#include <stdlib.h>
#include <string.h>

#include "coord_round_internal.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "proto_codec.h"

/* Replaces the site's kept control message with envelope, whose header send filled in. */
static void keep_control(round_site *site, const Fedlora__Envelope *envelope)
{
    free(site->control);
    site->control_size = fedlora__envelope__get_packed_size(envelope);
    site->control = fl_xmalloc(site->control_size > 0 ? site->control_size : 1);
    fedlora__envelope__pack(envelope, site->control);
    site->control_step = proto_control_step(envelope->body_case);
    site->control_sent = fl_time_monotonic();
}

/* True for the send failures of a site that is not connected at the moment. */
static bool transient(int status)
{
    return status == FL_ENOTFOUND || status == FL_ETIMEOUT || status == FL_ENET;
}

void round_send(coord_round *round, round_site *site, Fedlora__Envelope *envelope)
{
    fl_error err = {0};
    int rc = proto_link_send(round->context.link, site->name, envelope, &err);
    keep_control(site, envelope);
    if (rc == FL_OK)
        return;
    if (!transient(rc)) {
        round_site_out(round, site, "sending %s failed: %s",
                       proto_body_name(envelope->body_case), err.msg);
        return;
    }
    fl_warn("round %llu: sending %s to %s failed: %s. It is resent once the site's "
            "heartbeats show it missing", (unsigned long long)round->number,
            proto_body_name(envelope->body_case), site->name, err.msg);
}

void round_note_progress(coord_round *round, round_site *site, const Fedlora__Envelope *e)
{
    const Fedlora__RoundProgress *progress = e->heartbeat->progress;
    if (progress == NULL)
        return;
    bool this_attempt = e->round == round->number && progress->attempt == round->attempt;
    site->progress_at = fl_time_monotonic();
    site->progress_received = this_attempt ? progress->control_received : 0;
    site->progress_replied = this_attempt ? progress->control_replied : 0;
}

/*
 * True when the site's reply to control step `step` has arrived. The masked
 * upload replies to step 3, so a control message in reply to it can only be
 * an Abort, which takes the site out once it arrives.
 */
static bool reply_arrived(const round_site *site, uint32_t step)
{
    switch (step) {
    case 1: return site->advertised;
    case 2: return site->shared;
    case 4: return site->unmasked;
    default: return false;
    }
}

static void resend(coord_round *round, round_site *site, const char *what_is_lost)
{
    Fedlora__Envelope *envelope = fedlora__envelope__unpack(NULL, site->control_size,
                                                            site->control);
    if (envelope == NULL) {
        round_site_out(round, site, "its kept control message cannot be unpacked");
        return;
    }
    site->resent++;
    fl_info("round %llu: resending %s to %s, because its heartbeat shows %s (resend %u)",
            (unsigned long long)round->number, proto_body_name(envelope->body_case), site->name,
            what_is_lost, site->resent);
    /* Sending points the header strings at the link's own; free_unpacked needs the copies. */
    char *sender = envelope->sender, *job_id = envelope->job_id;
    round_send(round, site, envelope);
    envelope->sender = sender;
    envelope->job_id = job_id;
    fedlora__envelope__free_unpacked(envelope, NULL);
}

void round_resend_lost(coord_round *round)
{
    double now = fl_time_monotonic();
    double wait = round->context.resend_after_s;
    for (size_t i = 0; i < round->site_count && round->phase < COORD_PHASE_DONE; i++) {
        round_site *site = &round->sites[i];
        if (site->out || site->control == NULL || now - site->control_sent < wait ||
            site->progress_at - site->control_sent < wait)
            continue;

        uint32_t step = site->control_step;
        if (site->progress_received < step)
            resend(round, site, "the message missing");
        else if (site->progress_replied >= step && !reply_arrived(site, step))
            resend(round, site, "its reply sent but not received");
    }
}
