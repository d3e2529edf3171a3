#include "coord_round_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fc_msg.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "proto_codec.h"

const char *const coord_phase_names[] = {"send",   "train", "share", "upload",
                                         "unmask", "done",  "failed"};

/* Masked uploads are spooled as records of this many 32-bit words. */
#define ROUND_CHUNK_ELEMENTS 65536u

void round_site_out(coord_round *round, round_site *site, const char *fmt, ...)
{
    if (site->out)
        return;
    site->out = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(site->out_reason, sizeof(site->out_reason), fmt, ap);
    va_end(ap);
    fl_warn("round %llu: site %s no longer takes part: %s", (unsigned long long)round->number,
            site->name, site->out_reason);
}

void round_fail(coord_round *round, const char *fmt, ...)
{
    if (round->phase == COORD_PHASE_FAILED || round->phase == COORD_PHASE_DONE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(round->failure, sizeof(round->failure), fmt, ap);
    va_end(ap);
    fl_error("round %llu failed in phase %s: %s", (unsigned long long)round->number,
             coord_phase_names[round->phase], round->failure);
    round->phase = COORD_PHASE_FAILED;
    fc_secagg_server_destroy(&round->server);
}

round_site *round_find(coord_round *round, const char *name)
{
    for (size_t i = 0; i < round->site_count; i++) {
        if (strcmp(round->sites[i].name, name) == 0)
            return &round->sites[i];
    }
    return NULL;
}

static int adapter_reader(void *context, uint64_t offset, uint8_t *buffer, size_t length,
                          fl_error *err)
{
    const coord_adapter *adapter = context;
    size_t size = 0;
    const uint8_t *bytes = coord_adapter_bytes(adapter, &size);
    if (offset + length > size)
        return fl_error_set(err, FL_ERANGE, "adapter read beyond its %zu bytes", size);
    memcpy(buffer, bytes + offset, length);
    return FL_OK;
}

static int make_params(coord_round *round, size_t site_count, fl_error *err)
{
    const coord_job_spec *job = round->context.job;
    uint32_t threshold = (uint32_t)job->secagg_threshold;
    if (threshold == 0)
        threshold = (uint32_t)site_count / 2 + 1;
    if (threshold > site_count)
        return fl_error_set(err, FL_EINVAL,
                            "job threshold %u is above the %zu sites selected for round %llu",
                            threshold, site_count, (unsigned long long)round->number);

    fc_secagg_params *p = &round->params;
    memset(p, 0, sizeof(*p));
    p->round = round->number * 256u + round->attempt;
    p->n_sites = (uint32_t)site_count;
    p->threshold = threshold;
    p->expected_survivors = threshold;
    p->dim = round->context.adapter->trained_count;
    p->chunk_elements = ROUND_CHUNK_ELEMENTS;
    p->bits = (uint32_t)job->quant_bits;
    p->clip_bound = job->clip_bound;
    p->weight_max = (uint32_t)job->max_weight;
    fc_quant q;
    return fc_secagg_params_validate(p, &q, err);
}

static int add_site(coord_round *round, const char *name, size_t index, fc_public_identity *key,
                    fl_error *err)
{
    const fc_party *party = fc_manifest_find(round->context.manifest, FC_ROLE_SITE, name);
    if (party == NULL)
        return fl_error_set(err, FL_ENOTFOUND, "site %s is not in the project manifest", name);
    *key = party->keys;

    round_site *site = &round->sites[index];
    snprintf(site->name, sizeof(site->name), "%s", name);
    site->index = (uint16_t)index;
    site->spool_fd = -1;
    return FL_OK;
}

static void send_round_start(coord_round *round, round_site *site, char **names,
                             const uint8_t hash[COORD_ADAPTER_HASH_BYTES], const char *object_id)
{
    size_t size = 0;
    coord_adapter_bytes(round->context.adapter, &size);

    Fedlora__ObjectRef ref = FEDLORA__OBJECT_REF__INIT;
    ref.object_id = (char *)object_id;
    ref.total_size = size;
    ref.hash.data = (uint8_t *)hash;
    ref.hash.len = COORD_ADAPTER_HASH_BYTES;

    Fedlora__RoundStart start = FEDLORA__ROUND_START__INIT;
    start.n_selected_sites = round->site_count;
    start.selected_sites = names;
    start.global_adapter = &ref;
    start.adapter_signature.data = (uint8_t *)round->context.adapter_signature;
    start.adapter_signature.len = FC_SIGNATURE_BYTES;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    start.deadline_unix_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u +
                             (uint64_t)(round->context.job->round_deadline_s * 1000.0);
    start.secagg_threshold = round->params.threshold;
    start.attempt = round->attempt;
    start.chunk_elements = round->params.chunk_elements;

    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_ROUND_START;
    envelope.round_start = &start;
    round_send(round, site, &envelope);
}

static void start_transfers(coord_round *round, char **names)
{
    uint8_t hash[COORD_ADAPTER_HASH_BYTES];
    coord_adapter_hash(round->context.adapter, hash);
    char object_id[96];
    snprintf(object_id, sizeof(object_id), "adapter-r%llu-a%u",
             (unsigned long long)round->number, round->attempt);
    size_t size = 0;
    coord_adapter_bytes(round->context.adapter, &size);

    for (size_t i = 0; i < round->site_count; i++) {
        round_site *site = &round->sites[i];
        send_round_start(round, site, names, hash, object_id);
        if (site->out)
            continue;
        fl_error err = {0};
        int rc = proto_chunk_sender_new(object_id, size, round->context.chunk_size, 8,
                                        adapter_reader, (void *)round->context.adapter,
                                        &site->adapter_sender, &err);
        if (rc == FL_OK)
            rc = proto_outgoing_start(&site->adapter_transfer, round->context.link, site->name,
                                      site->adapter_sender, false, &err);
        /* A site that is not connected at the moment replies to one of the later requests. */
        if (rc == FL_ENOTFOUND || rc == FL_ETIMEOUT) {
            fl_info("round %llu: adapter transfer to %s waits for the site to reconnect: %s",
                    (unsigned long long)round->number, site->name, err.msg);
            rc = FL_OK;
        }
        if (rc != FL_OK)
            round_site_out(round, site, "adapter transfer failed to start: %s", err.msg);
        site->adapter_started = rc == FL_OK;
    }
}

int coord_round_start(coord_round **out, const coord_round_context *context, uint64_t number,
                      uint32_t attempt, char *const *sites, size_t site_count, fl_error *err)
{
    *out = NULL;
    coord_round *round = fl_xcalloc(1, sizeof(*round));
    round->context = *context;
    round->number = number;
    round->attempt = attempt;
    round->started = fl_time_monotonic();
    round->phase_started = round->started;
    round->deadline = round->started + context->job->round_deadline_s;
    round->site_count = site_count;
    round->sites = fl_xcalloc(site_count, sizeof(round_site));

    fc_public_identity *roster = fl_xcalloc(site_count, sizeof(fc_public_identity));
    int rc = make_params(round, site_count, err);
    for (size_t i = 0; rc == FL_OK && i < site_count; i++)
        rc = add_site(round, sites[i], i, &roster[i], err);
    if (rc == FL_OK)
        rc = fc_secagg_server_new(&round->server, &round->params, roster, err);
    free(roster);
    if (rc != FL_OK) {
        coord_round_destroy(&round);
        return rc;
    }

    fl_info("round %llu (attempt %u) starts with %zu sites, threshold %u, %llu values",
            (unsigned long long)number, attempt, site_count, round->params.threshold,
            (unsigned long long)round->params.dim);
    start_transfers(round, (char **)sites);
    *out = round;
    return FL_OK;
}

void coord_round_destroy(coord_round **round)
{
    if (round == NULL || *round == NULL)
        return;
    coord_round *r = *round;
    for (size_t i = 0; i < r->site_count; i++) {
        round_site *site = &r->sites[i];
        proto_chunk_sender_destroy(&site->adapter_sender);
        proto_chunk_receiver_destroy(&site->upload);
        free(site->control);
        if (site->spool_fd >= 0)
            close(site->spool_fd);
        if (site->spool_path[0] != '\0')
            unlink(site->spool_path);
    }
    fc_secagg_server_destroy(&r->server);
    free(r->sites);
    free(r->mean);
    free(r);
    *round = NULL;
}

coord_phase coord_round_phase(const coord_round *round)
{
    return round->phase;
}

const char *coord_round_failure(const coord_round *round)
{
    return round->failure;
}

const float *coord_round_mean(const coord_round *round)
{
    return round->phase == COORD_PHASE_DONE ? round->mean : NULL;
}

void coord_round_abort(coord_round *round, const char *reason)
{
    round_fail(round, "%s", reason);
}

void coord_round_drop_site(coord_round *round, const char *site, const char *reason)
{
    round_site *entry = round_find(round, site);
    if (entry != NULL && round->phase < COORD_PHASE_DONE)
        round_site_out(round, entry, "%s", reason);
}
