/* Tests of job file parsing and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coord_job.h"
#include "fl_json.h"

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CONFIG "\"config\":{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"max_position_embeddings\":512,\"tie_word_embeddings\":false}"
#define MINIMAL "\"id\":\"job-1\",\"researcher\":\"alice\"," \
                "\"base_model\":{\"name\":\"tiny\",\"hash\":\"" HASH "\"," CONFIG "}"

static int parse(const char *text, coord_job_spec *job, fl_error *err)
{
    json_t *root = fl_json_load_text("job.json", text, strlen(text), err);
    if (root == NULL)
        return FL_EFORMAT;
    int rc = coord_job_from_json(job, root, "job.json", err);
    json_decref(root);
    return rc;
}

static void test_minimal_job_gets_defaults(void **state)
{
    (void)state;
    coord_job_spec job;
    fl_error err = {0};
    assert_int_equal(parse("{" MINIMAL "}", &job, &err), FL_OK);
    assert_string_equal(job.id, "job-1");
    assert_string_equal(job.base_model_hash, HASH);
    assert_int_equal(job.lora_r, 16);
    assert_int_equal(job.lora_target_count, 2);
    assert_string_equal(job.lora_targets[1], "v_proj");
    assert_int_equal(job.lora_mode, COORD_LORA_STANDARD);
    assert_int_equal(job.server_optimizer.kind, COORD_OPTIM_FEDAVG);
    assert_true(job.server_optimizer.server_lr == 1.0);
    assert_int_equal(job.min_sites, 3);
    assert_true(job.secure_aggregation);
}

static void test_optimizer_defaults_follow_name(void **state)
{
    (void)state;
    coord_job_spec job;
    fl_error err = {0};
    assert_int_equal(parse("{" MINIMAL ",\"server_optimizer\":{\"name\":\"fedadam\"},"
                           "\"lora\":{\"mode\":\"frozen-a\",\"targets\":[\"down_proj\"]}}",
                           &job, &err),
                     FL_OK);
    assert_int_equal(job.server_optimizer.kind, COORD_OPTIM_FEDADAM);
    assert_true(job.server_optimizer.server_lr == 0.01);
    assert_int_equal(job.lora_mode, COORD_LORA_FROZEN_A);
    assert_int_equal(job.lora_target_count, 1);
}

static void test_round_trip_keeps_fields(void **state)
{
    (void)state;
    coord_job_spec job, again;
    fl_error err = {0};
    assert_int_equal(parse("{" MINIMAL ",\"rounds\":7,\"lora\":{\"r\":4,\"alpha\":8}}", &job,
                           &err),
                     FL_OK);
    json_t *json = coord_job_to_json(&job);
    assert_int_equal(coord_job_from_json(&again, json, "again", &err), FL_OK);
    json_decref(json);
    assert_memory_equal(&job, &again, sizeof(job));
}

static void test_bad_jobs_name_field(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"{" MINIMAL ",\"round\":3}", "unknown field 'round'; did you mean 'rounds'?"},
        {"{" MINIMAL ",\"colour\":3}", "unknown field 'colour'; check its spelling"},
        {"{" MINIMAL ",\"lora\":{\"rank\":3}}", "unknown field 'lora.rank'"},
        {"{" MINIMAL ",\"lora\":{\"r\":0}}", "'lora.r': 0 is out of range"},
        {"{" MINIMAL ",\"rounds\":\"ten\"}", "'rounds' must be an integer"},
        {"{" MINIMAL ",\"lora\":{\"targets\":[\"qproj\"]}}", "invalid value 'qproj'"},
        {"{" MINIMAL ",\"lora\":{\"targets\":[\"q_proj\",\"q_proj\"]}}", "listed twice"},
        {"{" MINIMAL ",\"server_optimizer\":{\"name\":\"sgd\"}}", "use one of: fedavg"},
        {"{" MINIMAL ",\"min_sites\":2}", "'min_sites': 2 is out of range"},
        {"{" MINIMAL ",\"min_sites\":6,\"secure_aggregation\":{\"threshold\":3}}",
         "more than half"},
        {"{\"id\":\"x\",\"researcher\":\"alice\"}", "missing required field 'base_model.name'"},
        {"{\"id\":\"x\",\"researcher\":\"a\",\"base_model\":{\"name\":\"m\",\"hash\":\"abc\"}}",
         "'base_model.hash'"},
        {"{" MINIMAL ",\"lora\":5}", "'lora' must be an object"},
        {"[1]", "must be a JSON object"},
        {"{\"id\":\"x\",\"researcher\":\"a\",\"base_model\":{\"name\":\"m\",\"hash\":\"" HASH
         "\",\"config\":{\"architectures\":[\"GPT2LMHeadModel\"]}}}",
         "'base_model.config'"},
        {"{" MINIMAL ",\"secure_aggregation\":{\"bits\":40}}", "'secure_aggregation.bits'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        coord_job_spec job;
        fl_error err = {0};
        if (parse(cases[i][0], &job, &err) == FL_OK)
            fail_msg("case %zu accepted: %s", i, cases[i][0]);
        if (strstr(err.msg, cases[i][1]) == NULL)
            fail_msg("case %zu: expected '%s' in: %s", i, cases[i][1], err.msg);
        assert_non_null(strstr(err.msg, "job.json"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_job_gets_defaults),
        cmocka_unit_test(test_optimizer_defaults_follow_name),
        cmocka_unit_test(test_round_trip_keeps_fields),
        cmocka_unit_test(test_bad_jobs_name_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
