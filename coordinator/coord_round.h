/*
 * coord_round.h - one federated round, as the coordinator drives it.
 *
 * Phases:
 *   SEND    RoundStart and the signed global adapter go to every selected site
 *   TRAIN   sites train and evaluate, then send Metrics and AdvertiseKeys
 *   SHARE   the KeyList goes out; sites send their encrypted shares
 *   UPLOAD  shares are relayed; sites upload their masked vectors, which are
 *           spooled to disk, one file per site
 *   UNMASK  complete uploads are summed in place; surviving sites reveal the
 *           shares that remove the masks
 * A phase closes once every site still taking part has answered, or has
 * been declared dead by the transport. A site whose upload is incomplete when
 * UPLOAD closes counts as dropped, and secure aggregation removes its masks.
 * The round fails when fewer than the threshold remain or its deadline
 * passes; no partial sum is ever released.
 */
#ifndef COORD_ROUND_H
#define COORD_ROUND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_adapter.h"
#include "coord_job.h"
#include "fc_manifest.h"
#include "fl_error.h"
#include "proto_transfer.h"

typedef enum coord_phase {
    COORD_PHASE_SEND = 0,
    COORD_PHASE_TRAIN,
    COORD_PHASE_SHARE,
    COORD_PHASE_UPLOAD,
    COORD_PHASE_UNMASK,
    COORD_PHASE_DONE,
    COORD_PHASE_FAILED
} coord_phase;

/* Phase names as status and logs show them ("send", "train", ...). */
extern const char *const coord_phase_names[];

/* What a round borrows from the service; everything must outlive the round. */
typedef struct coord_round_context {
    proto_link *link;
    const fc_manifest *manifest;
    const coord_job_spec *job;
    const coord_adapter *adapter;
    const uint8_t *adapter_signature; /* FC_SIGNATURE_BYTES, over the adapter and round */
    const char *spool_dir;            /* masked uploads are written here */
    size_t chunk_size;                /* bytes per chunk on the wire */
    proto_transfer_options transfer;
    /*
     * Seconds from sending a control message until a heartbeat that still
     * shows it missing makes the coordinator resend it. It spans a few
     * heartbeat intervals, so a heartbeat sent before the message arrived is
     * not taken for a loss.
     */
    double resend_after_s;
} coord_round_context;

typedef struct coord_round coord_round;

/*
 * Starts round number (attempt counts retries from 0) with the selected
 * sites: sends RoundStart and begins the adapter transfers. Caller owns
 * *out; free it with coord_round_destroy.
 */
int coord_round_start(coord_round **out, const coord_round_context *context, uint64_t number,
                      uint32_t attempt, char *const *sites, size_t site_count,
                      fl_error *err) FL_WARN_UNUSED;

void coord_round_destroy(coord_round **round);

/*
 * Handles message when it belongs to the round; sets *handled. Errors in
 * one site's message are logged and exclude that site; they do not stop
 * the round.
 */
void coord_round_on_message(coord_round *round, const proto_message *message, bool *handled);

/* Pumps transfers, closes phases that are complete and checks the deadline. */
void coord_round_poll(coord_round *round);

/* Aborts the round with reason (for example on the researcher's request). */
void coord_round_abort(coord_round *round, const char *reason);

/*
 * Takes site out of the round with reason, as when it misses heartbeats. Has
 * no effect when site is not in the round, already out, or the round ended.
 */
void coord_round_drop_site(coord_round *round, const char *site, const char *reason);

coord_phase coord_round_phase(const coord_round *round);

/* Returns why the round failed; empty unless the phase is COORD_PHASE_FAILED. */
const char *coord_round_failure(const coord_round *round);

/* Returns the weighted mean delta (adapter->trained_count floats) once DONE, else NULL. */
const float *coord_round_mean(const coord_round *round);

/*
 * Returns the round's record for the job history: outcome, duration and per
 * site metrics and participation. Caller owns the result.
 */
json_t *coord_round_record(const coord_round *round);

/*
 * Deletes the masked uploads (masked-*.bin) left in spool_dir by a coordinator
 * that stopped during a round; call it before any round starts. Returns the
 * number of files deleted; a file that cannot be deleted is logged.
 */
size_t coord_round_clear_spool(const char *spool_dir);

/* Returns "sites done/expected" progress of the current phase, for status. */
void coord_round_progress(const coord_round *round, size_t *done, size_t *expected);

#endif
