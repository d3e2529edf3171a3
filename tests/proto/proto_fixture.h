/*
 * proto_fixture.h - valid example messages of every body type, for the proto
 * tests. A fixture owns all storage; mutate its fields to make bad messages.
 */
#ifndef PROTO_FIXTURE_H
#define PROTO_FIXTURE_H

#include "proto_codec.h"

typedef struct proto_fixture {
    Fedlora__Envelope envelope;
    Fedlora__Hello hello;
    Fedlora__Heartbeat heartbeat;
    Fedlora__RoundProgress progress;
    Fedlora__JobDescription job;
    Fedlora__LoraSettings lora;
    char *modules[2];
    Fedlora__ServerOptimizer optimizer;
    Fedlora__SecAggParams secagg;
    Fedlora__RoundStart round_start;
    char *sites[3];
    Fedlora__ObjectRef adapter;
    Fedlora__ObjectChunk chunk;
    Fedlora__TransferQuery query;
    Fedlora__TransferStatus status;
    Fedlora__AdvertiseKeys advertise;
    Fedlora__SiteBlob site_keys[2];
    Fedlora__SiteBlob *site_key_list[2];
    Fedlora__ShareKeys share;
    Fedlora__RoutedBlob shares[2];
    Fedlora__RoutedBlob *share_list[2];
    Fedlora__UnmaskRequest unmask_request;
    char *survivors[2];
    char *dropped[1];
    Fedlora__UnmaskShares unmask_shares;
    Fedlora__Metrics metrics;
    Fedlora__Refusal refusal;
    Fedlora__Abort abort_body;
    Fedlora__Error error_body;
    Fedlora__JobAccept job_accept;
    uint8_t hash[32];
    uint8_t signature[64];
    uint8_t data[100];
    uint8_t blob[48];
} proto_fixture;

/* Fills f with a valid envelope whose body is body_case. */
void proto_fixture_init(proto_fixture *f, Fedlora__Envelope__BodyCase body_case);

/* Every body case, for loops over all message types. */
extern const Fedlora__Envelope__BodyCase proto_fixture_cases[];
extern const size_t proto_fixture_case_count;

#endif
