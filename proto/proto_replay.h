/*
 * proto_replay.h - rejection of replayed, reordered and stale messages.
 *
 * A proto_replay tracks, per sender, the session announced by its latest
 * Hello and the highest sequence number accepted in that session, plus the
 * job and round in progress. proto_replay_accept() admits an envelope only
 * when it belongs to the current session, carries a higher sequence number
 * than any accepted before, names the current job and is not from an
 * earlier round. Hello and Heartbeat are checked for session and sequence
 * only, because a site that is a round behind must still count as alive,
 * and so is JobDescription, because it announces the next job.
 *
 * CURVE already stops a network attacker from replaying bytes into a
 * connection. This check catches messages re-sent by a restarted or
 * confused peer and ones held back from an earlier round.
 *
 * Not thread-safe: use one per receiving thread.
 */
#ifndef PROTO_REPLAY_H
#define PROTO_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "fedlora.pb-c.h"
#include "fl_error.h"

typedef struct proto_replay proto_replay;

/* Creates a validator with no job set and no known senders. Never NULL. */
proto_replay *proto_replay_new(void);

/* Frees r and clears the pointer. NULL-safe. */
void proto_replay_destroy(proto_replay **r);

/*
 * Sets the job in progress and its current round. From then on messages
 * that name another job, or a round below round, are rejected. Setting a new
 * job forgets no sessions. Returns FL_OK, or FL_EINVAL for an empty job_id.
 */
int proto_replay_set_job(proto_replay *r, const char *job_id, uint64_t round,
                         fl_error *err) FL_WARN_UNUSED;

/*
 * Moves the current round forward. Returns FL_ESTATE when round is below
 * the current round, because rounds never go back within a job.
 */
int proto_replay_set_round(proto_replay *r, uint64_t round, fl_error *err) FL_WARN_UNUSED;

/* Returns the current round, 0 before proto_replay_set_job(). */
uint64_t proto_replay_round(const proto_replay *r);

/* Returns true when session is the current session of sender. */
bool proto_replay_session_known(proto_replay *r, const char *sender, uint64_t session);

/*
 * Checks envelope (already validated by proto_decode_envelope) and, when it
 * passes, records its session and sequence number. Returns FL_OK, or
 * FL_EPROTO with err saying why: no Hello from the sender yet, a session
 * that is not the sender's current one, a sequence number not above the
 * last accepted one, another job, or an earlier round. FL_ERANGE when more
 * than PROTO_MAX_SITES + 1 senders are tracked.
 */
int proto_replay_accept(proto_replay *r, const Fedlora__Envelope *envelope,
                        fl_error *err) FL_WARN_UNUSED;

#endif
