#include "agent_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "agent_audit.h"
#include "agent_job.h"
#include "agent_policy.h"
#include "agent_round.h"
#include "fc_model_hash.h"
#include "fl_file.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "proto_codec.h"
#include "proto_transfer.h"

#define POLL_MS 50

/*
 * Aborted rounds whose trainer process may still be stopping. More than a
 * few at once means rounds are aborted faster than processes stop; the
 * oldest is then stopped with a blocking wait.
 */
#define STOPPING_MAX 8

struct agent_service {
    agent_setup *setup;
    uint8_t model_hash[FC_MODEL_HASH_BYTES];
    agent_audit *audit;
    void *zmq;
    proto_link *link;
    char work_root[4096];
    proto_transfer_options transfer;
    uint64_t examples;

    bool has_job;
    agent_job job;
    agent_round *round;
    uint64_t rounds_started;  /* numbers the rounds' work folders */
    agent_round *stopping[STOPPING_MAX]; /* aborted rounds waiting for their trainer to exit */
    size_t stopping_count;
    /* The last round this site completed, kept until the next RoundStart because a
     * restarted coordinator repeats the RoundStart of a round it did not record. */
    agent_round *finished_round;
    agent_control control; /* control messages of the latest round attempt */
    bool audit_failed;     /* an entry could not be written: the agent stops */
};

/* Records every outbound message in the audit log. */
static void audit_sent(const Fedlora__Envelope *envelope, const uint8_t *bytes, size_t length,
                       void *context)
{
    agent_service *service = context;
    fl_error err = {0};
    if (agent_audit_message(service->audit, envelope->job_id, (int64_t)envelope->round,
                            proto_body_name(envelope->body_case), bytes, length, &err) != FL_OK) {
        fl_error("audit log: %s", err.msg);
        service->audit_failed = true;
    }
}

static void audit_decision(agent_service *service, const char *job, int64_t round,
                           const char *decision, const char *reason, const char *detail)
{
    fl_error err = {0};
    if (agent_audit_decision(service->audit, job, round, decision, reason, detail, &err) !=
        FL_OK) {
        fl_error("audit log: %s", err.msg);
        service->audit_failed = true;
    }
}

static Fedlora__RefusalReason refusal_code(agent_policy_reason reason)
{
    switch (reason) {
    case AGENT_POLICY_RESEARCHER_NOT_ACCEPTED:
        return FEDLORA__REFUSAL_REASON__REFUSAL_RESEARCHER_NOT_ACCEPTED;
    case AGENT_POLICY_BASE_MODEL_MISMATCH:
        return FEDLORA__REFUSAL_REASON__REFUSAL_BASE_MODEL_MISMATCH;
    case AGENT_POLICY_SECURE_AGGREGATION_REQUIRED:
        return FEDLORA__REFUSAL_REASON__REFUSAL_SECURE_AGGREGATION_REQUIRED;
    case AGENT_POLICY_TOO_FEW_SITES: return FEDLORA__REFUSAL_REASON__REFUSAL_TOO_FEW_SITES;
    case AGENT_POLICY_TOO_MANY_LOCAL_STEPS:
        return FEDLORA__REFUSAL_REASON__REFUSAL_TOO_MANY_LOCAL_STEPS;
    case AGENT_POLICY_CLIP_BOUND_TOO_LARGE:
        return FEDLORA__REFUSAL_REASON__REFUSAL_CLIP_BOUND_TOO_LARGE;
    case AGENT_POLICY_DATA_PATH_NOT_ALLOWED:
        return FEDLORA__REFUSAL_REASON__REFUSAL_DATA_PATH_NOT_ALLOWED;
    default: return FEDLORA__REFUSAL_REASON__REFUSAL_POLICY_OTHER;
    }
}

static void send(agent_service *service, Fedlora__Envelope *envelope)
{
    fl_error err = {0};
    if (proto_link_send(service->link, NULL, envelope, &err) != FL_OK)
        fl_warn("sending %s failed: %s", proto_body_name(envelope->body_case), err.msg);
}

static void send_refusal(agent_service *service, Fedlora__RefusalReason reason,
                         const char *detail)
{
    Fedlora__Refusal refusal = FEDLORA__REFUSAL__INIT;
    refusal.reason = reason;
    refusal.detail = (char *)detail;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_REFUSAL;
    envelope.refusal = &refusal;
    send(service, &envelope);
}

static void send_accept(agent_service *service)
{
    Fedlora__JobAccept accept = FEDLORA__JOB_ACCEPT__INIT;
    accept.example_count = service->examples;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_JOB_ACCEPT;
    envelope.job_accept = &accept;
    send(service, &envelope);
}

static agent_job_terms terms_of(const Fedlora__Envelope *e, uint32_t selected_sites)
{
    const Fedlora__JobDescription *d = e->job;
    agent_job_terms terms = {
        .job_id = e->job_id,
        .researcher = d->researcher,
        .base_model_hash = d->base_model_hash.data,
        .secure_aggregation = d->secagg->enabled,
        .min_sites = d->min_sites_per_round,
        .selected_sites = selected_sites,
        .local_steps = d->local_steps,
        .clip_bound = d->secagg->clip_bound,
    };
    return terms;
}

/*
 * Aborts the current round, if any, with reason, and sends SIGTERM to its
 * trainer process. The service loop reaps the process (SIGKILL after
 * stop_timeout) and then deletes the round's work folder, so heartbeats go
 * on meanwhile.
 */
static void retire_round(agent_service *service, const char *reason)
{
    agent_round *round = service->round;
    service->round = NULL;
    if (round == NULL)
        return;
    proto_link_set_state(service->link, FEDLORA__AGENT_STATE__AGENT_STATE_IDLE);
    agent_round_abort(round, reason);
    if (agent_round_reap(round, service->setup->config.stop_timeout)) {
        agent_round_destroy(&round);
        return;
    }
    if (service->stopping_count == STOPPING_MAX) {
        agent_round_destroy(&service->stopping[0]);
        memmove(&service->stopping[0], &service->stopping[1],
                (STOPPING_MAX - 1) * sizeof(service->stopping[0]));
        service->stopping_count--;
    }
    service->stopping[service->stopping_count++] = round;
}

/* Frees the aborted rounds whose trainer process has exited or was killed. */
static void reap_stopping(agent_service *service)
{
    size_t kept = 0;
    for (size_t i = 0; i < service->stopping_count; i++) {
        agent_round *round = service->stopping[i];
        if (agent_round_reap(round, service->setup->config.stop_timeout))
            agent_round_destroy(&round);
        else
            service->stopping[kept++] = round;
    }
    service->stopping_count = kept;
}

static void forget_job(agent_service *service, const char *reason)
{
    retire_round(service, reason);
    agent_round_destroy(&service->finished_round);
    agent_control_release(&service->control, service->link);
    if (service->has_job)
        agent_job_release(&service->job);
    service->has_job = false;
    fl_log_set_context(NULL, -1, service->setup->config.site_id);
}

/* Applies the policy to a JobDescription; takes the envelope when the job is accepted. */
static void on_job(agent_service *service, proto_message *message)
{
    Fedlora__Envelope *e = message->envelope;
    if (service->has_job && strcmp(service->job.id, e->job_id) == 0) {
        /* The coordinator repeats the job after every Hello. A restarted coordinator has
         * forgotten which sites accepted, so the acceptance is repeated too. */
        send_accept(service);
        return;
    }
    forget_job(service, "the coordinator offers another job");

    /* Replies about this job, a refusal too, must carry its id and round, or the coordinator's
     * replay check takes them for leftovers of the previous job. */
    fl_error err = {0};
    if (proto_link_set_job(service->link, e->job_id, e->round, &err) != FL_OK)
        fl_warn("cannot set job %s on the link: %s", e->job_id, err.msg);

    agent_job_terms terms = terms_of(e, 0);
    agent_policy_decision decision;
    if (!agent_policy_check(&service->setup->config, service->model_hash, &terms, &decision)) {
        fl_warn("rejected job %s: %s", e->job_id, decision.detail);
        audit_decision(service, e->job_id, 0, "rejected",
                       agent_policy_reason_names[decision.reason], decision.detail);
        send_refusal(service, refusal_code(decision.reason), decision.detail);
        return;
    }

    if (agent_job_init(&service->job, e, service->setup->config.base_model_dir, &err) != FL_OK) {
        /* agent_job_init took the envelope; release it with the job. */
        agent_job_release(&service->job);
        message->envelope = NULL;
        fl_warn("rejected job: %s", err.msg);
        send_refusal(service, FEDLORA__REFUSAL_REASON__REFUSAL_LORA_SETTINGS, err.msg);
        return;
    }
    message->envelope = NULL;
    service->has_job = true;
    fl_log_set_context(service->job.id, -1, service->setup->config.site_id);
    audit_decision(service, service->job.id, 0, "accepted", "accepted", decision.detail);
    fl_info("accepted job %s from researcher %s", service->job.id, service->job.desc->researcher);
    send_accept(service);
}

/*
 * Continues the round in progress, or the round this site last completed,
 * when e repeats its RoundStart. Returns false when the round starts afresh.
 */
static bool resume_round(agent_service *service, const Fedlora__Envelope *e)
{
    agent_round **candidate = service->round != NULL ? &service->round : &service->finished_round;
    if (*candidate == NULL || agent_round_number(*candidate) != e->round)
        return false;
    /* A later copy of this RoundStart requests the resumed round's replies to it. */
    agent_control_start(&service->control, service->link, e);
    fl_error err = {0};
    if (agent_round_resume(*candidate, e->round_start, &err) != FL_OK) {
        fl_info("round %llu starts afresh: %s", (unsigned long long)e->round, err.msg);
        return false;
    }
    if (candidate == &service->finished_round) {
        service->round = service->finished_round;
        service->finished_round = NULL;
    }
    return true;
}

static void on_round_start(agent_service *service, const Fedlora__Envelope *e)
{
    if (!service->has_job || strcmp(e->job_id, service->job.id) != 0) {
        fl_warn("ignored RoundStart of job %s, which this site has not accepted", e->job_id);
        return;
    }
    const Fedlora__RoundStart *start = e->round_start;
    agent_job_terms terms = terms_of(service->job.envelope, (uint32_t)start->n_selected_sites);
    agent_policy_decision decision;
    if (!agent_policy_check(&service->setup->config, service->model_hash, &terms, &decision)) {
        fl_warn("rejected round %llu: %s", (unsigned long long)e->round, decision.detail);
        audit_decision(service, e->job_id, (int64_t)e->round, "rejected",
                       agent_policy_reason_names[decision.reason], decision.detail);
        send_refusal(service, refusal_code(decision.reason), decision.detail);
        return;
    }

    if (resume_round(service, e))
        return;

    /* A new RoundStart supersedes the round in progress (a retry, or a restarted coordinator). */
    retire_round(service, "a new round start supersedes this round");
    agent_round_destroy(&service->finished_round);
    fl_error err = {0};
    fl_log_set_context(service->job.id, (int64_t)e->round, service->setup->config.site_id);
    if (proto_link_set_job(service->link, service->job.id, e->round, &err) != FL_OK)
        fl_warn("cannot move the link to round %llu: %s", (unsigned long long)e->round, err.msg);

    agent_round_context context = {
        .link = service->link,
        .setup = service->setup,
        .job = &service->job,
        .work_root = service->work_root,
        .instance = ++service->rounds_started,
        .chunk_size = PROTO_DEFAULT_CHUNK,
        .transfer = service->transfer,
        .control = &service->control,
    };
    if (agent_round_start(&service->round, &context, e->round, start, &err) != FL_OK) {
        fl_warn("cannot take part in round %llu: %s", (unsigned long long)e->round, err.msg);
        audit_decision(service, e->job_id, (int64_t)e->round, "rejected", "round_setup",
                       err.msg);
        send_refusal(service, FEDLORA__REFUSAL_REASON__REFUSAL_POLICY_OTHER, err.msg);
        return;
    }
    agent_control_start(&service->control, service->link, e);
}

/* Audit reason code of an Abort from the coordinator. */
static const char *abort_reason_code(Fedlora__AbortReason reason)
{
    switch (reason) {
    case FEDLORA__ABORT_REASON__ABORT_JOB_FINISHED: return "job_finished";
    case FEDLORA__ABORT_REASON__ABORT_OPERATOR: return "operator_abort";
    default: return "coordinator_abort";
    }
}

/*
 * Stops the round of the job the Abort names. ABORT_JOB_FINISHED also
 * releases the job. An Abort of a job this site does not hold is a repeat
 * (the coordinator repeats aborts until heartbeats show the site idle) and
 * is ignored.
 */
static void on_abort(agent_service *service, const Fedlora__Envelope *e)
{
    const Fedlora__Abort *abort_body = e->abort;
    if (!service->has_job || strcmp(e->job_id, service->job.id) != 0) {
        fl_debug("ignored an abort of job %s, which this site does not hold", e->job_id);
        return;
    }
    audit_decision(service, e->job_id, (int64_t)e->round, "aborted",
                   abort_reason_code(abort_body->reason), abort_body->detail);
    if (abort_body->reason == FEDLORA__ABORT_REASON__ABORT_JOB_FINISHED) {
        fl_info("job %s finished: %s", e->job_id, abort_body->detail);
        forget_job(service, abort_body->detail);
        return;
    }
    agent_round_destroy(&service->finished_round);
    if (service->round != NULL) {
        fl_warn("the coordinator aborted round %llu: %s", (unsigned long long)e->round,
                abort_body->detail);
        retire_round(service, abort_body->detail);
    }
}

static void dispatch(agent_service *service, proto_message *message)
{
    const Fedlora__Envelope *e = message->envelope;
    if (agent_control_is_duplicate(&service->control, service->link, e))
        return;
    /* Recorded first, because the round may reply to it at once. */
    if (service->round != NULL && e->body_case != FEDLORA__ENVELOPE__BODY_ROUND_START)
        agent_control_received(&service->control, service->link, e);

    bool handled = false;
    if (service->round != NULL)
        agent_round_on_message(service->round, message, &handled);
    if (handled)
        return;

    switch (e->body_case) {
    case FEDLORA__ENVELOPE__BODY_HELLO: fl_info("connected to the coordinator"); break;
    case FEDLORA__ENVELOPE__BODY_JOB: on_job(service, message); break;
    case FEDLORA__ENVELOPE__BODY_ROUND_START: on_round_start(service, e); break;
    case FEDLORA__ENVELOPE__BODY_ABORT: on_abort(service, e); break;
    case FEDLORA__ENVELOPE__BODY_HEARTBEAT: break;
    case FEDLORA__ENVELOPE__BODY_ERROR:
        fl_warn("the coordinator reports an error: %s", e->error->detail);
        break;
    default:
        fl_debug("ignored %s outside its phase", proto_body_name(e->body_case));
        break;
    }
}

/*
 * Keeps a completed round for a repeated RoundStart. Tells the coordinator
 * that this site's part of a failed round failed, then frees that round.
 */
static void finish_round(agent_service *service)
{
    agent_round_phase phase = agent_round_phase_of(service->round);
    if (phase == AGENT_ROUND_DONE) {
        agent_round_destroy(&service->finished_round);
        service->finished_round = service->round;
        service->round = NULL;
        proto_link_set_state(service->link, FEDLORA__AGENT_STATE__AGENT_STATE_IDLE);
        return;
    }
    if (phase == AGENT_ROUND_FAILED) {
        Fedlora__Abort abort_body = FEDLORA__ABORT__INIT;
        abort_body.reason = FEDLORA__ABORT_REASON__ABORT_INTERNAL_ERROR;
        abort_body.detail = (char *)agent_round_failure(service->round);
        Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
        envelope.body_case = FEDLORA__ENVELOPE__BODY_ABORT;
        envelope.abort = &abort_body;
        send(service, &envelope);
        agent_control_failed(&service->control, service->link, &envelope);
    }
    retire_round(service, "the round ended");
}

int agent_service_run(agent_service *service, volatile sig_atomic_t *stop)
{
    fl_info("connecting to %s", proto_link_endpoint(service->link));
    while (!*stop) {
        if (service->audit_failed) {
            fl_error("stopping: the audit log cannot be written, and nothing may leave the "
                     "site unrecorded; free space or fix the permissions of %s, then restart",
                     service->setup->config.audit_log);
            return FL_EIO;
        }
        fl_error err = {0};
        proto_message message;
        int rc = proto_link_recv(service->link, POLL_MS, &message, &err);
        if (rc == FL_OK) {
            dispatch(service, &message);
            proto_message_release(&message);
        } else if (rc == FL_ENET) {
            fl_error("the connection failed: %s", err.msg);
            return rc;
        }
        if (proto_link_tick(service->link, NULL, NULL, &err) == FL_ENET) {
            fl_error("the connection failed: %s", err.msg);
            return FL_ENET;
        }
        reap_stopping(service);
        if (service->round != NULL) {
            agent_round_poll(service->round);
            agent_round_phase phase = agent_round_phase_of(service->round);
            if (phase == AGENT_ROUND_DONE || phase == AGENT_ROUND_FAILED)
                finish_round(service);
        }
    }
    fl_info("stopping on request");
    return FL_OK;
}

static int connect_link(agent_service *service, fl_error *err)
{
    service->zmq = zmq_ctx_new();
    if (service->zmq == NULL)
        return fl_error_set(err, FL_ENET, "cannot create a ZeroMQ context");
    const agent_setup *setup = service->setup;
    proto_link_options options;
    proto_link_options_default(&options);
    int rc = proto_client_new(service->zmq, setup->config.endpoint,
                              setup->manifest->coordinator.keys.curve_public,
                              setup->self->keys.curve_public,
                              fc_identity_curve_secret(setup->identity), setup->config.site_id,
                              &options, &service->link, err);
    if (rc == FL_OK)
        proto_link_on_sent(service->link, audit_sent, service);
    return rc;
}

int agent_service_new(agent_service **out, agent_setup *setup, fl_error *err)
{
    *out = NULL;
    agent_service *service = fl_xcalloc(1, sizeof(*service));
    service->setup = setup;
    proto_transfer_options_default(&service->transfer);
    fl_log_set_context(NULL, -1, setup->config.site_id);

    const agent_config *config = &setup->config;
    int rc = fl_path_format(service->work_root, sizeof(service->work_root), "%s/work",
                            config->state_dir) == FL_OK
                 ? fl_file_mkdirs(service->work_root, 0700, err)
                 : fl_error_set(err, FL_ERANGE, "state_dir path too long");
    if (rc == FL_OK)
        agent_round_remove_leftovers(service->work_root);
    if (rc == FL_OK) {
        fl_info("hashing the base model in %s", config->base_model_dir);
        rc = fc_model_hash(config->base_model_dir, service->model_hash, err);
    }
    if (rc == FL_OK)
        rc = agent_audit_open(&service->audit, config->audit_log, err);
    if (rc == FL_OK)
        rc = connect_link(service, err);
    if (rc != FL_OK) {
        agent_service_destroy(&service);
        return rc;
    }
    service->examples = agent_job_count_examples((const char *const *)config->train_files.items,
                                                 config->train_files.count);
    *out = service;
    return FL_OK;
}

void agent_service_destroy(agent_service **service)
{
    if (service == NULL || *service == NULL)
        return;
    agent_service *s = *service;
    forget_job(s, "the agent is stopping");
    for (size_t i = 0; i < s->stopping_count; i++)
        agent_round_destroy(&s->stopping[i]);
    proto_link_destroy(&s->link);
    if (s->zmq != NULL)
        zmq_ctx_term(s->zmq);
    agent_audit_destroy(&s->audit);
    free(s);
    *service = NULL;
}
