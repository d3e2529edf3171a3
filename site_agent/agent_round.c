#include "agent_round_internal.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_adapter_sig.h"
#include "fl_file.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "proto_codec.h"

const char *const agent_round_phase_names[] = {"download", "train", "keys", "shares",
                                               "upload",   "unmask", "done", "failed"};

/* Ends the round: the trainer gets SIGTERM and the secure-aggregation secrets are wiped. */
static void stop_round(agent_round *round)
{
    round->phase = AGENT_ROUND_FAILED;
    agent_worker_terminate(round->worker);
    fc_secagg_client_destroy(&round->client);
}

void agent_round_fail(agent_round *round, const char *fmt, ...)
{
    if (round->phase >= AGENT_ROUND_DONE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(round->failure, sizeof(round->failure), fmt, ap);
    va_end(ap);
    fl_error("round %llu failed in phase %s: %s", (unsigned long long)round->number,
             agent_round_phase_names[round->phase], round->failure);
    stop_round(round);
}

void agent_round_send(agent_round *round, Fedlora__Envelope *envelope)
{
    fl_error err = {0};
    int rc = proto_link_send(round->context.link, NULL, envelope, &err);
    if (rc == FL_OK || rc == FL_ETIMEOUT)
        agent_control_replied(round->context.control, round->context.link, envelope);
    if (rc == FL_ETIMEOUT)
        fl_warn("round %llu: sending %s failed: %s. It is resent when the coordinator repeats "
                "its request", (unsigned long long)round->number,
                proto_body_name(envelope->body_case), err.msg);
    else if (rc != FL_OK)
        agent_round_fail(round, "sending %s failed: %s", proto_body_name(envelope->body_case),
                         err.msg);
}

static int find_roster(agent_round *round, const Fedlora__RoundStart *start, fl_error *err)
{
    const agent_setup *setup = round->context.setup;
    round->site_count = start->n_selected_sites;
    round->sites = fl_xcalloc(round->site_count, sizeof(char *));
    round->roster = fl_xcalloc(round->site_count, sizeof(fc_public_identity));
    bool selected = false;
    for (size_t i = 0; i < round->site_count; i++) {
        const char *name = start->selected_sites[i];
        const fc_party *party = fc_manifest_find(setup->manifest, FC_ROLE_SITE, name);
        if (party == NULL)
            return fl_error_set(err, FL_ENOTFOUND,
                                "the round selects site '%s', which the manifest does not list",
                                name);
        round->sites[i] = fl_xstrdup(name);
        round->roster[i] = party->keys;
        if (strcmp(name, setup->config.site_id) == 0) {
            round->index = (uint16_t)i;
            selected = true;
        }
    }
    if (!selected)
        return fl_error_set(err, FL_EINVAL, "this site is not among the round's selected sites");
    return FL_OK;
}

static void free_roster(agent_round *round)
{
    for (size_t i = 0; round->sites != NULL && i < round->site_count; i++)
        free(round->sites[i]);
    free(round->sites);
    free(round->roster);
    round->sites = NULL;
    round->roster = NULL;
    round->site_count = 0;
}

static int open_download(agent_round *round, const Fedlora__RoundStart *start, fl_error *err)
{
    const Fedlora__ObjectRef *ref = start->global_adapter;
    if (ref->total_size != round->context.job->num_params * sizeof(float))
        return fl_error_set(err, FL_EPROTO,
                            "the global adapter has %llu bytes; this job's adapter on this "
                            "site's model has %zu",
                            (unsigned long long)ref->total_size,
                            round->context.job->num_params * sizeof(float));
    snprintf(round->adapter_id, sizeof(round->adapter_id), "%s", ref->object_id);
    memcpy(round->adapter_hash, ref->hash.data, sizeof(round->adapter_hash));
    memcpy(round->signature, start->adapter_signature.data, sizeof(round->signature));
    round->adapter_size = ref->total_size;

    if (fl_path_format(round->adapter_path, sizeof(round->adapter_path), "%s/adapter.bin",
                       round->work_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", round->work_dir);
    round->adapter_fd = open(round->adapter_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (round->adapter_fd < 0)
        return fl_error_set(err, FL_EIO, "%s: cannot create: %s", round->adapter_path,
                            strerror(errno));
    return proto_chunk_receiver_new(round->adapter_id, round->adapter_size, round->adapter_hash,
                                    proto_file_sink, &round->adapter_fd, &round->download, err);
}

int agent_round_start(agent_round **out, const agent_round_context *context, uint64_t number,
                      const Fedlora__RoundStart *start, fl_error *err)
{
    *out = NULL;
    agent_round *round = fl_xcalloc(1, sizeof(*round));
    round->context = *context;
    round->number = number;
    round->attempt = start->attempt;
    round->threshold = start->secagg_threshold;
    round->chunk_elements = start->chunk_elements;
    round->adapter_fd = -1;
    round->spool_fd = -1;
    round->download_s = fl_time_monotonic();

    int rc = fl_path_format(round->work_dir, sizeof(round->work_dir), "%s/%s-r%llu-a%u-%llu",
                            context->work_root, context->job->id, (unsigned long long)number,
                            round->attempt, (unsigned long long)context->instance);
    if (rc != FL_OK)
        rc = fl_error_set(err, FL_ERANGE, "%s: path too long", context->work_root);
    if (rc == FL_OK)
        rc = fl_file_mkdirs(round->work_dir, 0700, err);
    if (rc == FL_OK)
        rc = find_roster(round, start, err);
    if (rc == FL_OK)
        rc = open_download(round, start, err);
    if (rc != FL_OK) {
        agent_round_destroy(&round);
        return rc;
    }
    fl_info("round %llu (attempt %u): selected with %zu sites; downloading the global adapter",
            (unsigned long long)number, round->attempt, round->site_count);
    *out = round;
    return FL_OK;
}

int agent_round_resume(agent_round *round, const Fedlora__RoundStart *start, fl_error *err)
{
    const Fedlora__ObjectRef *ref = start->global_adapter;
    if (round->phase == AGENT_ROUND_FAILED || start->attempt != round->attempt ||
        strcmp(ref->object_id, round->adapter_id) != 0 || ref->total_size != round->adapter_size ||
        memcmp(ref->hash.data, round->adapter_hash, sizeof(round->adapter_hash)) != 0 ||
        memcmp(start->adapter_signature.data, round->signature, sizeof(round->signature)) != 0)
        return fl_error_set(err, FL_ESTATE,
                            "the RoundStart names attempt %u and adapter %s; this site's round "
                            "is attempt %u with adapter %s, in phase %s",
                            start->attempt, ref->object_id, round->attempt, round->adapter_id,
                            agent_round_phase_names[round->phase]);

    free_roster(round);
    int rc = find_roster(round, start, err);
    if (rc != FL_OK)
        return rc;
    round->threshold = start->secagg_threshold;
    round->chunk_elements = start->chunk_elements;

    fl_info("round %llu (attempt %u): the coordinator sent RoundStart again, so this site "
            "keeps its work so far (phase %s) and starts secure aggregation over with %zu sites",
            (unsigned long long)round->number, round->attempt,
            agent_round_phase_names[round->phase], round->site_count);
    if (round->phase >= AGENT_ROUND_KEYS) {
        agent_round_reset_secagg(round);
        agent_round_begin_secagg(round);
    }
    return FL_OK;
}

/*
 * Deletes every file in a round's work folder, then the folder. Besides the
 * known files it may hold the temporary file of a write that an abort cut.
 */
static void remove_work_dir(const char *path)
{
    DIR *folder = opendir(path);
    if (folder == NULL) {
        if (errno != ENOENT)
            fl_warn("cannot list the work folder %s: %s", path, strerror(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(folder), entry->d_name, 0) != 0)
            fl_warn("cannot delete %s/%s: %s", path, entry->d_name, strerror(errno));
    }
    closedir(folder);
    if (rmdir(path) != 0)
        fl_warn("cannot delete the work folder %s: %s", path, strerror(errno));
}

void agent_round_remove_leftovers(const char *work_root)
{
    DIR *root = opendir(work_root);
    if (root == NULL) {
        fl_warn("cannot list %s: %s", work_root, strerror(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(root)) != NULL) {
        char path[4200];
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0 ||
            fl_path_format(path, sizeof(path), "%s/%s", work_root, entry->d_name) != FL_OK)
            continue;
        fl_info("deleting the work folder %s, left by an agent that did not stop cleanly", path);
        remove_work_dir(path);
    }
    closedir(root);
}

void agent_round_destroy(agent_round **round)
{
    if (round == NULL || *round == NULL)
        return;
    agent_round *r = *round;
    agent_worker_stop(&r->worker, 2.0);
    fc_secagg_client_destroy(&r->client);
    proto_chunk_receiver_destroy(&r->download);
    proto_chunk_sender_destroy(&r->upload_sender);
    if (r->adapter_fd >= 0)
        close(r->adapter_fd);
    if (r->spool_fd >= 0)
        close(r->spool_fd);
    if (r->work_dir[0] != '\0')
        remove_work_dir(r->work_dir);
    free_roster(r);
    free(r->result.delta);
    free(r);
    *round = NULL;
}

/* Checks the signature on the downloaded adapter, then starts the trainer process. */
static void start_training(agent_round *round)
{
    const agent_setup *setup = round->context.setup;
    const agent_job *job = round->context.job;
    if (fc_adapter_verify(round->signature, setup->manifest->coordinator.keys.sign_public, job->id,
                          round->number, round->adapter_hash) != FL_OK) {
        agent_round_fail(round, "the global adapter's signature is not the coordinator's; "
                                "refusing to train on it");
        return;
    }
    round->download_s = fl_time_monotonic() - round->download_s;

    const Fedlora__JobDescription *desc = job->desc;
    tr_round_options options;
    tr_round_options_init(&options);
    options.model_dir = setup->config.base_model_dir;
    options.train_path = setup->config.train_files.items[0];
    options.validation_path = setup->config.validation_file && setup->config.validation_file[0]
                                  ? setup->config.validation_file
                                  : NULL;
    options.lora = job->lora;
    options.lora_seed = desc->lora->seed;
    options.frozen_a = job->frozen_a;
    options.steps = (int)desc->local_steps;
    options.batch_size = (int)desc->batch_size;
    options.seq_len = (int)desc->seq_len;
    options.lr = (float)desc->learning_rate;
    options.seed = round->number * 1000003u + round->attempt;
    options.threads = (int)setup->config.threads;

    agent_worker_paths paths = {round->adapter_path, round->work_dir,
                                setup->config.require_sandbox};
    fl_error err = {0};
    int rc = agent_worker_write_spec(&options, &paths, &err);
    if (rc == FL_OK)
        rc = agent_worker_start(&round->worker, round->work_dir, &err);
    if (rc != FL_OK) {
        agent_round_fail(round, "cannot start the trainer process: %s", err.msg);
        return;
    }
    round->phase = AGENT_ROUND_TRAIN;
    proto_link_set_state(round->context.link, FEDLORA__AGENT_STATE__AGENT_STATE_TRAINING);
    fl_info("round %llu: training %u steps in the sandboxed trainer process",
            (unsigned long long)round->number, desc->local_steps);
}

static void on_download(agent_round *round, const proto_message *message, bool *handled)
{
    fl_error err = {0};
    if (proto_link_receive_chunk(round->context.link, round->download, message, handled, &err) !=
        FL_OK) {
        agent_round_fail(round, "downloading the global adapter failed: %s", err.msg);
        return;
    }
    if (*handled && proto_chunk_receiver_complete(round->download) &&
        round->phase == AGENT_ROUND_DOWNLOAD)
        start_training(round);
}

void agent_round_on_message(agent_round *round, const proto_message *message, bool *handled)
{
    *handled = false;
    if (round->phase >= AGENT_ROUND_DONE)
        return;
    const Fedlora__Envelope *e = message->envelope;
    switch (e->body_case) {
    case FEDLORA__ENVELOPE__BODY_MODEL_CHUNK:
    case FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY:
        on_download(round, message, handled);
        break;
    case FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS:
        if (round->upload_started) {
            fl_error err = {0};
            if (proto_outgoing_on_message(&round->upload, message, handled, &err) != FL_OK)
                agent_round_fail(round, "uploading the masked input failed: %s", err.msg);
        }
        break;
    case FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS:
        *handled = true;
        agent_round_on_key_list(round, e->advertise_keys);
        break;
    case FEDLORA__ENVELOPE__BODY_SHARE_KEYS:
        *handled = true;
        agent_round_on_relay(round, e->share_keys);
        break;
    case FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST:
        *handled = true;
        agent_round_on_unmask(round, e->unmask_request);
        break;
    default:
        break;
    }
}

/*
 * Test-only: with FEDLORA_TEST_DUMP_DIR set, keeps copies of the round's
 * input adapter, delta and metrics there, so an integration test can recompute
 * the aggregate. Nothing else reads the variable.
 */
static void dump_for_test(const agent_round *round)
{
    const char *folder = getenv("FEDLORA_TEST_DUMP_DIR");
    if (folder == NULL || folder[0] == '\0')
        return;
    static const char *const files[] = {"adapter.bin", "delta.bin", "metrics.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char from[4200], to[4200];
        char *data = NULL;
        size_t size = 0;
        if (fl_path_format(from, sizeof(from), "%s/%s", round->work_dir, files[i]) != FL_OK ||
            fl_path_format(to, sizeof(to), "%s/%s-r%llu-a%u-%s", folder,
                           round->context.setup->config.site_id,
                           (unsigned long long)round->number, round->attempt, files[i]) != FL_OK ||
            fl_file_read_all(from, (size_t)1 << 34, &data, &size, NULL) != FL_OK)
            continue;
        if (fl_file_write_atomic(to, data, size, 0600, NULL) != FL_OK)
            fl_warn("test dump: cannot write %s", to);
        free(data);
    }
}

static void check_worker(agent_round *round)
{
    agent_worker_update(round->worker, &round->worker_status);
    if (!round->worker_status.finished)
        return;
    if (!round->worker_status.succeeded) {
        agent_round_fail(round, "local training failed: %s", round->worker_status.error);
        return;
    }
    agent_worker_stop(&round->worker, 0.0);
    fl_error err = {0};
    if (agent_worker_read_result(round->work_dir, round->context.job->trained_count,
                                 &round->result, &err) != FL_OK) {
        agent_round_fail(round, "reading the trainer's result failed: %s", err.msg);
        return;
    }
    dump_for_test(round);
    fl_info("round %llu: trained; validation loss before %.4f, training loss %.4f",
            (unsigned long long)round->number, round->result.val_loss_before,
            round->result.train_loss);
    agent_round_begin_secagg(round);
}

void agent_round_poll(agent_round *round)
{
    if (round->phase == AGENT_ROUND_TRAIN && round->worker != NULL)
        check_worker(round);
    if (round->phase == AGENT_ROUND_UPLOAD)
        agent_round_poll_upload_start(round);
    if (round->phase == AGENT_ROUND_UPLOAD && round->upload_started) {
        fl_error err = {0};
        if (proto_outgoing_pump(&round->upload, round->context.link, &round->context.transfer,
                                &err) != FL_OK)
            agent_round_fail(round, "uploading the masked input failed: %s", err.msg);
        else if (proto_outgoing_complete(&round->upload)) {
            round->phase = AGENT_ROUND_UNMASK;
            proto_link_set_state(round->context.link, FEDLORA__AGENT_STATE__AGENT_STATE_UNMASKING);
            fl_info("round %llu: masked input uploaded", (unsigned long long)round->number);
        }
    }
}

void agent_round_abort(agent_round *round, const char *reason)
{
    if (round->phase >= AGENT_ROUND_DONE)
        return;
    snprintf(round->failure, sizeof(round->failure), "%s", reason);
    fl_warn("round %llu stopped in phase %s: %s", (unsigned long long)round->number,
            agent_round_phase_names[round->phase], round->failure);
    stop_round(round);
}

bool agent_round_reap(agent_round *round, double stop_timeout)
{
    if (round->worker == NULL)
        return true;
    if (round->phase < AGENT_ROUND_DONE || !agent_worker_reap(round->worker, stop_timeout))
        return false;
    agent_worker_stop(&round->worker, 0.0);
    return true;
}

agent_round_phase agent_round_phase_of(const agent_round *round)
{
    return round->phase;
}

const char *agent_round_failure(const agent_round *round)
{
    return round->failure;
}

uint64_t agent_round_number(const agent_round *round)
{
    return round->number;
}
