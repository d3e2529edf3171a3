/* Tests of the coordinator's job store on real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "coord_store.h"
#include "fl_json.h"

#define CONFIG "\"config\":{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"max_position_embeddings\":512,\"tie_word_embeddings\":false}"
#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char s_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_store.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

static void make_job(coord_job_spec *job, const char *id, int rounds)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"id\":\"%s\",\"researcher\":\"alice\",\"rounds\":%d,"
             "\"base_model\":{\"name\":\"tiny\",\"hash\":\"" HASH "\"," CONFIG "}}",
             id, rounds);
    fl_error err = {0};
    json_t *root = fl_json_load_text("job", text, strlen(text), &err);
    assert_non_null(root);
    assert_int_equal(coord_job_from_json(job, root, "job", &err), FL_OK);
    json_decref(root);
}

static void test_submit_is_idempotent(void **state)
{
    (void)state;
    coord_store *store = NULL;
    fl_error err = {0};
    assert_int_equal(coord_store_open(&store, s_dir, &err), FL_OK);

    coord_job_spec job;
    make_job(&job, "study-1", 5);
    bool created = false;
    assert_int_equal(coord_store_submit(store, &job, &created, &err), FL_OK);
    assert_true(created);
    assert_int_equal(coord_store_submit(store, &job, &created, &err), FL_OK);
    assert_false(created);

    coord_job_spec other;
    make_job(&other, "study-1", 6);
    assert_int_equal(coord_store_submit(store, &other, &created, &err), FL_EEXIST);
    assert_non_null(strstr(err.msg, "other settings"));

    json_t *list = coord_store_list(store, &err);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    coord_store_destroy(&store);
}

static void test_state_survives_reopen(void **state)
{
    (void)state;
    coord_store *store = NULL;
    fl_error err = {0};
    assert_int_equal(coord_store_open(&store, s_dir, &err), FL_OK);
    coord_job_spec job;
    make_job(&job, "study-2", 3);
    bool created;
    assert_int_equal(coord_store_submit(store, &job, &created, &err), FL_OK);

    coord_job_state saved = {.status = COORD_JOB_ABORTED, .completed_rounds = 2};
    snprintf(saved.reason, sizeof(saved.reason), "aborted by alice");
    assert_int_equal(coord_store_save_state(store, "study-2", &saved, &err), FL_OK);
    json_t *round = json_pack("{s:i, s:f}", "round", 1, "duration_s", 2.5);
    assert_int_equal(coord_store_record_round(store, "study-2", round, &err), FL_OK);
    assert_int_equal(coord_store_record_round(store, "study-2", round, &err), FL_OK);
    json_decref(round);
    coord_store_destroy(&store);

    assert_int_equal(coord_store_open(&store, s_dir, &err), FL_OK);
    coord_job_spec loaded;
    coord_job_state restored;
    assert_int_equal(coord_store_load(store, "study-2", &loaded, &restored, &err), FL_OK);
    assert_int_equal(restored.status, COORD_JOB_ABORTED);
    assert_int_equal(restored.completed_rounds, 2);
    assert_string_equal(restored.reason, "aborted by alice");
    assert_int_equal(loaded.rounds, 3);

    json_t *history = coord_store_history(store, "study-2", &err);
    assert_non_null(history);
    assert_string_equal(json_string_value(json_object_get(history, "status")), "aborted");
    assert_int_equal(json_array_size(json_object_get(history, "rounds")), 1);
    json_decref(history);
    coord_store_destroy(&store);
}

/* Returns the outcome of the history entry of round and attempt, or NULL. */
static const char *outcome_of(json_t *history, int round, int attempt)
{
    size_t index;
    json_t *entry;
    json_array_foreach(json_object_get(history, "rounds"), index, entry) {
        if (json_integer_value(json_object_get(entry, "round")) == round &&
            json_integer_value(json_object_get(entry, "attempt")) == attempt)
            return json_string_value(json_object_get(entry, "outcome"));
    }
    return NULL;
}

static void record_outcome(coord_store *store, int round, int attempt, const char *outcome)
{
    fl_error err = {0};
    json_t *entry = json_pack("{s:i, s:i, s:s}", "round", round, "attempt", attempt, "outcome",
                              outcome);
    assert_int_equal(coord_store_record_round(store, "study-3", entry, &err), FL_OK);
    json_decref(entry);
}

/* A crash after the history entry of round 3 but before state.json counted it. */
static void test_uncounted_round_marked_failed(void **state)
{
    (void)state;
    coord_store *store = NULL;
    fl_error err = {0};
    assert_int_equal(coord_store_open(&store, s_dir, &err), FL_OK);
    coord_job_spec job;
    make_job(&job, "study-3", 4);
    bool created;
    assert_int_equal(coord_store_submit(store, &job, &created, &err), FL_OK);
    record_outcome(store, 1, 0, "completed");
    record_outcome(store, 2, 0, "failed");
    record_outcome(store, 2, 1, "completed");
    record_outcome(store, 3, 0, "failed");
    record_outcome(store, 3, 1, "completed");

    int marked = -1;
    assert_int_equal(coord_store_mark_uncounted_rounds(store, "study-3", 2, &marked, &err),
                     FL_OK);
    assert_int_equal(marked, 1);
    json_t *history = coord_store_history(store, "study-3", &err);
    assert_non_null(history);
    assert_string_equal(outcome_of(history, 1, 0), "completed");
    assert_string_equal(outcome_of(history, 2, 1), "completed");
    assert_string_equal(outcome_of(history, 3, 0), "failed");
    assert_string_equal(outcome_of(history, 3, 1), "failed");
    assert_int_equal(json_array_size(json_object_get(history, "rounds")), 5);
    json_decref(history);

    /* The redone round 3 completes in attempt 0: the history lists it as completed once. */
    record_outcome(store, 3, 0, "completed");
    assert_int_equal(coord_store_mark_uncounted_rounds(store, "study-3", 3, &marked, &err),
                     FL_OK);
    assert_int_equal(marked, 0);
    history = coord_store_history(store, "study-3", &err);
    assert_non_null(history);
    assert_string_equal(outcome_of(history, 3, 0), "completed");
    assert_string_equal(outcome_of(history, 3, 1), "failed");
    json_decref(history);
    coord_store_destroy(&store);
}

static void test_bad_ids_rejected(void **state)
{
    (void)state;
    coord_store *store = NULL;
    fl_error err = {0};
    assert_int_equal(coord_store_open(&store, s_dir, &err), FL_OK);
    coord_job_spec job;
    coord_job_state job_state;
    assert_int_equal(coord_store_load(store, "a/../etc", &job, &job_state, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "contains '/'"));
    assert_int_equal(coord_store_load(store, "missing", &job, &job_state, &err), FL_ENOTFOUND);
    coord_store_destroy(&store);
}

static void test_renamed_job_folder_rejected(void **state)
{
    (void)state;
    coord_store *store = NULL;
    fl_error err = {0};
    assert_int_equal(coord_store_open(&store, s_dir, &err), FL_OK);
    coord_job_spec job;
    make_job(&job, "study-4", 2);
    bool created;
    assert_int_equal(coord_store_submit(store, &job, &created, &err), FL_OK);

    char from[300], to[300];
    snprintf(from, sizeof(from), "%s/jobs/study-4", s_dir);
    snprintf(to, sizeof(to), "%s/jobs/study-4.copy", s_dir);
    assert_int_equal(rename(from, to), 0);
    coord_job_state job_state;
    assert_int_equal(coord_store_load(store, "study-4.copy", &job, &job_state, &err),
                     FL_EFORMAT);
    assert_non_null(strstr(err.msg, "the job id is 'study-4' but its folder is named"));
    coord_store_destroy(&store);
}

static void test_unusable_state_dir_named(void **state)
{
    (void)state;
    char file[300];
    snprintf(file, sizeof(file), "%s/plain-file", s_dir);
    FILE *out = fopen(file, "w");
    fclose(out);
    coord_store *store = NULL;
    fl_error err = {0};
    assert_int_not_equal(coord_store_open(&store, file, &err), FL_OK);
    assert_null(store);
    assert_non_null(strstr(err.msg, "plain-file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_is_idempotent, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_state_survives_reopen, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_uncounted_round_marked_failed, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_bad_ids_rejected, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_renamed_job_folder_rejected, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_unusable_state_dir_named, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
