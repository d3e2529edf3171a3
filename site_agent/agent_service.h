/*
 * agent_service.h - the site agent's event loop.
 *
 * One thread keeps the CURVE connection to the coordinator (heartbeats and
 * reconnection are the link's), applies the site's policy to every job and
 * round, runs rounds with training in a sandboxed child process, and writes
 * every message it sends, and every policy decision, to the audit log.
 */
#ifndef AGENT_SERVICE_H
#define AGENT_SERVICE_H

#include <signal.h>

#include "agent_setup.h"
#include "fl_error.h"

typedef struct agent_service agent_service;

/*
 * Hashes the base model, opens the audit log and connects to the
 * coordinator. setup must outlive the service. Caller owns *out.
 */
int agent_service_new(agent_service **out, agent_setup *setup, fl_error *err) FL_WARN_UNUSED;

void agent_service_destroy(agent_service **service);

/* Runs until *stop becomes non-zero. Returns 0 or a negative status. */
int agent_service_run(agent_service *service, volatile sig_atomic_t *stop) FL_WARN_UNUSED;

#endif
