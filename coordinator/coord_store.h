/*
 * coord_store.h - the coordinator's durable state, one folder per job:
 *
 *   STATE_DIR/jobs/ID/job.json        the job as submitted (never rewritten)
 *   STATE_DIR/jobs/ID/state.json      status and the number of completed rounds
 *   STATE_DIR/jobs/ID/history.json    per-round metrics, the input of reports
 *   STATE_DIR/jobs/ID/round-N/        checkpoint written by round N
 *
 * Every file is replaced atomically (temporary file, fsync, rename, fsync of
 * the folder). A round counts as completed only once state.json says so, and
 * state.json is written after the round's checkpoint and its history entry,
 * so a crash at any point leaves the last completed round intact, keeps the
 * history entry of every counted round and never applies a round twice.
 */
#ifndef COORD_STORE_H
#define COORD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "coord_job.h"
#include "fl_error.h"

typedef enum coord_job_status {
    COORD_JOB_QUEUED = 0,
    COORD_JOB_RUNNING = 1,
    COORD_JOB_COMPLETED = 2,
    COORD_JOB_ABORTED = 3,
    COORD_JOB_FAILED = 4
} coord_job_status;

extern const char *const coord_job_status_names[];

typedef struct coord_job_state {
    coord_job_status status;
    int completed_rounds;   /* rounds whose checkpoint is durable */
    char reason[256];       /* why the job was aborted or failed; empty otherwise */
} coord_job_state;

typedef struct coord_store coord_store;

/* Opens (creating when missing) STATE_DIR. Fails when it cannot be written. */
int coord_store_open(coord_store **out, const char *state_dir, fl_error *err) FL_WARN_UNUSED;

void coord_store_destroy(coord_store **store);

/*
 * Records a new job in state QUEUED. Submitting an id that exists with the
 * same settings is not an error: *created is false and nothing changes. The
 * same id with other settings fails with FL_EEXIST.
 */
int coord_store_submit(coord_store *store, const coord_job_spec *job, bool *created,
                       fl_error *err) FL_WARN_UNUSED;

/* Loads a job's settings and state. FL_ENOTFOUND when the id is unknown. */
int coord_store_load(coord_store *store, const char *id, coord_job_spec *job,
                     coord_job_state *state, fl_error *err) FL_WARN_UNUSED;

int coord_store_save_state(coord_store *store, const char *id, const coord_job_state *state,
                           fl_error *err) FL_WARN_UNUSED;

/*
 * Returns the job ids, sorted, as a JSON array of strings. Caller owns the
 * result.
 */
json_t *coord_store_list(coord_store *store, fl_error *err);

/*
 * Returns a job's history: history.json ({"job", "rounds"}) with "status",
 * "completed_rounds" and "reason" from state.json. Caller owns the result.
 */
json_t *coord_store_history(coord_store *store, const char *id, fl_error *err);

/* Appends one round attempt's record, or replaces the entry with the same "round" and
 * "attempt". */
int coord_store_record_round(coord_store *store, const char *id, const json_t *round,
                             fl_error *err) FL_WARN_UNUSED;

/*
 * Marks as failed every "completed" history entry of a round after
 * completed_rounds, with a reason saying that the round is redone. The
 * coordinator records a round in history.json before state.json counts it,
 * so a crash between the two writes leaves such an entry. Once it is marked,
 * the redone round is the only completed entry of its round. Rewrites
 * history.json only when an entry changed. *marked (may be NULL) receives the
 * number of entries changed.
 */
int coord_store_mark_uncounted_rounds(coord_store *store, const char *id, int completed_rounds,
                                      int *marked, fl_error *err) FL_WARN_UNUSED;

/*
 * Writes the path of file name inside the checkpoint folder of round, and
 * creates that folder. size is the capacity of path.
 */
int coord_store_checkpoint_path(coord_store *store, const char *id, int round,
                                const char *name, char *path, size_t size,
                                fl_error *err) FL_WARN_UNUSED;

#endif
