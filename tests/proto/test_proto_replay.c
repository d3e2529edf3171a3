/* Tests of the replay, reorder and stale-round checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto_fixture.h"
#include "proto_replay.h"

/* Sends f's envelope with the given body, session and sequence through r. */
static int offer(proto_replay *r, Fedlora__Envelope__BodyCase body, uint64_t session,
                 uint64_t sequence, uint64_t round, fl_error *err)
{
    proto_fixture f;
    proto_fixture_init(&f, body);
    f.envelope.session = session;
    f.envelope.sequence = sequence;
    f.envelope.round = round;
    assert_int_equal(proto_validate_envelope(&f.envelope, NULL), FL_OK);
    return proto_replay_accept(r, &f.envelope, err);
}

static void test_increasing_sequence_accepted(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    assert_int_equal(proto_replay_set_job(r, "job-2026-12", 1, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 1, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 11, 2, 1, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 5, 1, NULL), FL_OK);
    proto_replay_destroy(&r);
    assert_null(r);
}

static void test_replayed_sequence_rejected(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    fl_error err = {0};
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 0, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 4, 0, NULL), FL_OK);

    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 4, 0, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "sequence 4 from hospital-a is not above the last "
                                    "accepted sequence 4"));
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 3, 0, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "replayed or reordered"));

    /* A rejected message leaves the state alone, so the next real one passes. */
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 5, 0, NULL), FL_OK);
    proto_replay_destroy(&r);
}

static void test_earlier_round_rejected(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    fl_error err = {0};
    assert_int_equal(proto_replay_set_job(r, "job-2026-12", 1, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 1, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 2, 1, NULL), FL_OK);

    assert_int_equal(proto_replay_set_round(r, 2, NULL), FL_OK);
    assert_int_equal(proto_replay_round(r), 2);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 3, 1, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "stale message from hospital-a: round 1 is before the "
                                    "current round 2"));
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 4, 2, NULL), FL_OK);

    /* A heartbeat from a site still in round 1 keeps it alive. */
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 11, 5, 1, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 11, 5, 2, &err), FL_EPROTO);

    assert_int_equal(proto_replay_set_round(r, 1, &err), FL_ESTATE);
    assert_non_null(strstr(err.msg, "back to round 1"));
    proto_replay_destroy(&r);
}

static void test_other_job_rejected(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    fl_error err = {0};
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 0, NULL), FL_OK);
    assert_int_equal(proto_replay_set_job(r, "job-other", 0, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_METRICS, 11, 2, 0, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "names job \"job-2026-12\", but the job in progress is "
                                    "\"job-other\""));
    assert_int_equal(proto_replay_set_job(r, "", 0, NULL), FL_EINVAL);
    proto_replay_destroy(&r);
}

static void test_next_job_description_accepted(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    fl_error err = {0};
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 0, NULL), FL_OK);
    assert_int_equal(proto_replay_set_job(r, "job-other", 5, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_JOB, 11, 2, 0, &err), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_ROUND_START, 11, 3, 0, &err), FL_EPROTO);
    proto_replay_destroy(&r);
}

static void test_message_before_hello_rejected(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    fl_error err = {0};
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 11, 1, 0, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "before its hello"));
    proto_replay_destroy(&r);
}

static void test_new_session_restarts_sequence(void **state)
{
    (void)state;
    proto_replay *r = proto_replay_new();
    fl_error err = {0};
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 0, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 11, 9, 0, NULL), FL_OK);

    /* The peer restarted: a Hello with a new session starts again at 1. */
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 22, 1, 0, NULL), FL_OK);
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 22, 2, 0, NULL), FL_OK);

    /* Messages and a Hello of the old session are now replays. */
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HEARTBEAT, 11, 10, 0, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "session 000000000000000b, not to its current session "
                                    "0000000000000016"));
    assert_int_equal(offer(r, FEDLORA__ENVELOPE__BODY_HELLO, 11, 1, 0, &err), FL_EPROTO);
    assert_non_null(strstr(err.msg, "reopens ended session 000000000000000b"));
    proto_replay_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_increasing_sequence_accepted),
        cmocka_unit_test(test_replayed_sequence_rejected),
        cmocka_unit_test(test_earlier_round_rejected),
        cmocka_unit_test(test_other_job_rejected),
        cmocka_unit_test(test_next_job_description_accepted),
        cmocka_unit_test(test_message_before_hello_rejected),
        cmocka_unit_test(test_new_session_restarts_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
