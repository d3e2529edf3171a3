#include "proto_replay.h"

#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "proto_codec.h"
#include "proto_limits.h"

/* Sessions of one sender that ended, kept so their Hello cannot restart them. */
#define RETIRED_SESSIONS 8

typedef struct sender_state {
    char *sender;
    uint64_t session;
    uint64_t last_sequence;
    uint64_t retired[RETIRED_SESSIONS];
    size_t retired_count;
    size_t retired_next;
} sender_state;

struct proto_replay {
    char *job_id;
    uint64_t round;
    sender_state *senders;
    size_t sender_count;
    size_t sender_capacity;
};

proto_replay *proto_replay_new(void)
{
    return fl_xcalloc(1, sizeof(proto_replay));
}

void proto_replay_destroy(proto_replay **r)
{
    if (r == NULL || *r == NULL)
        return;
    for (size_t i = 0; i < (*r)->sender_count; i++)
        free((*r)->senders[i].sender);
    free((*r)->senders);
    free((*r)->job_id);
    free(*r);
    *r = NULL;
}

int proto_replay_set_job(proto_replay *r, const char *job_id, uint64_t round, fl_error *err)
{
    if (job_id == NULL || job_id[0] == '\0')
        return fl_error_set(err, FL_EINVAL, "replay check: job id is empty");
    free(r->job_id);
    r->job_id = fl_xstrdup(job_id);
    r->round = round;
    return FL_OK;
}

int proto_replay_set_round(proto_replay *r, uint64_t round, fl_error *err)
{
    if (round < r->round)
        return fl_error_set(err, FL_ESTATE,
                            "replay check: cannot move from round %llu back to round %llu",
                            (unsigned long long)r->round, (unsigned long long)round);
    r->round = round;
    return FL_OK;
}

uint64_t proto_replay_round(const proto_replay *r)
{
    return r->round;
}

static sender_state *find_sender(proto_replay *r, const char *sender)
{
    for (size_t i = 0; i < r->sender_count; i++) {
        if (strcmp(r->senders[i].sender, sender) == 0)
            return &r->senders[i];
    }
    return NULL;
}

static int was_retired(const sender_state *state, uint64_t session)
{
    for (size_t i = 0; i < state->retired_count; i++) {
        if (state->retired[i] == session)
            return 1;
    }
    return 0;
}

/* Checks the job and round of an envelope that names a job. */
static int check_job_and_round(const proto_replay *r, const Fedlora__Envelope *e, fl_error *err)
{
    /*
     * Hello and Heartbeat concern the session, so a site one round behind stays
     * alive. A JobDescription announces the next job, so it may name another one.
     */
    bool session_level = e->body_case == FEDLORA__ENVELOPE__BODY_HELLO ||
                         e->body_case == FEDLORA__ENVELOPE__BODY_HEARTBEAT ||
                         e->body_case == FEDLORA__ENVELOPE__BODY_JOB;
    if (r->job_id == NULL || e->job_id[0] == '\0' || session_level)
        return FL_OK;

    if (strcmp(e->job_id, r->job_id) != 0)
        return fl_error_set(err, FL_EPROTO,
                            "replay check: %s message from %s names job \"%s\", but the job in "
                            "progress is \"%s\"", proto_body_name(e->body_case), e->sender,
                            e->job_id, r->job_id);
    if (e->round < r->round)
        return fl_error_set(err, FL_EPROTO,
                            "replay check: stale message from %s: round %llu is before the "
                            "current round %llu", e->sender, (unsigned long long)e->round,
                            (unsigned long long)r->round);
    return FL_OK;
}

/* Checks session and sequence; sets *start_session when e is a Hello opening a new session. */
static int check_session(const sender_state *state, const Fedlora__Envelope *e,
                         int *start_session, fl_error *err)
{
    int is_hello = e->body_case == FEDLORA__ENVELOPE__BODY_HELLO;
    *start_session = 0;

    if (state == NULL || e->session != state->session) {
        if (!is_hello && state == NULL)
            return fl_error_set(err, FL_EPROTO,
                                "replay check: message from %s before its hello; the peer must "
                                "open a session first", e->sender);
        if (!is_hello)
            return fl_error_set(err, FL_EPROTO,
                                "replay check: message from %s belongs to session %016llx, not "
                                "to its current session %016llx; replayed or stale",
                                e->sender, (unsigned long long)e->session,
                                (unsigned long long)state->session);
        if (state != NULL && was_retired(state, e->session))
            return fl_error_set(err, FL_EPROTO,
                                "replay check: hello from %s reopens ended session %016llx; "
                                "replayed", e->sender, (unsigned long long)e->session);
        *start_session = 1;
        return FL_OK;
    }

    if (e->sequence <= state->last_sequence)
        return fl_error_set(err, FL_EPROTO,
                            "replay check: sequence %llu from %s is not above the last accepted "
                            "sequence %llu; replayed or reordered",
                            (unsigned long long)e->sequence, e->sender,
                            (unsigned long long)state->last_sequence);
    return FL_OK;
}

static sender_state *add_sender(proto_replay *r, const char *sender)
{
    if (r->sender_count == r->sender_capacity) {
        r->sender_capacity = r->sender_capacity ? 2 * r->sender_capacity : 8;
        r->senders = fl_xrealloc(r->senders, r->sender_capacity * sizeof(sender_state));
    }
    sender_state *state = &r->senders[r->sender_count++];
    memset(state, 0, sizeof(*state));
    state->sender = fl_xstrdup(sender);
    return state;
}

static void start_session(sender_state *state, uint64_t session)
{
    if (state->session != 0) {
        state->retired[state->retired_next] = state->session;
        state->retired_next = (state->retired_next + 1) % RETIRED_SESSIONS;
        if (state->retired_count < RETIRED_SESSIONS)
            state->retired_count++;
    }
    state->session = session;
    state->last_sequence = 0;
}

int proto_replay_accept(proto_replay *r, const Fedlora__Envelope *e, fl_error *err)
{
    sender_state *state = find_sender(r, e->sender);
    int new_session = 0;
    int status = check_session(state, e, &new_session, err);
    if (status == FL_OK)
        status = check_job_and_round(r, e, err);
    if (status != FL_OK)
        return status;

    if (state == NULL) {
        if (r->sender_count >= PROTO_MAX_SITES + 1)
            return fl_error_set(err, FL_ERANGE, "replay check: more than %u senders tracked",
                                PROTO_MAX_SITES + 1);
        state = add_sender(r, e->sender);
    }
    if (new_session)
        start_session(state, e->session);
    state->last_sequence = e->sequence;
    return FL_OK;
}

bool proto_replay_session_known(proto_replay *r, const char *sender, uint64_t session)
{
    const sender_state *state = find_sender(r, sender);
    return state != NULL && state->session == session;
}
