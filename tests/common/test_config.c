/* Tests of the table-driven configuration reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fl_config.h"

typedef struct sample_config {
    char *name;
    int64_t sites;
    double rate;
    bool secure;
    fl_strlist hosts;
    int mode;
    uint64_t chunk;
    double timeout;
} sample_config;

static const char *const s_modes[] = {"standard", "frozen-a", NULL};

static const fl_cfg_key s_keys[] = {
    {"", "name", FL_CFG_STRING, offsetof(sample_config, name), NULL, true, FL_CFG_NO_BOUNDS,
     NULL, "project name"},
    {"round", "sites", FL_CFG_INT, offsetof(sample_config, sites), "3", false, 3, 100, NULL,
     "sites per round"},
    {"round", "rate", FL_CFG_DOUBLE, offsetof(sample_config, rate), "0.5", false, 0, 1, NULL,
     "learning rate"},
    {"round", "secure", FL_CFG_BOOL, offsetof(sample_config, secure), "true", false,
     FL_CFG_NO_BOUNDS, NULL, "secure aggregation"},
    {"round", "hosts", FL_CFG_LIST, offsetof(sample_config, hosts), NULL, false,
     FL_CFG_NO_BOUNDS, NULL, "hosts"},
    {"round", "mode", FL_CFG_ENUM, offsetof(sample_config, mode), "standard", false,
     FL_CFG_NO_BOUNDS, s_modes, "LoRA mode"},
    {"net", "chunk", FL_CFG_BYTES, offsetof(sample_config, chunk), "4M", false, 1024,
     1073741824.0, NULL, "chunk size in bytes"},
    {"net", "timeout", FL_CFG_SECONDS, offsetof(sample_config, timeout), "30s", false, 0, 3600,
     NULL, "timeout in seconds"},
};
#define KEY_COUNT (sizeof(s_keys) / sizeof(s_keys[0]))

static int parse(const char *text, sample_config *config, fl_error *err)
{
    memset(config, 0, sizeof(*config));
    return fl_config_parse(s_keys, KEY_COUNT, "site.conf", text, strlen(text), config, err);
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected '%s' in message: %s", part, text);
}

static void test_valid_file_sets_every_type(void **state)
{
    (void)state;
    const char *text = "# sample\n"
                       "name = \"clinic # one\"\n"
                       "[round]\n"
                       "sites = 5   # comment\n"
                       "rate = 0.25\n"
                       "secure = no\n"
                       "hosts = a, b ,c\n"
                       "mode = frozen-a\n"
                       "[net]\n"
                       "chunk = 64K\n"
                       "timeout = 250ms\n";
    sample_config config;
    fl_error err = {0};
    assert_int_equal(parse(text, &config, &err), FL_OK);
    assert_string_equal(config.name, "clinic # one");
    assert_int_equal(config.sites, 5);
    assert_true(config.rate == 0.25);
    assert_false(config.secure);
    assert_int_equal(config.hosts.count, 3);
    assert_string_equal(config.hosts.items[1], "b");
    assert_int_equal(config.mode, 1);
    assert_int_equal(config.chunk, 65536);
    assert_true(config.timeout > 0.2499 && config.timeout < 0.2501);
    fl_config_release(s_keys, KEY_COUNT, &config);
}

static void test_defaults_apply(void **state)
{
    (void)state;
    sample_config config;
    fl_error err = {0};
    assert_int_equal(parse("name = x\n", &config, &err), FL_OK);
    assert_int_equal(config.sites, 3);
    assert_true(config.secure);
    assert_int_equal(config.chunk, 4u << 20);
    assert_true(config.timeout == 30.0);
    fl_config_release(s_keys, KEY_COUNT, &config);
}

static void test_unknown_key_names_line(void **state)
{
    (void)state;
    sample_config config;
    fl_error err = {0};
    assert_int_equal(parse("name = x\n[round]\nsitse = 4\n", &config, &err), FL_EINVAL);
    assert_contains(err.msg, "site.conf:3:");
    assert_contains(err.msg, "unknown key 'sitse'");
    assert_contains(err.msg, "did you mean 'sites'");
    fl_config_release(s_keys, KEY_COUNT, &config);
}

static void test_wrong_type_names_key(void **state)
{
    (void)state;
    sample_config config;
    fl_error err = {0};
    assert_int_equal(parse("name = x\n[round]\nsites = three\n", &config, &err), FL_EINVAL);
    assert_contains(err.msg, "site.conf:3:");
    assert_contains(err.msg, "'sites'");
    assert_contains(err.msg, "'three'");
    assert_contains(err.msg, "an integer");
    fl_config_release(s_keys, KEY_COUNT, &config);
}

static void test_out_of_range_names_bounds(void **state)
{
    (void)state;
    sample_config config;
    fl_error err = {0};
    assert_int_equal(parse("name = x\n\n[round]\nsites = 2\n", &config, &err), FL_ERANGE);
    assert_contains(err.msg, "site.conf:4:");
    assert_contains(err.msg, "'sites'");
    assert_contains(err.msg, "from 3 to 100");
    fl_config_release(s_keys, KEY_COUNT, &config);
}

static void test_bad_values_rejected(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"name = x\n[round]\nmode = full\n", "use one of: standard, frozen-a"},
        {"name = x\n[round]\nsecure = maybe\n", "true or false"},
        {"name = x\n[net]\nchunk = 4X\n", "size in bytes"},
        {"name = x\n[net]\ntimeout = soon\n", "duration"},
        {"name = x\n[round]\nhosts = a,,b\n", "comma-separated"},
        {"name = \"open\n", "unterminated"},
        {"name = x\n[rounds]\n", "unknown section [rounds]"},
        {"name = x\nname = y\n", "set twice"},
        {"name x\n", "expected 'key = value'"},
        {"[round]\nsites = 4\n", "'name': missing"},
        {"name = x\n[round\n", "malformed section"},
        {"name = x\n[round]\nrate = \n", "empty value"},
        {"name = \"\xd6\xd0\xce\xc4\"\n", "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sample_config config;
        fl_error err = {0};
        int rc = parse(cases[i][0], &config, &err);
        if (rc == FL_OK)
            fail_msg("case %zu accepted: %s", i, cases[i][0]);
        assert_contains(err.msg, "site.conf");
        assert_contains(err.msg, cases[i][1]);
        fl_config_release(s_keys, KEY_COUNT, &config);
    }
}

static void test_relative_paths_follow_file(void **state)
{
    (void)state;
    char *joined = fl_config_resolve_path("/etc/fedlora/agent.conf", "site.key");
    assert_string_equal(joined, "/etc/fedlora/site.key");
    free(joined);
    char *absolute = fl_config_resolve_path("/etc/fedlora/agent.conf", "/srv/site.key");
    assert_string_equal(absolute, "/srv/site.key");
    free(absolute);
    char *bare = fl_config_resolve_path("agent.conf", "site.key");
    assert_string_equal(bare, "site.key");
    free(bare);
}

static void test_sample_lists_every_key(void **state)
{
    (void)state;
    char buffer[8192] = {0};
    FILE *out = fmemopen(buffer, sizeof(buffer) - 1, "w");
    assert_non_null(out);
    fl_config_write_sample(s_keys, KEY_COUNT, out);
    fclose(out);
    for (size_t i = 0; i < KEY_COUNT; i++)
        assert_contains(buffer, s_keys[i].name);
    assert_contains(buffer, "[net]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file_sets_every_type),
        cmocka_unit_test(test_defaults_apply),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_wrong_type_names_key),
        cmocka_unit_test(test_out_of_range_names_bounds),
        cmocka_unit_test(test_bad_values_rejected),
        cmocka_unit_test(test_relative_paths_follow_file),
        cmocka_unit_test(test_sample_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
