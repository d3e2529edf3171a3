/* Tests of the base model content hash. */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fc_model_hash.h"
#include "fl_file.h"

static char s_dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", s_dir, name);
    fl_error err = {0};
    assert_int_equal(fl_file_write_atomic(path, text, strlen(text), 0644, &err), FL_OK);
}

static int make_model(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_model_hash.XXXXXX");
    if (mkdtemp(s_dir) == NULL)
        return -1;
    write_file("config.json", "{\"hidden_size\": 8}");
    write_file("model.safetensors", "weights-1");
    write_file("README.md", "not hashed");
    return 0;
}

static int remove_model(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

static void add_entry(crypto_generichash_state *state, const char *name, const char *text)
{
    uint64_t size = strlen(text);
    unsigned char header[8];
    for (int i = 0; i < 8; i++)
        header[i] = (unsigned char)(size >> (8 * i));
    crypto_generichash_update(state, (const unsigned char *)name, strlen(name) + 1);
    crypto_generichash_update(state, header, 8);
    crypto_generichash_update(state, (const unsigned char *)text, size);
}

static void test_hash_matches_layout(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    crypto_generichash_state expected_state;
    crypto_generichash_init(&expected_state, NULL, 0, FC_MODEL_HASH_BYTES);
    add_entry(&expected_state, "config.json", "{\"hidden_size\": 8}");
    add_entry(&expected_state, "model.safetensors", "weights-1");
    uint8_t expected[FC_MODEL_HASH_BYTES];
    crypto_generichash_final(&expected_state, expected, sizeof(expected));

    uint8_t hash[FC_MODEL_HASH_BYTES];
    fl_error err = {0};
    assert_int_equal(fc_model_hash(s_dir, hash, &err), FL_OK);
    assert_memory_equal(hash, expected, sizeof(hash));
}

static void test_weights_change_hash(void **state)
{
    (void)state;
    uint8_t before[FC_MODEL_HASH_BYTES], after[FC_MODEL_HASH_BYTES];
    fl_error err = {0};
    assert_int_equal(fc_model_hash(s_dir, before, &err), FL_OK);
    write_file("README.md", "edited, still not hashed");
    assert_int_equal(fc_model_hash(s_dir, after, &err), FL_OK);
    assert_memory_equal(before, after, sizeof(before));

    write_file("model.safetensors", "weights-2");
    assert_int_equal(fc_model_hash(s_dir, after, &err), FL_OK);
    assert_memory_not_equal(before, after, sizeof(before));
}

static void test_folder_without_weights(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/model.safetensors", s_dir);
    unlink(path);
    uint8_t hash[FC_MODEL_HASH_BYTES];
    fl_error err = {0};
    assert_int_equal(fc_model_hash(s_dir, hash, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "safetensors"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_matches_layout, make_model, remove_model),
        cmocka_unit_test_setup_teardown(test_weights_change_hash, make_model, remove_model),
        cmocka_unit_test_setup_teardown(test_folder_without_weights, make_model, remove_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
