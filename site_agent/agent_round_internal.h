/*
 * agent_round_internal.h - the state of a site's round, shared by agent_round*.c.
 */
#ifndef AGENT_ROUND_INTERNAL_H
#define AGENT_ROUND_INTERNAL_H

#include "agent_round.h"
#include "agent_worker.h"
#include "fc_secagg_client.h"

struct agent_round {
    agent_round_context context;
    uint64_t number;
    uint32_t attempt;
    agent_round_phase phase;
    char failure[512];
    char work_dir[4096];

    char **sites;                    /* selected sites, in roster order */
    size_t site_count;
    uint16_t index;                  /* this site's roster position */
    fc_public_identity *roster;
    uint32_t threshold, chunk_elements;

    char adapter_id[PROTO_MAX_ID + 1];
    uint8_t adapter_hash[32];
    uint8_t signature[64];
    uint64_t adapter_size;
    proto_chunk_receiver *download;
    int adapter_fd;
    char adapter_path[4096];

    agent_worker *worker;
    agent_worker_status worker_status;
    agent_worker_result result;
    double download_s;

    fc_secagg_client *client;
    int spool_fd;
    char spool_path[4096];
    proto_chunk_sender *upload_sender;
    proto_outgoing upload;
    bool upload_started;
    double upload_at;             /* monotonic time the upload may start (test-only hold) */
};

/* Fails the round with a reason (logged). */
void agent_round_fail(agent_round *round, const char *fmt, ...) FL_PRINTF(2, 3);

/*
 * Sends envelope, the site's reply to a control message, to the coordinator
 * and keeps a copy for resending. Fails the round when the message is invalid
 * or the socket failed. A full send queue is logged only, because the
 * coordinator repeats its request until the reply arrives.
 */
void agent_round_send(agent_round *round, Fedlora__Envelope *envelope);

/* Training finished: sends Metrics, creates the secure-aggregation client, advertises keys. */
void agent_round_begin_secagg(agent_round *round);

/* Drops the secure-aggregation client, the masked upload and its spool file. */
void agent_round_reset_secagg(agent_round *round);

/* Secure-aggregation messages from the coordinator. */
void agent_round_on_key_list(agent_round *round, const Fedlora__AdvertiseKeys *keys);
void agent_round_on_relay(agent_round *round, const Fedlora__ShareKeys *shares);
void agent_round_on_unmask(agent_round *round, const Fedlora__UnmaskRequest *request);

/* Starts the masked upload once its test-only hold has passed; fails the round on error. */
void agent_round_poll_upload_start(agent_round *round);

#endif
