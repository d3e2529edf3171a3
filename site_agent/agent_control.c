#include "agent_control.h"

#include <stdlib.h>
#include <string.h>

#include "fl_log.h"
#include "fl_mem.h"
#include "proto_codec.h"

/* Sets the progress the link's heartbeats report. link may be NULL, as when set-up failed. */
static void report(const agent_control *control, proto_link *link)
{
    if (link == NULL)
        return;
    proto_round_progress progress = {control->attempt, control->received, control->replied};
    proto_link_set_progress(link, &progress);
}

static void drop_replies(agent_control *control)
{
    for (size_t i = 0; i < control->reply_count; i++)
        free(control->replies[i]);
    control->reply_count = 0;
}

void agent_control_release(agent_control *control, proto_link *link)
{
    drop_replies(control);
    memset(control, 0, sizeof(*control));
    report(control, link);
}

void agent_control_start(agent_control *control, proto_link *link,
                         const Fedlora__Envelope *round_start)
{
    drop_replies(control);
    memset(control, 0, sizeof(*control));
    control->round = round_start->round;
    control->attempt = round_start->round_start->attempt;
    control->received = proto_control_step(round_start->body_case);
    proto_body_hash(round_start, control->round_start_hash);
    memcpy(control->received_hash, control->round_start_hash, PROTO_HASH_BYTES);
    report(control, link);
}

static void resend_replies(const agent_control *control, proto_link *link, const char *request)
{
    fl_info("round %llu: the coordinator repeated %s, so it lacks this site's reply; "
            "resending %zu message(s)", (unsigned long long)control->round, request,
            control->reply_count);
    for (size_t i = 0; i < control->reply_count; i++) {
        Fedlora__Envelope *reply = fedlora__envelope__unpack(NULL, control->reply_sizes[i],
                                                              control->replies[i]);
        if (reply == NULL) {
            fl_error("round %llu: a kept reply cannot be unpacked",
                     (unsigned long long)control->round);
            continue;
        }
        /* Sending points the header strings at the link's own; free_unpacked needs the copies. */
        char *sender = reply->sender, *job_id = reply->job_id;
        fl_error err = {0};
        if (proto_link_send(link, NULL, reply, &err) != FL_OK)
            fl_warn("resending %s failed: %s. The coordinator repeats its request",
                    proto_body_name(reply->body_case), err.msg);
        reply->sender = sender;
        reply->job_id = job_id;
        fedlora__envelope__free_unpacked(reply, NULL);
    }
}

bool agent_control_is_duplicate(agent_control *control, proto_link *link,
                                const Fedlora__Envelope *envelope)
{
    uint32_t step = proto_control_step(envelope->body_case);
    if (step == 0 || control->round == 0 || envelope->round != control->round ||
        step > control->received)
        return false;
    uint8_t hash[PROTO_HASH_BYTES];
    proto_body_hash(envelope, hash);
    /* A restarted coordinator opens the same attempt again, with another deadline. */
    if (step == 1 && (envelope->round_start->attempt != control->attempt ||
                      memcmp(hash, control->round_start_hash, PROTO_HASH_BYTES) != 0))
        return false;

    const char *name = proto_body_name(envelope->body_case);
    if (step < control->received) {
        fl_debug("round %llu: ignored a copy of %s, which this site processed before",
                 (unsigned long long)control->round, name);
        return true;
    }
    if (memcmp(hash, control->received_hash, PROTO_HASH_BYTES) != 0) {
        fl_warn("round %llu: ignored a %s that differs from the one this site processed",
                (unsigned long long)control->round, name);
        return true;
    }
    if (control->replied == step && control->reply_count > 0)
        resend_replies(control, link, name);
    else
        fl_debug("round %llu: ignored a copy of %s; this site's reply is not ready yet",
                 (unsigned long long)control->round, name);
    return true;
}

void agent_control_received(agent_control *control, proto_link *link,
                            const Fedlora__Envelope *envelope)
{
    uint32_t step = proto_control_step(envelope->body_case);
    if (step == 0 || step != control->received + 1 || envelope->round != control->round)
        return;
    control->received = step;
    proto_body_hash(envelope, control->received_hash);
    report(control, link);
}

void agent_control_failed(agent_control *control, proto_link *link,
                          const Fedlora__Envelope *abort)
{
    if (control->round == 0)
        return;
    drop_replies(control);
    control->replied = control->received;
    agent_control_replied(control, link, abort);
}

void agent_control_replied(agent_control *control, proto_link *link,
                           const Fedlora__Envelope *envelope)
{
    if (control == NULL || control->round == 0)
        return;
    if (control->replied != control->received) {
        drop_replies(control);
        control->replied = control->received;
    }
    if (control->reply_count == AGENT_CONTROL_MAX_REPLIES) {
        fl_warn("round %llu: more than %d replies to one control message; %s is not kept for "
                "resending", (unsigned long long)control->round, AGENT_CONTROL_MAX_REPLIES,
                proto_body_name(envelope->body_case));
        return;
    }
    size_t size = fedlora__envelope__get_packed_size(envelope);
    uint8_t *bytes = fl_xmalloc(size > 0 ? size : 1);
    fedlora__envelope__pack(envelope, bytes);
    control->replies[control->reply_count] = bytes;
    control->reply_sizes[control->reply_count] = size;
    control->reply_count++;
    report(control, link);
}
