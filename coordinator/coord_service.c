#include "coord_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "coord_adapter.h"
#include "coord_admin.h"
#include "coord_jobdesc.h"
#include "coord_round.h"
#include "coord_test_hold.h"
#include "fl_file.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "proto_codec.h"
#include "proto_transfer.h"
#include "proto_zap.h"

#define POLL_MS 50
#define JOB_SCAN_S 1.0
#define ABORT_REPEAT_S 1.0   /* shortest time between two repeats to one site */

/*
 * A job whose end could not be written to its state file stays "running" on
 * disk. It is tried again after a delay that starts at STATE_RETRY_FIRST_S
 * and doubles after each further failure up to STATE_RETRY_MAX_S, so a
 * broken state folder does not keep every site training the same round.
 */
#define STATE_RETRY_FIRST_S 5.0
#define STATE_RETRY_MAX_S 300.0

/* The coordinator's record of one site of the manifest. */
typedef struct site_entry {
    const fc_party *party;
    char accepted_job[COORD_JOB_ID_MAX + 1]; /* job this site accepted; empty if none */
    uint64_t examples;
    char refusal[PROTO_MAX_DETAIL + 1];      /* last refusal of the active job */
    char refusal_code[64];                   /* its reason code, as named in fedlora.proto */
    bool refused_terms;                      /* it refused the active job's own terms */
    uint64_t session;                        /* session of its last Hello; 0 before any */
    double abort_repeated_at;                /* when an abort was last repeated to it */
} site_entry;

struct coord_service {
    coord_setup *setup;
    void *zmq;
    proto_zap *zap;
    proto_link *link;
    coord_store *store;
    char spool_dir[4096];
    site_entry *sites;
    size_t site_count;
    proto_transfer_options transfer;

    bool has_job;
    coord_job_spec job;
    coord_job_state state;
    coord_adapter adapter;
    coord_jobdesc desc;
    uint8_t signature[FC_SIGNATURE_BYTES];
    coord_round *round;
    uint32_t attempt;
    double waiting_since;  /* when the current round began waiting for sites */
    double ready_since;    /* when min_sites became ready */
    double last_scan;
    double state_retry_delay; /* current back-off after a failed state write; 0 when none */
    double pick_after;        /* monotonic time before which no job is activated */

    char last_job[COORD_JOB_ID_MAX + 1]; /* job that ended last; empty before any */

    coord_admin *admin;    /* the researchers' admin socket */
    fc_identity *test_signer; /* test-only foreign signing key; NULL in normal runs */
};

static site_entry *find_site(coord_service *service, const char *name)
{
    for (size_t i = 0; i < service->site_count; i++) {
        if (strcmp(service->sites[i].party->name, name) == 0)
            return &service->sites[i];
    }
    return NULL;
}

static void send_to(coord_service *service, const char *site, Fedlora__Envelope *envelope)
{
    fl_error err = {0};
    if (proto_link_send(service->link, site, envelope, &err) != FL_OK)
        fl_warn("sending %s to %s failed: %s", proto_body_name(envelope->body_case), site,
                err.msg);
}

static void send_job(coord_service *service, const char *site)
{
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_JOB;
    envelope.job = &service->desc.message;
    send_to(service, site, &envelope);
}

static void broadcast_abort(coord_service *service, Fedlora__AbortReason reason,
                            const char *detail)
{
    Fedlora__Abort abort_body = FEDLORA__ABORT__INIT;
    abort_body.reason = reason;
    abort_body.detail = (char *)detail;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_ABORT;
    envelope.abort = &abort_body;
    for (size_t i = 0; i < service->site_count; i++) {
        const char *name = service->sites[i].party->name;
        if (proto_link_peer_alive(service->link, name))
            send_to(service, name, &envelope);
    }
}

/*
 * Test-only: FEDLORA_TEST_FOREIGN_SIGNING_KEY names another party's key file,
 * whose Ed25519 key then signs the global adapters in place of the
 * coordinator's, so an integration test can check that sites reject them.
 * Nothing else reads the variable.
 */
static const fc_identity *adapter_signer(coord_service *service)
{
    const char *path = getenv("FEDLORA_TEST_FOREIGN_SIGNING_KEY");
    if (path == NULL || path[0] == '\0')
        return service->setup->identity;
    if (service->test_signer == NULL) {
        fl_error err = {0};
        if (fc_identity_load(path, &service->test_signer, &err) != FL_OK) {
            fl_error("test-only signing key not loaded: %s", err.msg);
            return service->setup->identity;
        }
        fl_warn("test-only: signing global adapters with the key in %s, which sites reject",
                path);
    }
    return service->test_signer;
}

/* Signs the adapter that round `round` starts from. */
static void sign_adapter(coord_service *service, uint64_t round)
{
    coord_adapter_sign(&service->adapter, service->job.id, round, adapter_signer(service),
                       service->signature);
}

static int save_state(coord_service *service)
{
    fl_error err = {0};
    int rc = coord_store_save_state(service->store, service->job.id, &service->state, &err);
    if (rc != FL_OK)
        fl_error("cannot save the job state: %s", err.msg);
    return rc;
}

static void release_job(coord_service *service)
{
    coord_round_destroy(&service->round);
    if (service->has_job)
        coord_adapter_release(&service->adapter);
    service->has_job = false;
    fc_identity_destroy(&service->test_signer);
    for (size_t i = 0; i < service->site_count; i++) {
        service->sites[i].accepted_job[0] = '\0';
        service->sites[i].refusal[0] = '\0';
        service->sites[i].refusal_code[0] = '\0';
        service->sites[i].refused_terms = false;
    }
    fl_log_set_context(NULL, -1, NULL);
}

/* Loads the adapter the next round starts from: the last checkpoint, or the initial one. */
static int restore_adapter(coord_service *service, fl_error *err)
{
    int rc = coord_adapter_init(&service->adapter, &service->job, err);
    if (rc != FL_OK || service->state.completed_rounds == 0)
        return rc;

    char folder[4096];
    rc = coord_store_checkpoint_path(service->store, service->job.id,
                                     service->state.completed_rounds, "", folder,
                                     sizeof(folder), err);
    if (rc == FL_OK)
        rc = coord_adapter_load(&service->adapter, folder, err);
    if (rc != FL_OK) {
        coord_adapter_release(&service->adapter);
        return rc;
    }
    fl_info("resumed from the checkpoint of round %d", service->state.completed_rounds);
    return FL_OK;
}

/*
 * Marks history entries of rounds that state.json does not count, because they
 * are redone. id names the job's folder in the store.
 */
static void mark_uncounted_rounds(coord_service *service, const char *id)
{
    fl_error err = {0};
    int marked = 0;
    if (coord_store_mark_uncounted_rounds(service->store, id, service->state.completed_rounds,
                                          &marked, &err) != FL_OK)
        fl_error("cannot check the history of job %s against its state: %s", id, err.msg);
    else if (marked > 0)
        fl_warn("job %s: state.json counts %d rounds, but the history listed later rounds as "
                "completed; marked %d such entries failed, and those rounds are redone",
                id, service->state.completed_rounds, marked);
}

static int activate_job(coord_service *service, const char *id, fl_error *err)
{
    int rc = coord_store_load(service->store, id, &service->job, &service->state, err);
    if (rc == FL_OK)
        rc = restore_adapter(service, err);
    if (rc != FL_OK)
        return rc;
    mark_uncounted_rounds(service, id);
    service->has_job = true;
    service->attempt = 0;
    service->waiting_since = 0;
    service->ready_since = 0;

    uint64_t round = (uint64_t)service->state.completed_rounds + 1;
    fl_log_set_context(service->job.id, (int64_t)round, NULL);
    rc = proto_link_set_job(service->link, service->job.id, round, err);
    if (rc != FL_OK) {
        release_job(service);
        return rc;
    }
    service->state.status = COORD_JOB_RUNNING;
    save_state(service);
    sign_adapter(service, round);
    coord_jobdesc_init(&service->desc, &service->job);
    fl_info("job %s active: round %llu of %d, %zu adapter values trained per site", id,
            (unsigned long long)round, service->job.rounds, service->adapter.trained_count);

    for (size_t i = 0; i < service->site_count; i++) {
        const char *name = service->sites[i].party->name;
        if (proto_link_peer_alive(service->link, name))
            send_job(service, name);
    }
    return FL_OK;
}

/* Activates the first running job in the store, else the first queued one. */
static void pick_job(coord_service *service)
{
    fl_error err = {0};
    json_t *ids = coord_store_list(service->store, &err);
    const char *chosen = NULL;
    for (int pass = 0; pass < 2 && chosen == NULL; pass++) {
        size_t index;
        json_t *id;
        json_array_foreach(ids, index, id) {
            coord_job_spec job;
            coord_job_state state;
            if (coord_store_load(service->store, json_string_value(id), &job, &state, NULL) !=
                FL_OK)
                continue;
            if (state.status == (pass == 0 ? COORD_JOB_RUNNING : COORD_JOB_QUEUED)) {
                chosen = json_string_value(id);
                break;
            }
        }
    }
    if (chosen != NULL && activate_job(service, chosen, &err) != FL_OK) {
        /* Mark it failed, so the next scan does not try it again and again. */
        fl_error("cannot start job %s: %s", chosen, err.msg);
        coord_job_spec job;
        coord_job_state state;
        if (coord_store_load(service->store, chosen, &job, &state, NULL) == FL_OK) {
            state.status = COORD_JOB_FAILED;
            snprintf(state.reason, sizeof(state.reason), "cannot start: %.200s", err.msg);
            if (coord_store_save_state(service->store, chosen, &state, &err) != FL_OK)
                fl_error("cannot record the failure of job %s: %s", chosen, err.msg);
        }
    }
    json_decref(ids);
}

/* Holds back the next activation after a failed state write, doubling the delay each time. */
static void delay_next_activation(coord_service *service)
{
    double delay = service->state_retry_delay * 2.0;
    if (delay < STATE_RETRY_FIRST_S)
        delay = STATE_RETRY_FIRST_S;
    if (delay > STATE_RETRY_MAX_S)
        delay = STATE_RETRY_MAX_S;
    service->state_retry_delay = delay;
    fl_warn("job %s is tried again in %.0f s; until then make %s writable and free space in it "
            "(it must be mounted read-write, owned by the coordinator's user and not full)",
            service->job.id, delay, service->setup->config.state_dir);
    /* Counted from after the log line, so its timestamp plus delay is a lower bound. */
    service->pick_after = fl_time_monotonic() + delay;
}

/* Ends the active job with status and reason, informs the sites and picks the next job. */
static void finish_job(coord_service *service, coord_job_status status, const char *reason)
{
    service->state.status = status;
    snprintf(service->state.reason, sizeof(service->state.reason), "%s", reason);
    if (save_state(service) != FL_OK) {
        fl_error("job %s could not be marked %s on disk, so its state file keeps the previous "
                 "status and the job resumes from the checkpoint of round %d",
                 service->job.id, coord_job_status_names[status],
                 service->state.completed_rounds);
        delay_next_activation(service);
    }
    fl_info("job %s %s: %s", service->job.id, coord_job_status_names[status], reason);
    broadcast_abort(service, FEDLORA__ABORT_REASON__ABORT_JOB_FINISHED, reason);
    snprintf(service->last_job, sizeof(service->last_job), "%s", service->job.id);
    release_job(service);
}

/* Adds the sites that refused the job, with their reasons, to a round's record. */
static void add_refusals(coord_service *service, json_t *round_record)
{
    json_t *refusals = json_array();
    for (size_t i = 0; i < service->site_count; i++) {
        const site_entry *site = &service->sites[i];
        if (site->refusal_code[0] != '\0')
            json_array_append_new(refusals,
                                  json_pack("{s:s, s:s, s:s}", "site", site->party->name,
                                            "reason", site->refusal_code, "detail",
                                            site->refusal));
    }
    json_object_set_new(round_record, "refusals", refusals);
}

static void record(coord_service *service, json_t *round_record)
{
    fl_error err = {0};
    add_refusals(service, round_record);
    if (coord_store_record_round(service->store, service->job.id, round_record, &err) != FL_OK)
        fl_error("cannot record the round in the job history: %s", err.msg);
    json_decref(round_record);
}

/*
 * Applies the round's mean delta and makes the round durable: the checkpoint
 * files, then the history entry, then state.json, which alone counts the round
 * as completed. A crash before state.json is written leaves the previous round
 * as the last completed one, and the round is redone after a restart.
 */
static void complete_round(coord_service *service)
{
    int number = service->state.completed_rounds + 1;
    double started = fl_time_monotonic();
    coord_adapter_apply(&service->adapter, coord_round_mean(service->round));
    double applied = fl_time_monotonic();

    char folder[4096];
    fl_error err = {0};
    int rc = coord_store_checkpoint_path(service->store, service->job.id, number, "", folder,
                                         sizeof(folder), &err);
    if (rc == FL_OK)
        rc = coord_adapter_save(&service->adapter, folder, service->job.base_model_name, &err);
    if (rc != FL_OK) {
        /* The previous checkpoint stays in place; the job stops rather than lose a round. */
        if (number > 1)
            fl_error("checkpoint of round %d failed: %s; the checkpoint of round %d is unchanged",
                     number, err.msg, number - 1);
        else
            fl_error("checkpoint of round 1 failed: %s", err.msg);
        json_t *failed = coord_round_record(service->round);
        json_object_set_new(failed, "outcome", json_string("failed"));
        char reason[600];
        snprintf(reason, sizeof(reason), "the checkpoint could not be written: %.500s", err.msg);
        json_object_set_new(failed, "reason", json_string(reason));
        record(service, failed);
        finish_job(service, COORD_JOB_FAILED, "the checkpoint could not be written");
        return;
    }

    json_t *round_record = coord_round_record(service->round);
    json_object_set_new(round_record, "optimizer_s", json_real(applied - started));
    json_object_set_new(round_record, "checkpoint_s", json_real(fl_time_monotonic() - applied));
    record(service, round_record);
    coord_test_hold("checkpoint", (uint64_t)number);

    service->state.completed_rounds = number;
    if (save_state(service) != FL_OK) {
        finish_job(service, COORD_JOB_FAILED, "the job state could not be written");
        return;
    }
    service->state_retry_delay = 0;
    coord_round_destroy(&service->round);
    service->attempt = 0;
    service->waiting_since = 0;
    service->ready_since = 0;
    fl_info("round %d completed and checkpointed", number);

    if (number >= service->job.rounds) {
        finish_job(service, COORD_JOB_COMPLETED, "all rounds completed");
        return;
    }
    fl_log_set_context(service->job.id, number + 1, NULL);
    if (proto_link_set_job(service->link, service->job.id, (uint64_t)number + 1, &err) != FL_OK)
        fl_error("cannot move the link to round %d: %s", number + 1, err.msg);
    sign_adapter(service, (uint64_t)number + 1);
}

/* Records a failed attempt and retries the round, or fails the job after the last retry. */
static void fail_attempt(coord_service *service, json_t *round_record, const char *why)
{
    char reason[512];
    snprintf(reason, sizeof(reason), "%.500s", why); /* why may point into the round freed below */
    if (round_record != NULL)
        record(service, round_record);
    coord_round_destroy(&service->round);
    service->attempt++;
    service->waiting_since = 0;
    service->ready_since = 0;
    if ((int)service->attempt > service->job.round_retries) {
        char text[512];
        snprintf(text, sizeof(text), "round %d failed %u times; last reason: %.400s",
                 service->state.completed_rounds + 1, service->attempt, reason);
        finish_job(service, COORD_JOB_FAILED, text);
        return;
    }
    fl_warn("round %d attempt %u failed (%s); retrying", service->state.completed_rounds + 1,
            service->attempt, reason);
}

/* Sites that accepted the job and are connected, in manifest order. */
static size_t ready_sites(coord_service *service, char **names)
{
    size_t count = 0;
    for (size_t i = 0; i < service->site_count; i++) {
        site_entry *site = &service->sites[i];
        if (strcmp(site->accepted_job, service->job.id) == 0 &&
            proto_link_peer_alive(service->link, site->party->name))
            names[count++] = (char *)site->party->name;
    }
    return count;
}

static void start_round(coord_service *service, char **names, size_t count)
{
    /* Agents heartbeat at the transport's default interval; three of them make the resend delay. */
    proto_link_options agent_options;
    proto_link_options_default(&agent_options);
    coord_round_context context = {
        .link = service->link,
        .manifest = service->setup->manifest,
        .job = &service->job,
        .adapter = &service->adapter,
        .adapter_signature = service->signature,
        .spool_dir = service->spool_dir,
        .chunk_size = (size_t)service->setup->config.chunk_size,
        .transfer = service->transfer,
        .resend_after_s = 3.0 * agent_options.heartbeat_interval_ms / 1000.0,
    };
    fl_error err = {0};
    uint64_t number = (uint64_t)service->state.completed_rounds + 1;
    if (coord_round_start(&service->round, &context, number, service->attempt, names, count,
                          &err) != FL_OK)
        fail_attempt(service, NULL, err.msg);
}

/* Starts a round once enough sites are ready, or gives up waiting at the deadline. */
static void schedule_round(coord_service *service)
{
    double now = fl_time_monotonic();
    if (service->waiting_since == 0)
        service->waiting_since = now;

    char **names = fl_xcalloc(service->site_count + 1, sizeof(char *));
    size_t count = ready_sites(service, names);
    if (count >= (size_t)service->job.min_sites) {
        if (service->ready_since == 0)
            service->ready_since = now;
        if (count == service->site_count ||
            now - service->ready_since >= service->setup->config.gather_time)
            start_round(service, names, count);
    } else if (now - service->waiting_since > service->job.round_deadline_s) {
        char reason[256];
        snprintf(reason, sizeof(reason),
                 "only %zu of the %d sites the job needs were ready before the %.0f s deadline",
                 count, service->job.min_sites, service->job.round_deadline_s);
        json_t *attempt = json_pack("{s:i, s:i, s:s, s:s, s:f, s:[]}", "round",
                                    service->state.completed_rounds + 1, "attempt",
                                    (int)service->attempt, "outcome", "failed", "reason",
                                    reason, "duration_s", now - service->waiting_since, "sites");
        fail_attempt(service, attempt, reason);
    } else {
        service->ready_since = 0;
    }
    free(names);
}

static void drive_job(coord_service *service)
{
    if (!service->has_job) {
        double now = fl_time_monotonic();
        if (now - service->last_scan >= JOB_SCAN_S && now >= service->pick_after) {
            service->last_scan = now;
            pick_job(service);
        }
        return;
    }
    if (service->round == NULL) {
        schedule_round(service);
        return;
    }

    coord_round_poll(service->round);
    coord_phase phase = coord_round_phase(service->round);
    if (phase == COORD_PHASE_DONE)
        complete_round(service);
    else if (phase == COORD_PHASE_FAILED)
        fail_attempt(service, coord_round_record(service->round),
                     coord_round_failure(service->round));
}

static void on_job_accept(coord_service *service, site_entry *site,
                          const Fedlora__Envelope *envelope)
{
    if (!service->has_job || strcmp(envelope->job_id, service->job.id) != 0)
        return;
    snprintf(site->accepted_job, sizeof(site->accepted_job), "%s", service->job.id);
    site->examples = envelope->job_accept->example_count;
    site->refusal[0] = '\0';
    site->refusal_code[0] = '\0';
    site->refused_terms = false;
    fl_info("site %s accepted job %s with %llu training examples", site->party->name,
            service->job.id, (unsigned long long)site->examples);
}

/* True for refusals of the job's own terms, which stand until the site's policy changes. */
static bool refuses_job_terms(Fedlora__RefusalReason reason)
{
    return reason != FEDLORA__REFUSAL_REASON__REFUSAL_TOO_FEW_SITES &&
           reason != FEDLORA__REFUSAL_REASON__REFUSAL_POLICY_OTHER;
}

/*
 * Fails the active job when the sites that refused its terms leave fewer
 * sites than its min_sites, naming each refusal, instead of waiting for
 * sites until the round deadline.
 */
static void fail_if_too_few_can_accept(coord_service *service)
{
    size_t refused = 0;
    char reasons[600] = "";
    for (size_t i = 0; i < service->site_count; i++) {
        const site_entry *site = &service->sites[i];
        if (!site->refused_terms)
            continue;
        refused++;
        size_t used = strlen(reasons);
        snprintf(reasons + used, sizeof(reasons) - used, "%s%s (%s)", used > 0 ? ", " : "",
                 site->party->name, site->refusal_code);
    }
    size_t can_accept = service->site_count - refused;
    if (can_accept >= (size_t)service->job.min_sites)
        return;

    char reason[1024];
    snprintf(reason, sizeof(reason),
             "only %zu of %zu sites can accept the job (min_sites %d); change it, or ask the "
             "sites to change their policy, and submit it under a new id. Refused by: %s",
             can_accept, service->site_count, service->job.min_sites, reasons);
    finish_job(service, COORD_JOB_FAILED, reason);
}

static void on_refusal(coord_service *service, site_entry *site, const Fedlora__Envelope *e)
{
    const Fedlora__Refusal *refusal = e->refusal;
    site->accepted_job[0] = '\0';
    snprintf(site->refusal, sizeof(site->refusal), "%s", refusal->detail);
    const ProtobufCEnumValue *reason =
        protobuf_c_enum_descriptor_get_value(&fedlora__refusal_reason__descriptor, refusal->reason);
    snprintf(site->refusal_code, sizeof(site->refusal_code), "%s",
             reason ? reason->name : "unknown");
    fl_warn("site %s refused job %s (%s): %s", site->party->name, e->job_id,
            reason ? reason->name : "unknown", refusal->detail);

    if (!service->has_job || strcmp(e->job_id, service->job.id) != 0)
        return;
    site->refused_terms = refuses_job_terms(refusal->reason);
    if (site->refused_terms)
        fail_if_too_few_can_accept(service);
}

/*
 * A Hello in a new session means the agent restarted: the round state it had
 * is gone, so the running round stops waiting for it at once. It may accept
 * the job again and take part in the next round.
 */
static void on_hello(coord_service *service, site_entry *site, const Fedlora__Envelope *e)
{
    if (site->session != 0 && site->session != e->session && service->round != NULL)
        coord_round_drop_site(service->round, site->party->name,
                              "the site restarted, so its part of the round is lost");
    site->session = e->session;
    if (service->has_job)
        send_job(service, site->party->name);
}

/* Sends ABORT_JOB_FINISHED for job_id to one site, with the reason the job store records. */
static void repeat_abort(coord_service *service, const char *site, const char *job_id,
                         uint64_t round)
{
    char detail[PROTO_MAX_DETAIL + 1];
    coord_job_spec *job = fl_xmalloc(sizeof(*job));
    coord_job_state state;
    if (coord_store_load(service->store, job_id, job, &state, NULL) == FL_OK)
        snprintf(detail, sizeof(detail), "job %s is %s: %s", job_id,
                 coord_job_status_names[state.status], state.reason);
    else
        snprintf(detail, sizeof(detail), "job %s is unknown to the coordinator", job_id);
    free(job);

    /* With no job active the link may carry this one; a link already past round is fine too. */
    fl_error err = {0};
    if (proto_link_set_job(service->link, job_id, round, &err) != FL_OK)
        fl_debug("abort repeat keeps the link's job: %s", err.msg);
    fl_info("site %s still works on job %s; repeating the abort (%s)", site, job_id, detail);

    Fedlora__Abort abort_body = FEDLORA__ABORT__INIT;
    abort_body.reason = FEDLORA__ABORT_REASON__ABORT_JOB_FINISHED;
    abort_body.detail = detail;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_ABORT;
    envelope.abort = &abort_body;
    send_to(service, site, &envelope);
}

/*
 * A heartbeat in which a site reports a busy state for a job that is not
 * the active one means the site missed that job's abort or end, for example
 * because it was offline then. The coordinator repeats, at most once per
 * ABORT_REPEAT_S for each site, the active job's offer (taking it makes the
 * site drop the old round) or, with no job active, the abort, until the
 * site's heartbeats report it idle.
 */
static void on_heartbeat(coord_service *service, site_entry *site, const Fedlora__Envelope *e)
{
    Fedlora__AgentState state = e->heartbeat->state;
    if (state == FEDLORA__AGENT_STATE__AGENT_STATE_IDLE ||
        state == FEDLORA__AGENT_STATE__AGENT_STATE_UNSPECIFIED || e->job_id[0] == '\0')
        return;
    if (service->has_job && strcmp(e->job_id, service->job.id) == 0)
        return;
    double now = fl_time_monotonic();
    if (now - site->abort_repeated_at < ABORT_REPEAT_S)
        return;
    site->abort_repeated_at = now;

    if (service->has_job) {
        fl_info("site %s still works on job %s; offering job %s again, which replaces it",
                site->party->name, e->job_id, service->job.id);
        send_job(service, site->party->name);
        return;
    }
    repeat_abort(service, site->party->name, e->job_id, e->round);
}

static void dispatch(coord_service *service, proto_message *message)
{
    bool handled = false;
    if (service->round != NULL)
        coord_round_on_message(service->round, message, &handled);
    site_entry *site = find_site(service, message->peer);
    if (handled || site == NULL)
        return;

    const Fedlora__Envelope *e = message->envelope;
    switch (e->body_case) {
    case FEDLORA__ENVELOPE__BODY_HELLO: on_hello(service, site, e); break;
    case FEDLORA__ENVELOPE__BODY_JOB_ACCEPT: on_job_accept(service, site, e); break;
    case FEDLORA__ENVELOPE__BODY_REFUSAL: on_refusal(service, site, e); break;
    case FEDLORA__ENVELOPE__BODY_HEARTBEAT: on_heartbeat(service, site, e); break;
    case FEDLORA__ENVELOPE__BODY_ERROR:
        fl_warn("site %s reports an error: %s", site->party->name, e->error->detail);
        break;
    default:
        fl_debug("ignored %s from %s outside its phase", proto_body_name(e->body_case),
                 site->party->name);
        break;
    }
}

int coord_service_run(coord_service *service, volatile sig_atomic_t *stop)
{
    fl_info("serving sites on %s", proto_link_endpoint(service->link));
    while (!*stop) {
        fl_error err = {0};
        proto_message message;
        int rc = proto_link_recv(service->link, POLL_MS, &message, &err);
        if (rc == FL_OK) {
            dispatch(service, &message);
            proto_message_release(&message);
        } else if (rc == FL_ENET) {
            fl_error("the site socket failed: %s", err.msg);
            return rc;
        }
        if (proto_link_tick(service->link, NULL, NULL, &err) == FL_ENET) {
            fl_error("the site socket failed: %s", err.msg);
            return FL_ENET;
        }
        drive_job(service);
        coord_admin_poll(service->admin);
    }
    fl_info("stopping on request");
    if (service->round != NULL)
        coord_round_abort(service->round, "the coordinator is shutting down");
    return FL_OK;
}

static int open_sockets(coord_service *service, fl_error *err)
{
    service->zmq = zmq_ctx_new();
    if (service->zmq == NULL)
        return fl_error_set(err, FL_ENET, "cannot create a ZeroMQ context");
    int rc = proto_zap_start(service->zmq, &service->zap, err);
    const fc_manifest *manifest = service->setup->manifest;
    for (size_t i = 0; rc == FL_OK && i < manifest->site_count; i++)
        rc = proto_zap_allow(service->zap, manifest->sites[i].keys.curve_public,
                             manifest->sites[i].name, err);
    if (rc != FL_OK)
        return rc;

    proto_link_options options;
    proto_link_options_default(&options);
    options.heartbeat_interval_ms = (int)(service->setup->config.heartbeat_interval * 1000.0);
    options.peer_timeout_ms = (int)(service->setup->config.heartbeat_timeout * 1000.0);
    if (options.heartbeat_timeout_ms > options.peer_timeout_ms)
        options.heartbeat_timeout_ms = options.peer_timeout_ms;
    return proto_server_new(service->zmq, service->zap, service->setup->config.bind,
                            manifest->coordinator.keys.curve_public,
                            fc_identity_curve_secret(service->setup->identity), "coordinator",
                            &options, &service->link, err);
}

int coord_service_new(coord_service **out, coord_setup *setup, fl_error *err)
{
    *out = NULL;
    coord_service *service = fl_xcalloc(1, sizeof(*service));
    service->setup = setup;
    proto_transfer_options_default(&service->transfer);
    service->site_count = setup->manifest->site_count;
    service->sites = fl_xcalloc(service->site_count + 1, sizeof(site_entry));
    for (size_t i = 0; i < service->site_count; i++)
        service->sites[i].party = &setup->manifest->sites[i];

    int rc = coord_store_open(&service->store, setup->config.state_dir, err);
    if (rc == FL_OK && fl_path_format(service->spool_dir, sizeof(service->spool_dir), "%s/spool",
                                      setup->config.state_dir) != FL_OK)
        rc = fl_error_set(err, FL_ERANGE, "state_dir path too long");
    if (rc == FL_OK)
        rc = fl_file_mkdirs(service->spool_dir, 0700, err);
    if (rc == FL_OK) {
        size_t removed = coord_round_clear_spool(service->spool_dir);
        if (removed > 0)
            fl_info("deleted %zu masked uploads that a stopped run left in %s", removed,
                    service->spool_dir);
    }
    if (rc == FL_OK)
        rc = open_sockets(service, err);
    if (rc == FL_OK)
        rc = coord_admin_new(&service->admin, service, setup, err);
    if (rc != FL_OK) {
        coord_service_destroy(&service);
        return rc;
    }
    /* The job in progress is restored on the first pass of the loop, before any message. */
    pick_job(service);
    *out = service;
    return FL_OK;
}

void coord_service_destroy(coord_service **service)
{
    if (service == NULL || *service == NULL)
        return;
    coord_service *s = *service;
    coord_admin_destroy(&s->admin);
    release_job(s);
    proto_link_destroy(&s->link);
    proto_zap_stop(&s->zap);
    if (s->zmq != NULL)
        zmq_ctx_term(s->zmq);
    coord_store_destroy(&s->store);
    free(s->sites);
    free(s);
    *service = NULL;
}

const char *coord_service_endpoint(const coord_service *service)
{
    return proto_link_endpoint(service->link);
}

/*
 * Operations of the researchers' admin socket. coord_admin_poll() calls them
 * from the service loop, so they run on the service's thread.
 */

coord_store *coord_service_store(coord_service *service)
{
    return service->store;
}

/* Writes the UTC time seconds_ago seconds before now as 2026-12-04T20:01:02Z. */
static void format_time_ago(char out[FL_TIME_ISO_SIZE], double seconds_ago)
{
    time_t when = time(NULL) - (time_t)seconds_ago;
    struct tm utc;
    gmtime_r(&when, &utc);
    strftime(out, FL_TIME_ISO_SIZE, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static json_t *site_status_json(coord_service *service, const site_entry *site)
{
    const char *name = site->party->name;
    bool accepted = service->has_job && strcmp(site->accepted_job, service->job.id) == 0;
    json_t *entry = json_pack("{s:s, s:b, s:b, s:I}", "name", name, "online",
                              proto_link_peer_alive(service->link, name), "accepted_job",
                              accepted, "examples", (json_int_t)site->examples);

    int64_t seen_ms = proto_link_peer_last_seen_ms(service->link, name);
    if (seen_ms < 0) {
        json_object_set_new(entry, "last_seen", json_null());
        json_object_set_new(entry, "last_seen_s_ago", json_null());
    } else {
        double ago = (double)(proto_now_ms() - seen_ms) / 1000.0;
        char stamp[FL_TIME_ISO_SIZE];
        format_time_ago(stamp, ago);
        json_object_set_new(entry, "last_seen", json_string(stamp));
        json_object_set_new(entry, "last_seen_s_ago", json_real(ago));
    }
    json_object_set_new(entry, "refusal",
                        site->refusal[0] != '\0' ? json_string(site->refusal) : json_null());
    return entry;
}

/* Adds the phase of the active job: waiting for sites, or the round's phase and progress. */
static void add_phase_json(coord_service *service, json_t *job)
{
    if (service->round == NULL) {
        char **names = fl_xcalloc(service->site_count + 1, sizeof(char *));
        size_t ready = ready_sites(service, names);
        free(names);
        double waited = service->waiting_since > 0 ? fl_time_monotonic() - service->waiting_since
                                                   : 0.0;
        json_object_set_new(job, "phase", json_string("waiting_for_sites"));
        json_object_set_new(job, "progress",
                            json_pack("{s:I, s:i, s:f}", "ready_sites", (json_int_t)ready,
                                      "min_sites", service->job.min_sites, "waiting_s", waited));
        return;
    }
    size_t done = 0, expected = 0;
    coord_round_progress(service->round, &done, &expected);
    json_object_set_new(job, "phase",
                        json_string(coord_phase_names[coord_round_phase(service->round)]));
    json_object_set_new(job, "progress", json_pack("{s:I, s:I}", "sites_done", (json_int_t)done,
                                                   "sites_expected", (json_int_t)expected));
}

static json_t *job_status_json(coord_service *service)
{
    const coord_job_spec *job = &service->job;
    json_t *entry = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "id", job->id,
                              "researcher", job->researcher, "status",
                              coord_job_status_names[service->state.status], "rounds",
                              job->rounds, "completed_rounds", service->state.completed_rounds,
                              "round", service->state.completed_rounds + 1, "attempt",
                              (int)service->attempt, "min_sites", job->min_sites);
    add_phase_json(service, entry);

    /* Per-site metrics of the rounds so far, as the job history records them. */
    fl_error err = {0};
    json_t *history = coord_store_history(service->store, job->id, &err);
    json_t *rounds = history != NULL ? json_object_get(history, "rounds") : NULL;
    json_object_set_new(entry, "rounds_so_far",
                        rounds != NULL ? json_incref(rounds) : json_array());
    if (history == NULL)
        fl_warn("status: cannot read the history of job %s: %s", job->id, err.msg);
    json_decref(history);
    return entry;
}

static json_t *queued_jobs_json(coord_service *service)
{
    json_t *queued = json_array();
    json_t *ids = coord_store_list(service->store, NULL);
    size_t index;
    json_t *id;
    json_array_foreach(ids, index, id) {
        coord_job_spec *job = fl_xmalloc(sizeof(*job));
        coord_job_state state;
        if (coord_store_load(service->store, json_string_value(id), job, &state, NULL) ==
                FL_OK &&
            state.status == COORD_JOB_QUEUED)
            json_array_append(queued, id);
        free(job);
    }
    json_decref(ids);
    return queued;
}

/* The job that ended last since the coordinator started, as its state file records it. */
static json_t *last_job_json(coord_service *service)
{
    if (service->last_job[0] == '\0')
        return json_null();
    coord_job_spec *job = fl_xmalloc(sizeof(*job));
    coord_job_state state;
    json_t *entry = json_null();
    fl_error err = {0};
    if (coord_store_load(service->store, service->last_job, job, &state, &err) == FL_OK)
        entry = json_pack("{s:s, s:s, s:s, s:i, s:i}", "id", job->id, "status",
                          coord_job_status_names[state.status], "reason", state.reason,
                          "completed_rounds", state.completed_rounds, "rounds", job->rounds);
    else
        fl_warn("status: cannot read job %s: %s", service->last_job, err.msg);
    free(job);
    return entry;
}

json_t *coord_service_status_json(coord_service *service)
{
    json_t *sites = json_array();
    for (size_t i = 0; i < service->site_count; i++)
        json_array_append_new(sites, site_status_json(service, &service->sites[i]));
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "site_endpoint",
                     proto_link_endpoint(service->link), "sites", sites, "job",
                     service->has_job ? job_status_json(service) : json_null(), "last_job",
                     last_job_json(service), "queued_jobs", queued_jobs_json(service));
}

int coord_service_submit(coord_service *service, const coord_job_spec *job, bool *created,
                         fl_error *err)
{
    int rc = coord_store_submit(service->store, job, created, err);
    if (rc != FL_OK || !*created)
        return rc;
    fl_info("job %s of researcher %s queued", job->id, job->researcher);
    if (!service->has_job)
        service->last_scan = 0; /* start it on the next pass instead of the next scan */
    return FL_OK;
}

/* Aborts the active job: stops its round, makes the abort durable, informs the sites. */
static int abort_active_job(coord_service *service, const char *reason, fl_error *err)
{
    coord_job_state aborted = service->state;
    aborted.status = COORD_JOB_ABORTED;
    snprintf(aborted.reason, sizeof(aborted.reason), "%s", reason);
    int rc = coord_store_save_state(service->store, service->job.id, &aborted, err);
    if (rc != FL_OK)
        return rc;

    if (service->round != NULL) {
        coord_round_abort(service->round, reason);
        record(service, coord_round_record(service->round));
        broadcast_abort(service, FEDLORA__ABORT_REASON__ABORT_OPERATOR, reason);
    }
    finish_job(service, COORD_JOB_ABORTED, reason);
    return FL_OK;
}

int coord_service_abort(coord_service *service, const char *job_id, const char *reason,
                        coord_job_status *previous, fl_error *err)
{
    if (service->has_job && strcmp(service->job.id, job_id) == 0) {
        *previous = service->state.status;
        return abort_active_job(service, reason, err);
    }

    coord_job_spec *job = fl_xmalloc(sizeof(*job));
    coord_job_state state;
    int rc = coord_store_load(service->store, job_id, job, &state, err);
    free(job);
    if (rc != FL_OK)
        return rc;
    *previous = state.status;
    if (state.status != COORD_JOB_QUEUED && state.status != COORD_JOB_RUNNING)
        return fl_error_set(err, FL_ESTATE, "job %s is already %s; there is nothing to abort",
                            job_id, coord_job_status_names[state.status]);
    state.status = COORD_JOB_ABORTED;
    snprintf(state.reason, sizeof(state.reason), "%s", reason);
    rc = coord_store_save_state(service->store, job_id, &state, err);
    if (rc == FL_OK)
        fl_info("job %s aborted before it started: %s", job_id, reason);
    return rc;
}

int coord_service_start_round_now(coord_service *service, char *job_id, uint64_t *round,
                                  size_t *site_count, fl_error *err)
{
    if (!service->has_job)
        return fl_error_set(err, FL_ESTATE,
                            "no job is active; submit one with 'fedlora job submit FILE'");
    if (service->round != NULL)
        return fl_error_set(err, FL_ESTATE, "round %d of job %s is already running (phase %s)",
                            service->state.completed_rounds + 1, service->job.id,
                            coord_phase_names[coord_round_phase(service->round)]);

    char **names = fl_xcalloc(service->site_count + 1, sizeof(char *));
    size_t count = ready_sites(service, names);
    int rc = FL_OK;
    if (count < (size_t)service->job.min_sites)
        rc = fl_error_set(err, FL_ESTATE,
                          "only %zu of the %d sites job %s needs are online and have accepted "
                          "it; 'fedlora status' shows which sites are missing or refused",
                          count, service->job.min_sites, service->job.id);
    else
        start_round(service, names, count);
    free(names);
    if (rc != FL_OK)
        return rc;
    if (service->round == NULL)
        return fl_error_set(err, FL_ESTATE,
                            "round %d of job %s could not start; the coordinator log says why",
                            service->state.completed_rounds + 1, service->job.id);

    snprintf(job_id, COORD_JOB_ID_MAX + 1, "%s", service->job.id);
    *round = (uint64_t)service->state.completed_rounds + 1;
    *site_count = count;
    fl_info("round %llu started on a researcher's request with %zu sites",
            (unsigned long long)*round, count);
    return FL_OK;
}
