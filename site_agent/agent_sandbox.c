#define _GNU_SOURCE /* O_PATH */
#include "agent_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Read access to files and folders. */
#define ACCESS_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | \
                     LANDLOCK_ACCESS_FS_READ_DIR)
/* File access that applies to a regular file (rules on files may only name these). */
#define ACCESS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                     LANDLOCK_ACCESS_FS_READ_FILE)
/* Everything Landlock ABI 1 can restrict. */
#define ACCESS_ALL_V1 (ACCESS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                       LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
                       LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
                       LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
                       LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
                       LANDLOCK_ACCESS_FS_MAKE_SYM)

static const char *const s_system_paths[] = {"/usr", "/lib", "/lib64", "/etc/ld.so.cache",
                                             "/proc", "/sys", "/dev"};

int agent_sandbox_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}

/* Adds a rule for path; a path that does not exist is skipped (for example /lib64). */
static int add_rule(int ruleset, const char *path, uint64_t access, fl_error *err)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FL_OK
                               : fl_error_set(err, FL_EIO, "sandbox: cannot open %s: %s", path,
                                              strerror(errno));
    struct stat info;
    if (fstat(fd, &info) == 0 && !S_ISDIR(info.st_mode))
        access &= ACCESS_FILE;

    struct landlock_path_beneath_attr rule = {.allowed_access = access, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return fl_error_set(err, FL_EIO, "sandbox: cannot allow %s: %s", path, strerror(saved));
    return FL_OK;
}

static int add_rules(int ruleset, const agent_sandbox_paths *paths, fl_error *err)
{
    int rc = FL_OK;
    for (size_t i = 0; rc == FL_OK && i < sizeof(s_system_paths) / sizeof(s_system_paths[0]); i++)
        rc = add_rule(ruleset, s_system_paths[i], ACCESS_READ, err);
    for (size_t i = 0; rc == FL_OK && i < paths->read_only_count; i++)
        rc = add_rule(ruleset, paths->read_only[i], ACCESS_READ, err);
    for (size_t i = 0; rc == FL_OK && i < paths->writable_count; i++)
        rc = add_rule(ruleset, paths->writable[i], ACCESS_ALL_V1, err);
    return rc;
}

int agent_sandbox_apply(const agent_sandbox_paths *paths, fl_error *err)
{
    if (agent_sandbox_abi() < 1)
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "sandbox: this kernel has no Landlock, so the trainer process could "
                            "read the site's key; fedlora needs Linux 5.13 or later with "
                            "Landlock enabled (see /sys/kernel/security/lsm)");

    struct landlock_ruleset_attr attr = {.handled_access_fs = ACCESS_ALL_V1};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset < 0)
        return fl_error_set(err, FL_EIO, "sandbox: cannot create a Landlock ruleset: %s",
                            strerror(errno));

    int rc = add_rules(ruleset, paths, err);
    if (rc == FL_OK && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        rc = fl_error_set(err, FL_EIO, "sandbox: cannot set no_new_privs: %s", strerror(errno));
    if (rc == FL_OK && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
        rc = fl_error_set(err, FL_EIO, "sandbox: cannot restrict the process: %s",
                          strerror(errno));
    close(ruleset);
    return rc;
}
