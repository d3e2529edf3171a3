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

#include <signal.h>

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

#endif
