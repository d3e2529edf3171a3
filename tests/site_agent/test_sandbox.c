/* The trainer sandbox keeps a process away from files it was not given. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_sandbox.h"

static char s_root[64];
static char s_data[128], s_keys[128], s_work[128];

static void write_file(const char *folder, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", folder, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("content\n", file);
    fclose(file);
}

static int make_tree(void **state)
{
    (void)state;
    snprintf(s_root, sizeof(s_root), "/tmp/fl_test_sandbox.XXXXXX");
    if (mkdtemp(s_root) == NULL)
        return -1;
    snprintf(s_data, sizeof(s_data), "%s/data", s_root);
    snprintf(s_keys, sizeof(s_keys), "%s/keys", s_root);
    snprintf(s_work, sizeof(s_work), "%s/work", s_root);
    mkdir(s_data, 0700);
    mkdir(s_keys, 0700);
    mkdir(s_work, 0700);
    write_file(s_data, "train.jsonl");
    write_file(s_keys, "site.key");
    return 0;
}

static int remove_tree(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_root);
    return system(command) == 0 ? 0 : -1;
}

/* Opens path in the sandboxed child; exit code 0 when allowed, 1 when denied, 2 on setup failure. */
static int child_open(const char *path, int flags)
{
    pid_t pid = fork();
    if (pid == 0) {
        const char *read_only[] = {s_data};
        const char *writable[] = {s_work};
        agent_sandbox_paths paths = {read_only, 1, writable, 1};
        fl_error err = {0};
        if (agent_sandbox_apply(&paths, &err) != FL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            _exit(2);
        }
        int fd = open(path, flags, 0600);
        _exit(fd >= 0 ? 0 : (errno == EACCES ? 1 : 3));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
}

static void test_key_folder_denied(void **state)
{
    (void)state;
    if (agent_sandbox_abi() < 1)
        fail_msg("this kernel has no Landlock; the trainer sandbox cannot be tested");
    char path[256];
    snprintf(path, sizeof(path), "%s/site.key", s_keys);
    assert_int_equal(child_open(path, O_RDONLY), 1);
}

static void test_data_readable_work_writable(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/train.jsonl", s_data);
    assert_int_equal(child_open(path, O_RDONLY), 0);
    assert_int_equal(child_open(path, O_WRONLY), 1);
    snprintf(path, sizeof(path), "%s/delta.bin", s_work);
    assert_int_equal(child_open(path, O_WRONLY | O_CREAT), 0);
    assert_int_equal(child_open("/usr/include/stdio.h", O_RDONLY), 0);
    assert_int_equal(child_open("/root/.bashrc", O_RDONLY), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_folder_denied),
        cmocka_unit_test(test_data_readable_work_writable),
    };
    return cmocka_run_group_tests(tests, make_tree, remove_tree);
}
