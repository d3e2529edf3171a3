/*
 * agent_sandbox.h - confines the trainer process with Landlock (Linux 5.13
 * and later), so the code that reads patient records and runs the model
 * cannot open the site's identity key or anything else outside the paths it
 * needs.
 */
#ifndef AGENT_SANDBOX_H
#define AGENT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "fl_error.h"

typedef struct agent_sandbox_paths {
    const char *const *read_only;  /* files or folders the process may read */
    size_t read_only_count;
    const char *const *writable;   /* folders the process may read and write */
    size_t writable_count;
} agent_sandbox_paths;

/*
 * Restricts the calling process, irreversibly, to the given paths plus the
 * system folders a program needs (/usr, /lib, /lib64, /etc/ld.so.cache,
 * /proc, /sys, /dev). Fails with FL_EUNSUPPORTED when the kernel has no
 * Landlock, naming the kernel version needed.
 */
int agent_sandbox_apply(const agent_sandbox_paths *paths, fl_error *err) FL_WARN_UNUSED;

/* Returns the Landlock ABI version the kernel offers, or 0 without Landlock. */
int agent_sandbox_abi(void);

#endif
