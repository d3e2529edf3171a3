/*
 * coord_round_internal.h - the state of a round, shared by coord_round*.c.
 */
#ifndef COORD_ROUND_INTERNAL_H
#define COORD_ROUND_INTERNAL_H

#include "coord_round.h"
#include "fc_secagg_server.h"

typedef struct round_site {
    char name[FC_NAME_MAX + 1];
    uint16_t index;               /* position in the round's roster */
    bool out;                     /* dropped, refused or failed: no longer expected */
    char out_reason[160];

    proto_chunk_sender *adapter_sender;
    proto_outgoing adapter_transfer;
    bool adapter_started;

    bool advertised, shared, unmasked;
    /* BLAKE2b of the accepted AdvertiseKeys, ShareKeys and UnmaskShares bodies,
     * which distinguish a resent copy from a different message. */
    uint8_t advertise_hash[PROTO_HASH_BYTES], shares_hash[PROTO_HASH_BYTES];
    uint8_t unmask_hash[PROTO_HASH_BYTES];

    /* The latest round control message sent to the site, packed, kept for resending. */
    uint8_t *control;
    size_t control_size;
    uint32_t control_step;        /* its number (proto_control_step()); 0 before any */
    double control_sent;          /* monotonic seconds of its latest send or resend */
    uint32_t resent;              /* control messages resent to the site this attempt */

    /* The round progress of the site's latest heartbeat, when it reports one. */
    double progress_at;           /* monotonic seconds it arrived; 0 before any */
    uint32_t progress_received, progress_replied; /* 0 when it names another attempt */
    bool counted;                 /* its input is part of the aggregated sum */

    proto_chunk_receiver *upload;
    int spool_fd;
    char spool_path[4096];

    bool has_metrics;             /* Metrics received */
    double val_loss, train_loss;
    uint64_t examples, train_ms, clipped;
} round_site;

struct coord_round {
    coord_round_context context;
    uint64_t number;
    uint32_t attempt;
    coord_phase phase;
    char failure[512];
    double started, deadline;     /* monotonic seconds */
    double phase_started;         /* monotonic seconds when the current phase began */
    double phase_s[COORD_PHASE_DONE]; /* wall time of each closed phase, in seconds */
    int phases_closed;            /* phase_s[0..phases_closed) are set */
    double sum_s, aggregate_s;    /* server time summing uploads and unmasking, in seconds */

    fc_secagg_params params;
    fc_secagg_server *server;
    round_site *sites;
    size_t site_count;
    float *mean;                  /* the result, once DONE */
    uint32_t counted;             /* sites whose input the sum contains */
};

/* Marks site as no longer taking part, with a reason for logs and history. */
void round_site_out(coord_round *round, round_site *site, const char *fmt, ...) FL_PRINTF(3, 4);

/* Fails the round: logs why and wipes the partial sum. */
void round_fail(coord_round *round, const char *fmt, ...) FL_PRINTF(2, 3);

/* Returns the site called name, or NULL. */
round_site *round_find(coord_round *round, const char *name);

/*
 * Sends a round control message to one site and keeps a copy, which
 * round_resend_lost() resends while the site's heartbeats show it lost. A
 * send that fails because the site is not connected now is logged only: the
 * heartbeat timeout decides whether the site is gone. Any other failure
 * takes the site out.
 */
void round_send(coord_round *round, round_site *site, Fedlora__Envelope *envelope);

/* Records the round progress that a site's heartbeat reports. */
void round_note_progress(coord_round *round, round_site *site, const Fedlora__Envelope *e);

/*
 * Resends its latest control message to each site whose heartbeat, arriving
 * at least resend_after_s after the latest send, shows that the message or
 * the site's reply to it was lost.
 */
void round_resend_lost(coord_round *round);

/* Sends the KeyList to every site that advertised. */
void round_send_key_list(coord_round *round);

/* Relays its shares to every site that shared, and opens the upload receivers. */
void round_send_relays(coord_round *round);

/* Sums complete uploads and sends the UnmaskRequest. */
void round_sum_uploads(coord_round *round);

/* Removes the masks and computes the weighted mean delta. */
void round_finish(coord_round *round);

#endif
