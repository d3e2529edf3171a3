/*
 * test_site: a site for the admin test. It connects to a coordinator with a
 * site key, accepts every job it is offered (MODE accept) or rejects it with
 * REFUSAL_RESEARCHER_NOT_ACCEPTED (MODE refuse), and keeps its session alive
 * with heartbeats until SIGTERM or the time limit. It trains nothing, so a
 * round it joins never completes. It lets the test see sites online, their
 * refusals and a round started by `fedlora round start` without the agent
 * daemon.
 *
 * Usage: test_site MODE ENDPOINT SITE_NAME SITE_KEY_FILE COORDINATOR_PUB_FILE SECONDS
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "fc_keys.h"
#include "fl_log.h"
#include "fl_time.h"
#include "proto_transport.h"

static volatile sig_atomic_t s_stop;

static void on_signal(int signal_number)
{
    (void)signal_number;
    s_stop = 1;
}

/* Replies to a JobDescription with a JobAccept, or a Refusal naming the job's researcher. */
static void reply_to_job(proto_link *link, const Fedlora__Envelope *job, bool accept)
{
    fl_error err = {0};
    if (proto_link_set_job(link, job->job_id, job->round, &err) != FL_OK) {
        fl_error("test_site: %s", err.msg);
        return;
    }
    if (accept) {
        Fedlora__JobAccept accepted = FEDLORA__JOB_ACCEPT__INIT;
        accepted.example_count = 100;
        Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
        envelope.body_case = FEDLORA__ENVELOPE__BODY_JOB_ACCEPT;
        envelope.job_accept = &accepted;
        if (proto_link_send(link, NULL, &envelope, &err) != FL_OK)
            fl_error("test_site: sending the acceptance failed: %s", err.msg);
        return;
    }

    char detail[256];
    snprintf(detail, sizeof(detail), "researcher %s is not in this site's accepted_researchers",
             job->job->researcher);
    Fedlora__Refusal refusal = FEDLORA__REFUSAL__INIT;
    refusal.reason = FEDLORA__REFUSAL_REASON__REFUSAL_RESEARCHER_NOT_ACCEPTED;
    refusal.detail = detail;
    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_REFUSAL;
    envelope.refusal = &refusal;
    if (proto_link_send(link, NULL, &envelope, &err) != FL_OK)
        fl_error("test_site: sending the refusal failed: %s", err.msg);
}

static int serve(proto_link *link, bool accept, double seconds)
{
    double end = fl_time_monotonic() + seconds;
    while (!s_stop && fl_time_monotonic() < end) {
        fl_error err = {0};
        proto_message message;
        int rc = proto_link_recv(link, 100, &message, &err);
        if (rc == FL_OK) {
            if (message.envelope->body_case == FEDLORA__ENVELOPE__BODY_JOB)
                reply_to_job(link, message.envelope, accept);
            proto_message_release(&message);
        } else if (rc == FL_ENET) {
            fl_error("test_site: %s", err.msg);
            return 1;
        }
        if (proto_link_tick(link, NULL, NULL, &err) == FL_ENET)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    fl_log_set_role("test_site");
    if (argc != 7 || (strcmp(argv[1], "accept") != 0 && strcmp(argv[1], "refuse") != 0)) {
        fprintf(stderr, "usage: test_site accept|refuse ENDPOINT SITE_NAME SITE_KEY_FILE "
                        "COORDINATOR_PUB_FILE SECONDS\n");
        return 2;
    }
    bool accept = strcmp(argv[1], "accept") == 0;
    argv++; /* the remaining arguments keep the positions of the usage line without MODE */
    signal(SIGTERM, on_signal);

    fl_error err = {0};
    fc_identity *identity = NULL;
    fc_public_identity own, coordinator;
    void *context = zmq_ctx_new();
    proto_link *link = NULL;
    int status = 1;
    if (fc_init() != FL_OK || fc_identity_load(argv[3], &identity, &err) != FL_OK ||
        fc_public_identity_load(argv[4], &coordinator, &err) != FL_OK) {
        fl_error("test_site: %s", err.msg);
        goto destroy_context;
    }
    fc_identity_public(identity, &own);

    proto_link_options options;
    proto_link_options_default(&options);
    if (proto_client_new(context, argv[1], coordinator.curve_public, own.curve_public,
                         fc_identity_curve_secret(identity), argv[2], &options, &link,
                         &err) != FL_OK) {
        fl_error("test_site: %s", err.msg);
        goto destroy_context;
    }
    status = serve(link, accept, atof(argv[5]));
    proto_link_destroy(&link);

destroy_context:
    fc_identity_destroy(&identity);
    zmq_ctx_term(context);
    return status;
}
