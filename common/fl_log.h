/*
 * fl_log.h - the leveled logger shared by every fedlora program.
 *
 * A line reads:
 *   2026-12-04T20:01:02.123Z coordinator INFO job=j1 round=3 site=hospital-a: round started
 * The role is set once per process; job, round and site come from the calling
 * thread's context. Never pass key material or record text to these functions.
 * All functions are thread-safe.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "fl_error.h"

typedef enum fl_log_level {
    FL_LOG_DEBUG = 0,
    FL_LOG_INFO = 1,
    FL_LOG_WARN = 2,
    FL_LOG_ERROR = 3,
    FL_LOG_OFF = 4
} fl_log_level;

/* Sets the process role printed on every line ("coordinator", "agent", "fedlora"). */
void fl_log_set_role(const char *role);

/* Sets the minimum level written. Default: FL_LOG_INFO, or $FEDLORA_LOG_LEVEL. */
void fl_log_set_level(fl_log_level level);

/* Parses "debug", "info", "warn" or "error". Returns FL_EINVAL for other text. */
int fl_log_level_parse(const char *text, fl_log_level *out) FL_WARN_UNUSED;

/* Sends lines to stream instead of stderr. The caller keeps ownership of stream. */
void fl_log_set_stream(FILE *stream);

/*
 * Sets the ids printed on this thread's lines. A NULL job or site, or a
 * negative round, leaves that id out.
 */
void fl_log_set_context(const char *job, int64_t round, const char *site);

/* Returns true when a line at level would be written. */
int fl_log_enabled(fl_log_level level);

void fl_log_write(fl_log_level level, const char *fmt, ...) FL_PRINTF(2, 3);

#define fl_debug(...) fl_log_write(FL_LOG_DEBUG, __VA_ARGS__)
#define fl_info(...) fl_log_write(FL_LOG_INFO, __VA_ARGS__)
#define fl_warn(...) fl_log_write(FL_LOG_WARN, __VA_ARGS__)
#define fl_error(...) fl_log_write(FL_LOG_ERROR, __VA_ARGS__)

#endif
