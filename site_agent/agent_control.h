/*
 * agent_control.h - a site's record of the round control messages it
 * exchanged with the coordinator in the current round attempt.
 *
 * The record feeds the round progress that every heartbeat reports, so the
 * coordinator can see a control message lost with a cut connection and
 * resend it. When the coordinator repeats the latest control message, the
 * site took it once already, so it ignores the copy and resends its own
 * reply, which is then the part that was lost. The record outlives the
 * round object, because the coordinator may still repeat its UnmaskRequest
 * after the site's part of the round is done.
 *
 * Not thread-safe: the agent's event loop owns it.
 */
#ifndef AGENT_CONTROL_H
#define AGENT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_transport.h"

/* Messages a site sends in reply to one control message: Metrics and AdvertiseKeys. */
#define AGENT_CONTROL_MAX_REPLIES 2

typedef struct agent_control {
    uint64_t round;                  /* 0 when no round attempt is recorded */
    uint32_t attempt;
    uint32_t received;               /* latest control step processed (proto_control_step()) */
    uint32_t replied;                /* latest control step replied to */
    uint8_t round_start_hash[PROTO_HASH_BYTES]; /* proto_body_hash() of the RoundStart */
    uint8_t received_hash[PROTO_HASH_BYTES]; /* proto_body_hash() of the latest one processed */
    uint8_t *replies[AGENT_CONTROL_MAX_REPLIES]; /* packed replies to step `replied` */
    size_t reply_sizes[AGENT_CONTROL_MAX_REPLIES];
    size_t reply_count;
} agent_control;

/* Frees the kept replies and clears the round attempt, so link reports no progress. */
void agent_control_release(agent_control *control, proto_link *link);

/* Starts recording the attempt that the RoundStart envelope opens. */
void agent_control_start(agent_control *control, proto_link *link,
                         const Fedlora__Envelope *round_start);

/*
 * Returns true when envelope is a control message of the recorded attempt
 * that the site already processed. The caller must then not process it
 * again. A copy of the latest one makes the site resend its reply, when it
 * has one, because the coordinator repeats a message whose reply it lacks.
 * A RoundStart that differs from the processed one is not a copy: it opens a
 * new round, for example after the coordinator restarted.
 */
bool agent_control_is_duplicate(agent_control *control, proto_link *link,
                                const Fedlora__Envelope *envelope);

/*
 * Records that the round took envelope, the control message that follows the
 * latest one processed. Does nothing for any other message.
 */
void agent_control_received(agent_control *control, proto_link *link,
                            const Fedlora__Envelope *envelope);

/*
 * Keeps a copy of envelope, sent by the site in reply to the latest control
 * message processed, for resending.
 */
void agent_control_replied(agent_control *control, proto_link *link,
                           const Fedlora__Envelope *envelope);

/*
 * Keeps a copy of abort, the Abort the site sent when its part of the round
 * failed, as the only reply to the latest control message processed, so a
 * lost Abort is resent like any other reply.
 */
void agent_control_failed(agent_control *control, proto_link *link,
                          const Fedlora__Envelope *abort);

#endif
