/* The round's outgoing secure-aggregation messages, spooled uploads and result. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord_round_internal.h"
#include "coord_test_hold.h"
#include "fc_msg.h"
#include "fl_file.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"

/* Sends body (crypto encoding) as an AdvertiseKeys or ShareKeys envelope to site. */
static void send_blob(coord_round *round, round_site *site, Fedlora__Envelope__BodyCase kind,
                      uint8_t *body, size_t size)
{
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    Fedlora__SiteBlob blob = FEDLORA__SITE_BLOB__INIT;
    Fedlora__SiteBlob *blobs[1] = {&blob};
    Fedlora__AdvertiseKeys keys = FEDLORA__ADVERTISE_KEYS__INIT;
    Fedlora__RoutedBlob routed = FEDLORA__ROUTED_BLOB__INIT;
    Fedlora__RoutedBlob *routes[1] = {&routed};
    Fedlora__ShareKeys shares = FEDLORA__SHARE_KEYS__INIT;

    if (kind == FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS) {
        blob.site_id = "coordinator";
        blob.body.data = body;
        blob.body.len = size;
        keys.n_keys = 1;
        keys.keys = blobs;
        envelope.advertise_keys = &keys;
    } else {
        routed.from_site = "coordinator";
        routed.to_site = site->name;
        routed.body.data = body;
        routed.body.len = size;
        shares.n_shares = 1;
        shares.shares = routes;
        envelope.share_keys = &shares;
    }
    envelope.body_case = kind;
    round_send(round, site, &envelope);
}

void round_send_key_list(coord_round *round)
{
    fc_msg_key_list *list = fl_xmalloc(sizeof(*list));
    fl_error err = {0};
    uint8_t *body = NULL;
    size_t size = 0;
    int rc = fc_secagg_server_key_list(round->server, list, &err);
    if (rc == FL_OK)
        rc = fc_msg_key_list_encode(list, &body, &size);
    free(list);
    if (rc != FL_OK) {
        round_fail(round, "closing AdvertiseKeys failed: %s", err.msg);
        return;
    }

    for (size_t i = 0; i < round->site_count; i++) {
        if (!round->sites[i].out && round->sites[i].advertised)
            send_blob(round, &round->sites[i], FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS, body,
                      size);
    }
    free(body);
    round->phase = COORD_PHASE_SHARE;
    coord_test_hold("share", round->number);
}

static int open_upload(coord_round *round, round_site *site, fl_error *err)
{
    int rc = fl_path_format(site->spool_path, sizeof(site->spool_path),
                            "%s/masked-%s-r%llu-a%u.bin", round->context.spool_dir, site->name,
                            (unsigned long long)round->number, round->attempt);
    if (rc != FL_OK)
        return fl_error_set(err, rc, "%s: spool path too long", round->context.spool_dir);
    site->spool_fd = open(site->spool_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (site->spool_fd < 0)
        return fl_error_set(err, FL_EIO, "%s: cannot create: %s", site->spool_path,
                            strerror(errno));

    char object_id[128];
    snprintf(object_id, sizeof(object_id), "masked-%s-r%llu-a%u", site->name,
             (unsigned long long)round->number, round->attempt);
    return proto_chunk_receiver_new(object_id, UINT64_MAX, NULL, proto_file_sink,
                                    &site->spool_fd, &site->upload, err);
}

size_t coord_round_clear_spool(const char *spool_dir)
{
    DIR *folder = opendir(spool_dir);
    if (folder == NULL) {
        fl_warn("%s: cannot list the spool folder: %s", spool_dir, strerror(errno));
        return 0;
    }
    size_t removed = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        /* The "masked-" prefix makes every name that passes longer than ".bin". */
        size_t length = strlen(entry->d_name);
        if (strncmp(entry->d_name, "masked-", 7) != 0 ||
            strcmp(entry->d_name + length - 4, ".bin") != 0)
            continue;
        char path[4400];
        if (fl_path_format(path, sizeof(path), "%s/%s", spool_dir, entry->d_name) != FL_OK)
            continue;
        if (unlink(path) == 0)
            removed++;
        else
            fl_warn("%s: cannot delete a masked upload left by an earlier run: %s", path,
                    strerror(errno));
    }
    closedir(folder);
    return removed;
}

void round_send_relays(coord_round *round)
{
    fl_error err = {0};
    if (fc_secagg_server_close_shares(round->server, &err) != FL_OK) {
        round_fail(round, "closing ShareKeys failed: %s", err.msg);
        return;
    }

    fc_msg_shares *relay = fl_xmalloc(sizeof(*relay));
    for (size_t i = 0; i < round->site_count; i++) {
        round_site *site = &round->sites[i];
        if (site->out || !site->shared)
            continue;
        uint8_t *body = NULL;
        size_t size = 0;
        int rc = fc_secagg_server_relay(round->server, site->index, relay, &err);
        if (rc == FL_OK)
            rc = fc_msg_shares_encode(relay, FC_MSG_SHARE_RELAY, &body, &size);
        if (rc == FL_OK)
            rc = open_upload(round, site, &err);
        if (rc == FL_OK)
            send_blob(round, site, FEDLORA__ENVELOPE__BODY_SHARE_KEYS, body, size);
        else
            round_site_out(round, site, "relaying shares failed: %s", err.msg);
        free(body);
    }
    free(relay);
    round->phase = COORD_PHASE_UPLOAD;
}

/* Reads a site's spooled upload (records of a 32-bit length and a MaskedChunk) into the sum. */
static int add_spool(coord_round *round, round_site *site, uint32_t *words, fl_error *err)
{
    FILE *file = fdopen(dup(site->spool_fd), "rb");
    if (file == NULL || fseek(file, 0, SEEK_SET) != 0) {
        if (file != NULL)
            fclose(file);
        return fl_error_set(err, FL_EIO, "%s: cannot read back", site->spool_path);
    }

    size_t capacity = round->params.chunk_elements;
    size_t buffer_size = FC_MSG_CHUNK_HEADER_BYTES + 4 * capacity;
    uint8_t *buffer = fl_xmalloc(buffer_size);
    int rc = FL_OK;
    uint8_t length_bytes[4];
    while (rc == FL_OK && fread(length_bytes, 1, 4, file) == 4) {
        uint32_t length = (uint32_t)length_bytes[0] | (uint32_t)length_bytes[1] << 8 |
                          (uint32_t)length_bytes[2] << 16 | (uint32_t)length_bytes[3] << 24;
        fc_msg_masked_chunk chunk;
        if (length > buffer_size || fread(buffer, 1, length, file) != length)
            rc = fl_error_set(err, FL_EFORMAT, "%s: truncated or oversized record",
                              site->spool_path);
        if (rc == FL_OK)
            rc = fc_msg_masked_chunk_decode(&chunk, words, capacity, buffer, length, err);
        if (rc == FL_OK && chunk.site != site->index)
            rc = fl_error_set(err, FL_EPROTO, "upload names roster position %u, not %u",
                              chunk.site, site->index);
        if (rc == FL_OK)
            rc = fc_secagg_server_add_chunk(round->server, &chunk, err);
        /* Summing many large uploads takes seconds: keep the heartbeats going meanwhile. */
        if (rc == FL_OK && proto_link_tick(round->context.link, NULL, NULL, NULL) == FL_ENET)
            fl_warn("heartbeat while summing uploads failed");
    }
    free(buffer);
    fclose(file);
    return rc;
}

/* Maps roster positions to site names for the UnmaskRequest. */
static char **names_of(coord_round *round, const uint16_t *indices, uint16_t count)
{
    char **names = fl_xcalloc(count ? count : 1, sizeof(char *));
    for (uint16_t i = 0; i < count; i++)
        names[i] = round->sites[indices[i]].name;
    return names;
}

void round_sum_uploads(coord_round *round)
{
    double started = fl_time_monotonic();
    uint32_t *words = fl_xmalloc(4u * round->params.chunk_elements);
    for (size_t i = 0; i < round->site_count; i++) {
        round_site *site = &round->sites[i];
        if (site->out || site->upload == NULL || !proto_chunk_receiver_complete(site->upload))
            continue;
        fl_error err = {0};
        if (add_spool(round, site, words, &err) != FL_OK) {
            /* The sum may now hold part of this site's input, so the round cannot go on. */
            free(words);
            round_fail(round, "summing the upload of %s failed: %s", site->name, err.msg);
            return;
        }
    }
    free(words);
    round->sum_s = fl_time_monotonic() - started;

    fc_msg_unmask_request *request = fl_xmalloc(sizeof(*request));
    fl_error err = {0};
    if (fc_secagg_server_close_inputs(round->server, request, &err) != FL_OK) {
        free(request);
        round_fail(round, "closing the uploads failed: %s", err.msg);
        return;
    }

    Fedlora__UnmaskRequest message = FEDLORA__UNMASK_REQUEST__INIT;
    message.surviving_sites = names_of(round, request->live, request->live_count);
    message.n_surviving_sites = request->live_count;
    message.dropped_sites = names_of(round, request->dropped, request->dropped_count);
    message.n_dropped_sites = request->dropped_count;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST;
    envelope.unmask_request = &message;
    for (uint16_t i = 0; i < request->live_count; i++)
        round_send(round, &round->sites[request->live[i]], &envelope);
    for (size_t i = 0; i < round->site_count; i++) {
        bool live = false;
        for (uint16_t j = 0; j < request->live_count; j++)
            live = live || request->live[j] == round->sites[i].index;
        if (!live)
            round_site_out(round, &round->sites[i], "its masked input did not arrive in full");
    }
    fl_info("round %llu: %u sites uploaded, %u dropped; asking for unmasking shares",
            (unsigned long long)round->number, request->live_count, request->dropped_count);
    free(message.surviving_sites);
    free(message.dropped_sites);
    free(request);
    round->phase = COORD_PHASE_UNMASK;
    coord_test_hold("unmask", round->number);
}

void round_finish(coord_round *round)
{
    double started = fl_time_monotonic();
    fl_error err = {0};
    if (fc_secagg_server_finish(round->server, &err) != FL_OK) {
        round_fail(round, "unmasking failed: %s", err.msg);
        return;
    }
    round->mean = fl_xmalloc(round->params.dim * sizeof(float));
    if (fc_secagg_server_mean(round->server, round->mean, &err) != FL_OK) {
        round_fail(round, "computing the mean failed: %s", err.msg);
        return;
    }
    uint16_t *counted = fl_xmalloc(round->site_count * sizeof(uint16_t));
    round->counted = fc_secagg_server_counted(round->server, counted);
    for (uint32_t i = 0; i < round->counted; i++)
        round->sites[counted[i]].counted = true;
    free(counted);
    round->aggregate_s = fl_time_monotonic() - started;
    round->phase = COORD_PHASE_DONE;
    fl_info("round %llu: aggregated %u sites in %.1f s", (unsigned long long)round->number,
            round->counted, fl_time_monotonic() - round->started);
}

json_t *coord_round_record(const coord_round *round)
{
    json_t *sites = json_array();
    for (size_t i = 0; i < round->site_count; i++) {
        const round_site *site = &round->sites[i];
        json_t *entry = json_pack("{s:s, s:b}", "site", site->name, "participated",
                                  site->counted);
        if (site->has_metrics) {
            json_object_set_new(entry, "val_loss", json_real(site->val_loss));
            json_object_set_new(entry, "train_loss", json_real(site->train_loss));
            json_object_set_new(entry, "examples", json_integer((json_int_t)site->examples));
            json_object_set_new(entry, "train_s", json_real((double)site->train_ms / 1000.0));
            json_object_set_new(entry, "clipped_values", json_integer((json_int_t)site->clipped));
        }
        if (site->resent > 0)
            json_object_set_new(entry, "control_resent", json_integer(site->resent));
        if (site->out)
            json_object_set_new(entry, "dropped", json_string(site->out_reason));
        json_array_append_new(sites, entry);
    }

    const char *outcome = round->phase == COORD_PHASE_DONE ? "completed" : "failed";
    json_t *record = json_pack("{s:I, s:i, s:s, s:f, s:o}", "round", (json_int_t)round->number,
                               "attempt", (int)round->attempt, "outcome", outcome, "duration_s",
                               fl_time_monotonic() - round->started, "sites", sites);
    json_t *phases = json_object();
    for (int p = 0; p < round->phases_closed; p++)
        json_object_set_new(phases, coord_phase_names[p], json_real(round->phase_s[p]));
    json_object_set_new(record, "phase_s", phases);
    json_object_set_new(record, "sum_s", json_real(round->sum_s));
    json_object_set_new(record, "aggregate_s", json_real(round->aggregate_s));
    if (round->failure[0] != '\0')
        json_object_set_new(record, "reason", json_string(round->failure));
    return record;
}
