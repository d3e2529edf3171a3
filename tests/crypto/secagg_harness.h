/*
 * secagg_harness.h - runs a whole secure-aggregation round in one process
 * for the tests: real identities, real clients and server, and every
 * message encoded to bytes and decoded again on its way.
 */
#ifndef SECAGG_HARNESS_H
#define SECAGG_HARNESS_H

#include <stdint.h>

#include "fc_keys.h"
#include "fc_msg.h"
#include "fc_secagg_client.h"
#include "fc_secagg_params.h"
#include "fc_secagg_server.h"

/* Where a site stops taking part in the round. */
typedef enum drop_point {
    KEEP = 0,               /* takes part until the end */
    DROP_BEFORE_ADVERTISE,  /* never advertises keys */
    DROP_BEFORE_SHARES,     /* advertises, never sends ShareKeys */
    DROP_AFTER_SHARES,      /* sends ShareKeys, never sends input */
    DROP_AFTER_INPUT,       /* sends its whole input, never sends UnmaskResponse */
} drop_point;

typedef struct harness {
    fc_secagg_params params;
    fc_identity **identities;
    fc_public_identity *roster;
    fc_secagg_client **clients;
    fc_secagg_server *server;
    float **values;       /* [site][dim] inputs */
    uint32_t *weights;
    uint8_t (*seeds)[32]; /* rounding seeds */
    drop_point *drops;
    int capture_site;     /* site whose masked words are copied into captured, or -1 */
    uint32_t *captured;   /* dim + 1 words when capture_site >= 0 */
    fc_msg_unmask_request *request;
} harness;

/* Creates identities, clients, server and random inputs in [-1.25 B, 1.25 B]. */
void harness_init(harness *h, const fc_secagg_params *params, unsigned random_seed);

/*
 * Runs AdvertiseKeys and ShareKeys, relays the shares and sets each
 * uploading site's input, so chunks can be pulled next. Returns the first
 * status a server phase returned.
 */
int harness_prepare_inputs(harness *h, fl_error *err);

/* Runs the round; returns the first status a server phase returned. Clients must not fail. */
int harness_run(harness *h, fl_error *err);

/* Writes the plain sum, modulo R, of the quantised inputs of the counted sites. */
void harness_expected_sum(const harness *h, uint32_t *expected);

/* Returns the weighted mean of the clipped float inputs of counted sites at element i. */
double harness_expected_mean(const harness *h, uint64_t i);

/* Returns true when site's input should count given its drop point. */
int harness_counts(const harness *h, uint16_t site);

void harness_release(harness *h);

#endif
