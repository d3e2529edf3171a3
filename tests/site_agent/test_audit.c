/* Tests of the site audit log's hash chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_audit.h"

static char s_path[256];

static int make_log_path(void **state)
{
    (void)state;
    snprintf(s_path, sizeof(s_path), "/tmp/fl_test_audit.%ld.jsonl", (long)getpid());
    unlink(s_path);
    return 0;
}

static int remove_log(void **state)
{
    (void)state;
    unlink(s_path);
    return 0;
}

static void write_entries(int count)
{
    agent_audit *audit = NULL;
    fl_error err = {0};
    assert_int_equal(agent_audit_open(&audit, s_path, &err), FL_OK);
    for (int i = 0; i < count; i++) {
        char payload[100];
        memset(payload, 'a' + i, sizeof(payload));
        assert_int_equal(agent_audit_message(audit, "job-1", i, "masked_input", payload,
                                             sizeof(payload), &err),
                         FL_OK);
    }
    assert_int_equal(agent_audit_decision(audit, "job-2", 0, "rejected", "researcher_not_accepted",
                                          "researcher mallory", &err),
                     FL_OK);
    agent_audit_destroy(&audit);
    assert_null(audit);
}

/* Replaces the first occurrence of from with to in line number (1-based) of the log. */
static void edit_line(int number, const char *from, const char *to)
{
    FILE *in = fopen(s_path, "r");
    assert_non_null(in);
    char lines[16][2048];
    int count = 0;
    while (count < 16 && fgets(lines[count], sizeof(lines[count]), in) != NULL)
        count++;
    fclose(in);

    char *at = strstr(lines[number - 1], from);
    assert_non_null(at);
    char edited[2048];
    snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - lines[number - 1]),
             lines[number - 1], to, at + strlen(from));
    strcpy(lines[number - 1], edited);

    FILE *out = fopen(s_path, "w");
    assert_non_null(out);
    for (int i = 0; i < count; i++)
        fputs(lines[i], out);
    fclose(out);
}

static void test_chain_verifies_and_counts(void **state)
{
    (void)state;
    write_entries(3);
    write_entries(2);

    agent_audit_report report;
    fl_error err = {0};
    assert_int_equal(agent_audit_verify(s_path, &report, &err), FL_OK);
    assert_int_equal(report.entries, 7);
    assert_int_equal(report.bytes_sent, 500);
    assert_int_equal(report.broken_line, 0);
}

static void test_altered_entry_named(void **state)
{
    (void)state;
    write_entries(3);
    edit_line(2, "\"size\":100", "\"size\":10");

    agent_audit_report report;
    fl_error err = {0};
    assert_int_equal(agent_audit_verify(s_path, &report, &err), FL_EFORMAT);
    assert_int_equal(report.broken_line, 2);
    assert_int_equal(report.entries, 1);
    assert_non_null(strstr(err.msg, ":2: entry altered"));
}

static void test_removed_entry_breaks_chain(void **state)
{
    (void)state;
    write_entries(3);
    /* Remove line 2 by rewriting the file without it. */
    FILE *in = fopen(s_path, "r");
    char lines[8][2048];
    int count = 0;
    while (count < 8 && fgets(lines[count], sizeof(lines[count]), in) != NULL)
        count++;
    fclose(in);
    FILE *out = fopen(s_path, "w");
    for (int i = 0; i < count; i++) {
        if (i != 1)
            fputs(lines[i], out);
    }
    fclose(out);

    agent_audit_report report;
    fl_error err = {0};
    assert_int_equal(agent_audit_verify(s_path, &report, &err), FL_EFORMAT);
    assert_int_equal(report.broken_line, 2);
    assert_non_null(strstr(err.msg, "chain broken"));
}

static void test_damaged_log_not_appended(void **state)
{
    (void)state;
    write_entries(1);
    FILE *out = fopen(s_path, "a");
    fputs("{\"seq\":3,\"trunc", out);
    fclose(out);

    agent_audit *audit = NULL;
    fl_error err = {0};
    assert_int_equal(agent_audit_open(&audit, s_path, &err), FL_EFORMAT);
    assert_null(audit);
    assert_non_null(strstr(err.msg, "fedlora audit verify"));
    assert_non_null(strstr(err.msg, "incomplete"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_verifies_and_counts, make_log_path, remove_log),
        cmocka_unit_test_setup_teardown(test_altered_entry_named, make_log_path, remove_log),
        cmocka_unit_test_setup_teardown(test_removed_entry_breaks_chain, make_log_path, remove_log),
        cmocka_unit_test_setup_teardown(test_damaged_log_not_appended, make_log_path, remove_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
