/* Tests of the site's local policy decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_policy.h"

static const uint8_t s_hash[32] = {1, 2, 3};
static const uint8_t s_other_hash[32] = {9, 9, 9};

static void load_config(agent_config *config, const char *policy)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "[agent]\nsite_id = a\n[project]\nendpoint = tcp://127.0.0.1:1\n"
             "manifest_file = m.json\nproject_public_key = x\n[keys]\nkey_file = k\n"
             "[data]\ntrain_files = /tmp/t.jsonl\nbase_model_dir = /models/base\n"
             "[policy]\naccepted_researchers = alice, bob\n%s",
             policy);
    memset(config, 0, sizeof(*config));
    fl_error err = {0};
    assert_int_equal(fl_config_parse(agent_config_keys, agent_config_key_count, "agent.conf",
                                     text, strlen(text), config, &err),
                     FL_OK);
}

static agent_job_terms default_terms(void)
{
    agent_job_terms terms = {
        .job_id = "job-1",
        .researcher = "alice",
        .base_model_hash = s_hash,
        .secure_aggregation = true,
        .min_sites = 3,
        .local_steps = 100,
        .clip_bound = 0.5,
    };
    return terms;
}

static void test_acceptable_job_accepted(void **state)
{
    (void)state;
    agent_config config;
    load_config(&config, "");
    agent_job_terms terms = default_terms();
    agent_policy_decision decision;
    assert_true(agent_policy_check(&config, s_hash, &terms, &decision));
    assert_int_equal(decision.reason, AGENT_POLICY_ACCEPTED);
    agent_config_release(&config);
}

static void test_each_rule_rejects(void **state)
{
    (void)state;
    agent_config config;
    load_config(&config, "min_sites = 4\nmax_local_steps = 50\nclip_bound = 0.1\n");
    agent_policy_decision decision;

    agent_job_terms terms = default_terms();
    terms.min_sites = 4;
    terms.local_steps = 50;
    terms.clip_bound = 0.1;
    assert_true(agent_policy_check(&config, s_hash, &terms, &decision));

    struct {
        agent_job_terms terms;
        const uint8_t *local_hash;
        agent_policy_reason reason;
        const char *detail;
    } cases[8];
    size_t count = 0;
    for (size_t i = 0; i < 7; i++) {
        cases[i].terms = terms;
        cases[i].local_hash = s_hash;
    }
    cases[count].terms.researcher = "mallory";
    cases[count].reason = AGENT_POLICY_RESEARCHER_NOT_ACCEPTED;
    cases[count++].detail = "'mallory'";
    cases[count].local_hash = s_other_hash;
    cases[count].reason = AGENT_POLICY_BASE_MODEL_MISMATCH;
    cases[count++].detail = "/models/base";
    cases[count].terms.secure_aggregation = false;
    cases[count].reason = AGENT_POLICY_SECURE_AGGREGATION_REQUIRED;
    cases[count++].detail = "secure aggregation";
    cases[count].terms.min_sites = 3;
    cases[count].reason = AGENT_POLICY_TOO_FEW_SITES;
    cases[count++].detail = "minimum of 4";
    cases[count].terms.selected_sites = 3;
    cases[count].reason = AGENT_POLICY_TOO_FEW_SITES;
    cases[count++].detail = "aggregates 3 sites";
    cases[count].terms.local_steps = 51;
    cases[count].reason = AGENT_POLICY_TOO_MANY_LOCAL_STEPS;
    cases[count++].detail = "at most 50";
    cases[count].terms.clip_bound = 0.2;
    cases[count].reason = AGENT_POLICY_CLIP_BOUND_TOO_LARGE;
    cases[count++].detail = "at most 0.1";

    for (size_t i = 0; i < count; i++) {
        if (agent_policy_check(&config, cases[i].local_hash, &cases[i].terms, &decision))
            fail_msg("case %zu accepted", i);
        assert_int_equal(decision.reason, cases[i].reason);
        if (strstr(decision.detail, cases[i].detail) == NULL)
            fail_msg("case %zu: expected '%s' in: %s", i, cases[i].detail, decision.detail);
    }
    agent_config_release(&config);
}

static void test_data_outside_allowed_paths(void **state)
{
    (void)state;
    char folder[] = "/tmp/fl_test_policy.XXXXXX";
    assert_non_null(mkdtemp(folder));
    char inside[200], outside[300], policy[600];
    snprintf(inside, sizeof(inside), "%s/allowed", folder);
    assert_int_equal(mkdir(inside, 0700), 0);
    snprintf(outside, sizeof(outside), "%s/data.jsonl", folder);
    FILE *file = fopen(outside, "w");
    fclose(file);

    agent_config config;
    snprintf(policy, sizeof(policy), "allowed_data_paths = %s\n", inside);
    load_config(&config, policy);
    free(config.train_files.items[0]);
    config.train_files.items[0] = strdup(outside);
    fl_error err = {0};
    assert_int_equal(agent_policy_check_data_paths(&config, &err), FL_EPERM);
    assert_non_null(strstr(err.msg, "allowed_data_paths"));
    agent_config_release(&config);

    char link[300];
    snprintf(link, sizeof(link), "%s/link.jsonl", inside);
    assert_int_equal(symlink(outside, link), 0);
    load_config(&config, policy);
    free(config.train_files.items[0]);
    config.train_files.items[0] = strdup(link);
    assert_int_equal(agent_policy_check_data_paths(&config, &err), FL_EPERM);
    agent_config_release(&config);

    char moved[300];
    snprintf(moved, sizeof(moved), "%s/data.jsonl", inside);
    assert_int_equal(rename(outside, moved), 0);
    load_config(&config, policy);
    free(config.train_files.items[0]);
    config.train_files.items[0] = strdup(moved);
    assert_int_equal(agent_policy_check_data_paths(&config, &err), FL_OK);
    agent_config_release(&config);

    char command[400];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    assert_int_equal(system(command), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acceptable_job_accepted),
        cmocka_unit_test(test_each_rule_rejects),
        cmocka_unit_test(test_data_outside_allowed_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
