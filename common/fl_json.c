#include "fl_json.h"

#include <stdlib.h>
#include <string.h>

#include "fl_file.h"

json_t *fl_json_load_text(const char *name, const char *text, size_t length, fl_error *err)
{
    json_error_t parse_error;
    json_t *value = json_loadb(text, length, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                               &parse_error);
    if (value == NULL)
        fl_error_set(err, FL_EFORMAT, "%s:%d:%d: invalid JSON: %s", name, parse_error.line,
                     parse_error.column, parse_error.text);
    return value;
}

json_t *fl_json_load_file(const char *path, size_t max_bytes, fl_error *err)
{
    char *text = NULL;
    size_t length = 0;
    if (fl_file_read_all(path, max_bytes, &text, &length, err) != FL_OK)
        return NULL;
    json_t *value = fl_json_load_text(path, text, length, err);
    free(text);
    return value;
}

int fl_json_save_file(const char *path, const json_t *value, mode_t mode, fl_error *err)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL)
        return fl_error_set(err, FL_ENOMEM, "%s: cannot serialise JSON", path);

    size_t length = strlen(text);
    char *with_newline = realloc(text, length + 2);
    if (with_newline == NULL) {
        free(text);
        return fl_error_set(err, FL_ENOMEM, "%s: cannot serialise JSON", path);
    }
    with_newline[length] = '\n';
    with_newline[length + 1] = '\0';

    int rc = fl_file_write_atomic(path, with_newline, length + 1, mode, err);
    free(with_newline);
    return rc;
}

static int get_field(const json_t *object, const char *key, const char *where, json_t **out,
                     fl_error *err)
{
    if (!json_is_object(object))
        return fl_error_set(err, FL_EFORMAT, "%s: expected a JSON object", where);
    *out = json_object_get(object, key);
    if (*out == NULL || json_is_null(*out))
        return fl_error_set(err, FL_ENOTFOUND, "%s: missing field '%s'", where, key);
    return FL_OK;
}

static int wrong_type(const char *where, const char *key, const char *expected, fl_error *err)
{
    return fl_error_set(err, FL_EFORMAT, "%s: field '%s' must be %s", where, key, expected);
}

int fl_json_get_int(const json_t *object, const char *key, const char *where, int64_t *out,
                    fl_error *err)
{
    json_t *field = NULL;
    int rc = get_field(object, key, where, &field, err);
    if (rc != FL_OK)
        return rc;
    if (!json_is_integer(field))
        return wrong_type(where, key, "an integer", err);
    *out = json_integer_value(field);
    return FL_OK;
}

int fl_json_get_number(const json_t *object, const char *key, const char *where, double *out,
                       fl_error *err)
{
    json_t *field = NULL;
    int rc = get_field(object, key, where, &field, err);
    if (rc != FL_OK)
        return rc;
    if (!json_is_number(field))
        return wrong_type(where, key, "a number", err);
    *out = json_number_value(field);
    return FL_OK;
}

int fl_json_get_bool(const json_t *object, const char *key, const char *where, bool *out,
                     fl_error *err)
{
    json_t *field = NULL;
    int rc = get_field(object, key, where, &field, err);
    if (rc != FL_OK)
        return rc;
    if (!json_is_boolean(field))
        return wrong_type(where, key, "true or false", err);
    *out = json_is_true(field);
    return FL_OK;
}

int fl_json_get_string(const json_t *object, const char *key, const char *where,
                       const char **out, fl_error *err)
{
    json_t *field = NULL;
    int rc = get_field(object, key, where, &field, err);
    if (rc != FL_OK)
        return rc;
    if (!json_is_string(field))
        return wrong_type(where, key, "a string", err);
    *out = json_string_value(field);
    return FL_OK;
}
