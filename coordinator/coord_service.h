/*
 * coord_service.h - the coordinator's event loop: sites, jobs and rounds.
 *
 * One thread serves every site over one ROUTER link. The service runs one
 * job at a time, the first queued or running job in the store. Each round
 * ends with a checkpoint written before the round counts as completed, so
 * after a crash the service resumes from the last completed round.
 */
#ifndef COORD_SERVICE_H
#define COORD_SERVICE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_setup.h"
#include "coord_store.h"
#include "fl_error.h"

typedef struct coord_service coord_service;

/*
 * Opens the store, binds the site socket and restores the job in progress
 * before the first message is handled, so a site never talks to a
 * coordinator that has not restored its state. setup must outlive the
 * service. Caller owns *out.
 */
int coord_service_new(coord_service **out, coord_setup *setup, fl_error *err) FL_WARN_UNUSED;

void coord_service_destroy(coord_service **service);

/* Runs until *stop becomes non-zero (set by a signal handler). Returns 0 or a negative status. */
int coord_service_run(coord_service *service, volatile sig_atomic_t *stop) FL_WARN_UNUSED;

/* Returns the endpoint the site socket bound, with the port filled in. */
const char *coord_service_endpoint(const coord_service *service);

/*
 * Operations of the researchers' admin socket (coord_admin.c). They run on
 * the service's thread, from coord_service_run(), like everything else.
 */

/* Returns the job store; it stays owned by the service. */
coord_store *coord_service_store(coord_service *service);

/*
 * Returns the status shown by `fedlora status`: every site (online, last
 * seen, refusal of the active job), the active job with its round, phase,
 * progress and per-site metrics of the rounds so far, the job that ended last
 * since the coordinator started (id, status, reason, rounds), and the queued
 * jobs. Caller owns the result.
 */
json_t *coord_service_status_json(coord_service *service);

/*
 * Adds job to the store; the service starts it once no other job runs.
 * *created is false when a job with this id and the same settings exists.
 * Returns the codes of coord_store_submit().
 */
int coord_service_submit(coord_service *service, const coord_job_spec *job, bool *created,
                         fl_error *err) FL_WARN_UNUSED;

/*
 * Aborts job_id for good with reason: stops its round, records it as
 * ABORTED in the store (so it stays aborted after a restart) and tells the
 * sites. *previous receives its status before. Returns FL_ENOTFOUND for an
 * unknown id and FL_ESTATE for a job that already ended.
 */
int coord_service_abort(coord_service *service, const char *job_id, const char *reason,
                        coord_job_status *previous, fl_error *err) FL_WARN_UNUSED;

/*
 * Starts the active job's next round now with the sites that are ready,
 * without waiting gather_time for more. Returns FL_ESTATE when no job is
 * active, a round runs already or fewer than the job's min_sites are ready.
 * On success job_id (COORD_JOB_ID_MAX + 1 bytes), *round and *site_count
 * describe the round started.
 */
int coord_service_start_round_now(coord_service *service, char *job_id, uint64_t *round,
                                  size_t *site_count, fl_error *err) FL_WARN_UNUSED;

#endif
