/* Tests of the status codes and error detail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl_error.h"
#include "fl_log.h"

static void test_every_code_has_text(void **state)
{
    (void)state;
    for (int code = 0; code >= FL_STATUS_MIN; code--) {
        const char *text = fl_strerror(code);
        assert_non_null(text);
        assert_string_not_equal(text, "unknown error");
    }
    assert_string_equal(fl_strerror(1), "unknown error");
    assert_string_equal(fl_strerror(FL_STATUS_MIN - 1), "unknown error");
}

static void test_set_and_prefix(void **state)
{
    (void)state;
    fl_error err = {0};
    assert_int_equal(fl_error_set(&err, FL_EFORMAT, "line %d", 7), FL_EFORMAT);
    assert_int_equal(fl_error_prefix(&err, "%s: ", "data.jsonl"), FL_EFORMAT);
    assert_string_equal(err.msg, "data.jsonl: line 7");
    fl_error_clear(&err);
    assert_int_equal(err.code, FL_OK);
    assert_int_equal(fl_error_set(NULL, FL_EIO, "ignored"), FL_EIO);
}

static void test_log_line_has_context(void **state)
{
    (void)state;
    char buffer[512] = {0};
    FILE *out = fmemopen(buffer, sizeof(buffer) - 1, "w");
    assert_non_null(out);
    fl_log_set_stream(out);
    fl_log_set_role("agent");
    fl_log_set_level(FL_LOG_INFO);
    fl_log_set_context("job-1", 4, "hospital-a");
    fl_info("round %d started", 4);
    fl_debug("not written");
    fflush(out);
    fl_log_set_stream(NULL);
    fclose(out);
    assert_non_null(strstr(buffer, " agent INFO job=job-1 round=4 site=hospital-a: round 4 started\n"));
    assert_null(strstr(buffer, "not written"));
    assert_true(buffer[4] == '-' && buffer[10] == 'T');
}

static void test_log_level_parse(void **state)
{
    (void)state;
    fl_log_level level;
    assert_int_equal(fl_log_level_parse("WARN", &level), FL_OK);
    assert_int_equal(level, FL_LOG_WARN);
    assert_int_equal(fl_log_level_parse("verbose", &level), FL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_text),
        cmocka_unit_test(test_set_and_prefix),
        cmocka_unit_test(test_log_line_has_context),
        cmocka_unit_test(test_log_level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
