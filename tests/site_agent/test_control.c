/* Tests of how a site distinguishes repeated round control messages from new ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent_control.h"
#include "proto_fixture.h"

/* Starts control on the fixture's RoundStart (round 1, attempt 1). */
static void start_round(agent_control *control, proto_fixture *round_start)
{
    memset(control, 0, sizeof(*control));
    proto_fixture_init(round_start, FEDLORA__ENVELOPE__BODY_ROUND_START);
    round_start->round_start.attempt = 1;
    agent_control_start(control, NULL, &round_start->envelope);
}

static void test_resent_round_start_is_copy(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture first, resent;
    start_round(&control, &first);
    assert_int_equal(control.received, 1);
    assert_int_equal(control.replied, 0);

    /* A resend is a new envelope: another sequence number, the same body. */
    proto_fixture_init(&resent, FEDLORA__ENVELOPE__BODY_ROUND_START);
    resent.round_start.attempt = 1;
    resent.envelope.sequence += 10;
    assert_true(agent_control_is_duplicate(&control, NULL, &resent.envelope));
    agent_control_release(&control, NULL);
}

static void test_new_attempt_not_copy(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture first, retry;
    start_round(&control, &first);

    proto_fixture_init(&retry, FEDLORA__ENVELOPE__BODY_ROUND_START);
    retry.round_start.attempt = 2;
    assert_false(agent_control_is_duplicate(&control, NULL, &retry.envelope));
    agent_control_release(&control, NULL);
}

static void test_restarted_coordinator_not_copy(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture first, restarted;
    start_round(&control, &first);

    /* A restarted coordinator sends the same round and attempt with a new deadline. */
    proto_fixture_init(&restarted, FEDLORA__ENVELOPE__BODY_ROUND_START);
    restarted.round_start.attempt = 1;
    restarted.round_start.deadline_unix_ms += 60000;
    assert_false(agent_control_is_duplicate(&control, NULL, &restarted.envelope));
    agent_control_release(&control, NULL);
}

static void test_steps_advance_in_order(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture round_start, key_list, relay, unmask;
    start_round(&control, &round_start);
    proto_fixture_init(&key_list, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    proto_fixture_init(&relay, FEDLORA__ENVELOPE__BODY_SHARE_KEYS);
    proto_fixture_init(&unmask, FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST);

    /* A step that skips one is not recorded. */
    agent_control_received(&control, NULL, &relay.envelope);
    assert_int_equal(control.received, 1);
    assert_false(agent_control_is_duplicate(&control, NULL, &key_list.envelope));

    agent_control_received(&control, NULL, &key_list.envelope);
    assert_int_equal(control.received, 2);
    assert_true(agent_control_is_duplicate(&control, NULL, &key_list.envelope));
    assert_true(agent_control_is_duplicate(&control, NULL, &round_start.envelope));
    assert_false(agent_control_is_duplicate(&control, NULL, &relay.envelope));

    agent_control_received(&control, NULL, &relay.envelope);
    agent_control_received(&control, NULL, &unmask.envelope);
    assert_int_equal(control.received, 4);
    assert_true(agent_control_is_duplicate(&control, NULL, &unmask.envelope));
    agent_control_release(&control, NULL);
}

static void test_other_round_not_copy(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture round_start, key_list;
    start_round(&control, &round_start);
    proto_fixture_init(&key_list, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    agent_control_received(&control, NULL, &key_list.envelope);

    key_list.envelope.round = 2;
    assert_false(agent_control_is_duplicate(&control, NULL, &key_list.envelope));
    agent_control_release(&control, NULL);
}

static void test_replies_kept_per_step(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture round_start, metrics, advertise, key_list, shares;
    start_round(&control, &round_start);
    proto_fixture_init(&metrics, FEDLORA__ENVELOPE__BODY_METRICS);
    proto_fixture_init(&advertise, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    proto_fixture_init(&key_list, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    proto_fixture_init(&shares, FEDLORA__ENVELOPE__BODY_SHARE_KEYS);

    agent_control_replied(&control, NULL, &metrics.envelope);
    agent_control_replied(&control, NULL, &advertise.envelope);
    assert_int_equal(control.replied, 1);
    assert_int_equal(control.reply_count, 2);

    /* The reply to the next step replaces the kept ones. */
    agent_control_received(&control, NULL, &key_list.envelope);
    agent_control_replied(&control, NULL, &shares.envelope);
    assert_int_equal(control.replied, 2);
    assert_int_equal(control.reply_count, 1);

    agent_control_release(&control, NULL);
    assert_int_equal(control.reply_count, 0);
    assert_int_equal(control.round, 0);
}

static void test_abort_becomes_reply(void **state)
{
    (void)state;
    agent_control control;
    proto_fixture round_start, metrics, advertise, key_list, abort;
    start_round(&control, &round_start);
    proto_fixture_init(&metrics, FEDLORA__ENVELOPE__BODY_METRICS);
    proto_fixture_init(&advertise, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    proto_fixture_init(&key_list, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    proto_fixture_init(&abort, FEDLORA__ENVELOPE__BODY_ABORT);
    agent_control_replied(&control, NULL, &metrics.envelope);
    agent_control_replied(&control, NULL, &advertise.envelope);

    /* The site fails while working on the key list, before it replied. */
    agent_control_received(&control, NULL, &key_list.envelope);
    agent_control_failed(&control, NULL, &abort.envelope);
    assert_int_equal(control.replied, 2);
    assert_int_equal(control.reply_count, 1);

    /* Failing again after a reply to the same step leaves the Abort alone. */
    agent_control_failed(&control, NULL, &abort.envelope);
    assert_int_equal(control.replied, 2);
    assert_int_equal(control.reply_count, 1);
    agent_control_release(&control, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resent_round_start_is_copy),
        cmocka_unit_test(test_new_attempt_not_copy),
        cmocka_unit_test(test_restarted_coordinator_not_copy),
        cmocka_unit_test(test_steps_advance_in_order),
        cmocka_unit_test(test_other_round_not_copy),
        cmocka_unit_test(test_replies_kept_per_step),
        cmocka_unit_test(test_abort_becomes_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
