/*
 * agent_round.h - one federated round, as a site takes part in it.
 *
 * Steps: receive the global adapter and check its hash and the
 * coordinator's signature; train in the sandboxed trainer process; send
 * Metrics; run the site side of secure aggregation (AdvertiseKeys,
 * ShareKeys, the masked upload, the unmasking shares). The masked vector is
 * written to a spool file first, so an upload cut by a lost connection
 * resumes from where the coordinator's copy ends.
 */
#ifndef AGENT_ROUND_H
#define AGENT_ROUND_H

#include <stdbool.h>
#include <stdint.h>

#include "agent_control.h"
#include "agent_job.h"
#include "agent_setup.h"
#include "fl_error.h"
#include "proto_transfer.h"

typedef enum agent_round_phase {
    AGENT_ROUND_DOWNLOAD = 0,
    AGENT_ROUND_TRAIN,
    AGENT_ROUND_KEYS,      /* advertised; waiting for the KeyList */
    AGENT_ROUND_SHARES,    /* shares sent; waiting for the relay */
    AGENT_ROUND_UPLOAD,
    AGENT_ROUND_UNMASK,    /* uploaded; waiting for the UnmaskRequest */
    AGENT_ROUND_DONE,
    AGENT_ROUND_FAILED
} agent_round_phase;

extern const char *const agent_round_phase_names[];

/* What a round borrows from the agent; everything must outlive the round. */
typedef struct agent_round_context {
    proto_link *link;
    const agent_setup *setup;
    const agent_job *job;
    const char *work_root;        /* a folder per round is made under it */
    uint64_t instance;            /* unique per round started by this agent process, so a
                                     replaced round still stopping has its own folder */
    size_t chunk_size;            /* bytes per chunk on the wire */
    proto_transfer_options transfer;
    agent_control *control;       /* keeps the round's control replies for resending */
} agent_round_context;

typedef struct agent_round agent_round;

/*
 * Starts a round from its RoundStart message. Fails (and the caller refuses
 * the round) when this site is not selected or a selected site is unknown.
 */
int agent_round_start(agent_round **out, const agent_round_context *context, uint64_t number,
                      const Fedlora__RoundStart *start, fl_error *err) FL_WARN_UNUSED;

/*
 * Continues round with a repeated RoundStart, as a restarted coordinator
 * sends for the round it had not completed. When start names the round's
 * attempt, adapter object, adapter hash and signature, the round keeps its
 * download (which resumes where it stopped) and its local training, running
 * or finished. Secure aggregation starts over with the roster of start, so a
 * round that has trained already sends Metrics and AdvertiseKeys again.
 * Returns FL_OK when the round goes on. Returns FL_ESTATE when start is
 * another round or round has failed, and another status when the new roster
 * is unusable. In both cases the caller destroys round and starts afresh.
 */
int agent_round_resume(agent_round *round, const Fedlora__RoundStart *start,
                       fl_error *err) FL_WARN_UNUSED;

/*
 * Stops the trainer process if it runs (SIGTERM, SIGKILL after 2 s) and
 * waits for it, deletes the round's work folder and frees the round.
 * Use agent_round_reap first to stop the process without blocking.
 */
void agent_round_destroy(agent_round **round);

/*
 * Reaps the round's trainer process without blocking once the round has
 * failed or was aborted, sending SIGKILL when it still runs stop_timeout
 * seconds after SIGTERM. Returns true when no trainer process of the round
 * remains, so agent_round_destroy will not block. Uses neither the context's
 * job nor its link, so the job may be released before the round.
 */
bool agent_round_reap(agent_round *round, double stop_timeout);

/*
 * Deletes the round work folders under work_root that an earlier agent
 * process left behind, for example after a crash. Call it at start, before
 * any round exists.
 */
void agent_round_remove_leftovers(const char *work_root);

/* Handles message when it belongs to the round; sets *handled. */
void agent_round_on_message(agent_round *round, const proto_message *message, bool *handled);

/* Checks the trainer process and pumps the upload. */
void agent_round_poll(agent_round *round);

/* Fails the round with reason and sends SIGTERM to its trainer process, without waiting. */
void agent_round_abort(agent_round *round, const char *reason);

agent_round_phase agent_round_phase_of(const agent_round *round);
const char *agent_round_failure(const agent_round *round);
uint64_t agent_round_number(const agent_round *round);

#endif
