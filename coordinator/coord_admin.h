/*
 * coord_admin.h - the coordinator's admin socket for researchers.
 *
 * A ROUTER socket bound at the configuration's admin_bind, CURVE server
 * with the coordinator's keys. It runs in its own ZeroMQ context with its
 * own ZAP handler, whose allow-list contains only the manifest's researcher
 * keys. A site key (or any other key) is rejected at the handshake, and the
 * ZAP handler logs the rejection with the key's fingerprint. Requests and
 * responses are the messages of admin.proto.
 *
 * The socket never blocks the service: coord_admin_poll() handles the
 * requests that are waiting and returns. Not thread-safe; use it from the
 * service's thread.
 */
#ifndef COORD_ADMIN_H
#define COORD_ADMIN_H

#include "coord_setup.h"
#include "fl_error.h"

typedef struct coord_service coord_service;
typedef struct coord_admin coord_admin;

/*
 * Binds the admin socket and admits the manifest's researchers. service
 * and setup must outlive the admin object. Returns FL_OK and the object in
 * *out (caller owns it), or FL_ENET when the socket cannot be bound.
 */
int coord_admin_new(coord_admin **out, coord_service *service, const coord_setup *setup,
                    fl_error *err) FL_WARN_UNUSED;

/* Closes the socket, stops the ZAP handler and frees the object; clears the pointer. NULL-safe. */
void coord_admin_destroy(coord_admin **admin);

/* Handles the requests waiting on the socket, at most a few per call, without blocking. */
void coord_admin_poll(coord_admin *admin);

/* Returns the endpoint the admin socket bound, with the port filled in. */
const char *coord_admin_endpoint(const coord_admin *admin);

#endif
