/*
 * fl_json.h - JSON through jansson, with fedlora's error convention.
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fl_error.h"

/*
 * Parses path as one JSON document of at most max_bytes. On a syntax error
 * err names the file, line and column. Caller owns the result (json_decref).
 */
json_t *fl_json_load_file(const char *path, size_t max_bytes, fl_error *err);

/* Parses text; name is used in messages in place of a file name. */
json_t *fl_json_load_text(const char *name, const char *text, size_t length, fl_error *err);

/* Writes value to path atomically (see fl_file_write_atomic), indented, with a final newline. */
int fl_json_save_file(const char *path, const json_t *value, mode_t mode,
                      fl_error *err) FL_WARN_UNUSED;

/*
 * Typed field readers. where names the object in messages (for example
 * "config.json"). A missing field is FL_ENOTFOUND; a field of another type
 * is FL_EFORMAT. The string stays owned by object.
 */
int fl_json_get_int(const json_t *object, const char *key, const char *where, int64_t *out,
                    fl_error *err) FL_WARN_UNUSED;
int fl_json_get_number(const json_t *object, const char *key, const char *where, double *out,
                       fl_error *err) FL_WARN_UNUSED;
int fl_json_get_bool(const json_t *object, const char *key, const char *where, bool *out,
                     fl_error *err) FL_WARN_UNUSED;
int fl_json_get_string(const json_t *object, const char *key, const char *where,
                       const char **out, fl_error *err) FL_WARN_UNUSED;

#endif
