/* Tests of whole-file reads, atomic writes and key-file permission checks. */
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

#include "fl_file.h"

static char s_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_file.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

static void test_atomic_write_then_read(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/a/b/state.json", s_dir);
    char folder[300];
    snprintf(folder, sizeof(folder), "%s/a/b", s_dir);
    fl_error err = {0};
    assert_int_equal(fl_file_mkdirs(folder, 0700, &err), FL_OK);
    assert_int_equal(fl_file_write_atomic(path, "round 1", 7, 0600, &err), FL_OK);
    assert_int_equal(fl_file_write_atomic(path, "round 2", 7, 0600, &err), FL_OK);

    char *text = NULL;
    size_t length = 0;
    assert_int_equal(fl_file_read_all(path, 1024, &text, &length, &err), FL_OK);
    assert_int_equal(length, 7);
    assert_string_equal(text, "round 2");
    free(text);

    assert_int_equal(fl_file_read_all(path, 3, &text, &length, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "state.json"));
}

static void test_write_into_missing_folder_fails(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/missing/state.json", s_dir);
    fl_error err = {0};
    assert_int_equal(fl_file_write_atomic(path, "x", 1, 0600, &err), FL_EIO);
    assert_non_null(strstr(err.msg, "missing/state.json"));
}

static void test_private_key_mode_checked(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/site.key", s_dir);
    fl_error err = {0};
    assert_int_equal(fl_file_write_atomic(path, "secret", 6, 0644, &err), FL_OK);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(fl_file_check_private(path, &err), FL_EPERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(fl_file_check_private(path, &err), FL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_write_then_read),
        cmocka_unit_test(test_write_into_missing_folder_fails),
        cmocka_unit_test(test_private_key_mode_checked),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
