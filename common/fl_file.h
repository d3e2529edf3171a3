/*
 * fl_file.h - whole-file reads and crash-safe writes.
 */
#ifndef FL_FILE_H
#define FL_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "fl_error.h"

/*
 * Reads the whole of path into a NUL-terminated heap buffer. Files larger
 * than max_bytes are rejected with FL_ERANGE. Caller owns *out; free it.
 */
int fl_file_read_all(const char *path, size_t max_bytes, char **out, size_t *length,
                     fl_error *err) FL_WARN_UNUSED;

/*
 * Replaces path with data so that a crash leaves either the old or the new
 * contents: writes path.tmp.PID, fsyncs it, renames it over path and fsyncs
 * the directory. mode applies to the new file (for example 0600).
 */
int fl_file_write_atomic(const char *path, const void *data, size_t length, mode_t mode,
                         fl_error *err) FL_WARN_UNUSED;

/* Creates path and its missing parents with mode. Existing folders are fine. */
int fl_file_mkdirs(const char *path, mode_t mode, fl_error *err) FL_WARN_UNUSED;

/* Fsyncs the folder that contains path, so a rename or create in it is durable. */
int fl_file_sync_parent(const char *path, fl_error *err) FL_WARN_UNUSED;

/*
 * Fails with FL_EPERM when path is readable or writable by group or others,
 * naming the file, its mode and the chmod command that fixes it.
 */
int fl_file_check_private(const char *path, fl_error *err) FL_WARN_UNUSED;

/*
 * Formats a path into out (size bytes). Returns FL_OK, or FL_ERANGE when the
 * result does not fit, so a long path fails loudly instead of being cut.
 */
int fl_path_format(char *out, size_t size, const char *fmt, ...) FL_PRINTF(3, 4) FL_WARN_UNUSED;

#endif
