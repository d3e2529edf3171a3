#include "fl_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fl_file.h"
#include "fl_mem.h"
#include "fl_spell.h"

#define CFG_MAX_KEYS 256

/* Where a value came from, for error messages. */
typedef struct cfg_origin {
    const char *file;
    int line;
    const char *section;
} cfg_origin;

static void *field_of(void *target, const fl_cfg_key *key)
{
    return (char *)target + key->offset;
}

static const char *type_name(fl_cfg_type type)
{
    switch (type) {
    case FL_CFG_STRING: return "a string";
    case FL_CFG_INT: return "an integer";
    case FL_CFG_DOUBLE: return "a number";
    case FL_CFG_BOOL: return "true or false";
    case FL_CFG_LIST: return "a comma-separated list";
    case FL_CFG_ENUM: return "one of the listed names";
    case FL_CFG_BYTES: return "a size in bytes (for example 512, 64K, 4M, 2G)";
    case FL_CFG_SECONDS: return "a duration (for example 0.5, 250ms, 30s, 5m, 2h)";
    case FL_CFG_PATH: return "a file or folder path";
    }
    return "a value";
}

static int key_error(fl_error *err, const cfg_origin *at, const fl_cfg_key *key, int code,
                     const char *what)
{
    if (at->line > 0)
        return fl_error_set(err, code, "%s:%d: key '%s'%s%s%s: %s", at->file, at->line,
                            key->name, key->section[0] ? " in [" : "", key->section,
                            key->section[0] ? "]" : "", what);
    return fl_error_set(err, code, "%s: key '%s'%s%s%s: %s", at->file, key->name,
                        key->section[0] ? " in [" : "", key->section,
                        key->section[0] ? "]" : "", what);
}

static int check_bounds(const fl_cfg_key *key, double value, const cfg_origin *at,
                        const char *text, fl_error *err)
{
    if (key->min > key->max)
        return FL_OK;
    if (value >= key->min && value <= key->max)
        return FL_OK;

    char what[512];
    snprintf(what, sizeof(what), "value '%s' is out of range; use a value from %g to %g", text,
             key->min, key->max);
    return key_error(err, at, key, FL_ERANGE, what);
}

static int type_error(const fl_cfg_key *key, const char *text, const cfg_origin *at,
                      fl_error *err)
{
    char what[512];
    snprintf(what, sizeof(what), "invalid value '%s'; expected %s", text, type_name(key->type));
    return key_error(err, at, key, FL_EINVAL, what);
}

/* Parses a number followed by an optional unit suffix from units[]. */
static int parse_scaled(const char *text, const char *const *units, const double *scale,
                        double *out)
{
    errno = 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(value))
        return FL_EINVAL;

    if (*end == '\0') {
        *out = value;
        return FL_OK;
    }
    for (int i = 0; units[i] != NULL; i++) {
        if (strcasecmp(end, units[i]) == 0) {
            *out = value * scale[i];
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

static int parse_list(const char *text, fl_strlist *list)
{
    fl_strlist_release(list);
    const char *cursor = text;
    while (*cursor != '\0') {
        const char *comma = strchr(cursor, ',');
        size_t length = comma ? (size_t)(comma - cursor) : strlen(cursor);
        const char *begin = cursor;
        while (length > 0 && isspace((unsigned char)*begin)) {
            begin++;
            length--;
        }
        while (length > 0 && isspace((unsigned char)begin[length - 1]))
            length--;
        if (length == 0)
            return FL_EINVAL;

        list->items = fl_xrealloc(list->items, (list->count + 1) * sizeof(char *));
        list->items[list->count++] = fl_xstrndup(begin, length);
        if (comma == NULL)
            break;
        cursor = comma + 1;
        if (*cursor == '\0')
            return FL_EINVAL;
    }
    return FL_OK;
}

static int parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return FL_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

static int parse_enum(const fl_cfg_key *key, const char *text, const cfg_origin *at, int *out,
                      fl_error *err)
{
    char allowed[400] = "";
    for (int i = 0; key->choices[i] != NULL; i++) {
        if (strcmp(text, key->choices[i]) == 0) {
            *out = i;
            return FL_OK;
        }
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "", key->choices[i]);
    }

    char what[640];
    snprintf(what, sizeof(what), "invalid value '%s'; use one of: %s", text, allowed);
    return key_error(err, at, key, FL_EINVAL, what);
}

static int parse_integer(const char *text, int64_t *out)
{
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0)
        return FL_EINVAL;
    *out = value;
    return FL_OK;
}

char *fl_config_resolve_path(const char *file, const char *text)
{
    const char *slash = strrchr(file, '/');
    if (text[0] == '/' || text[0] == '\0' || slash == NULL)
        return fl_xstrdup(text);

    size_t folder = (size_t)(slash - file);
    size_t size = folder + strlen(text) + 2;
    char *joined = fl_xmalloc(size);
    snprintf(joined, size, "%.*s/%s", (int)folder, file, text);
    return joined;
}

static int store_value(const fl_cfg_key *key, const char *text, const cfg_origin *at,
                       void *target, fl_error *err)
{
    static const char *const byte_units[] = {"K", "KB", "KiB", "M", "MB", "MiB", "G", "GB",
                                             "GiB", NULL};
    static const double byte_scale[] = {1024.0, 1024.0, 1024.0, 1048576.0, 1048576.0,
                                        1048576.0, 1073741824.0, 1073741824.0, 1073741824.0};
    static const char *const time_units[] = {"ms", "s", "m", "min", "h", NULL};
    static const double time_scale[] = {0.001, 1.0, 60.0, 60.0, 3600.0};
    void *field = field_of(target, key);
    double number = 0.0;

    switch (key->type) {
    case FL_CFG_STRING:
        free(*(char **)field);
        *(char **)field = fl_xstrdup(text);
        return FL_OK;

    case FL_CFG_PATH:
        free(*(char **)field);
        *(char **)field = fl_config_resolve_path(at->file, text);
        return FL_OK;

    case FL_CFG_INT: {
        int64_t value = 0;
        if (parse_integer(text, &value) != FL_OK)
            return type_error(key, text, at, err);
        *(int64_t *)field = value;
        return check_bounds(key, (double)value, at, text, err);
    }

    case FL_CFG_DOUBLE: {
        static const char *const none[] = {NULL};
        if (parse_scaled(text, none, NULL, &number) != FL_OK)
            return type_error(key, text, at, err);
        *(double *)field = number;
        return check_bounds(key, number, at, text, err);
    }

    case FL_CFG_BOOL:
        if (parse_bool(text, (bool *)field) != FL_OK)
            return type_error(key, text, at, err);
        return FL_OK;

    case FL_CFG_LIST:
        if (parse_list(text, (fl_strlist *)field) != FL_OK)
            return type_error(key, text, at, err);
        return FL_OK;

    case FL_CFG_ENUM:
        return parse_enum(key, text, at, (int *)field, err);

    case FL_CFG_BYTES:
        if (parse_scaled(text, byte_units, byte_scale, &number) != FL_OK || number < 0 ||
            number > 1.8e19 || number != floor(number))
            return type_error(key, text, at, err);
        *(uint64_t *)field = (uint64_t)number;
        return check_bounds(key, number, at, text, err);

    case FL_CFG_SECONDS:
        if (parse_scaled(text, time_units, time_scale, &number) != FL_OK || number < 0)
            return type_error(key, text, at, err);
        *(double *)field = number;
        return check_bounds(key, number, at, text, err);
    }
    return type_error(key, text, at, err);
}

static const fl_cfg_key *find_key(const fl_cfg_key *table, size_t count, const char *section,
                                  const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(table[i].section, section) == 0 && strcmp(table[i].name, name) == 0)
            return &table[i];
    }
    return NULL;
}

static int unknown_key(const fl_cfg_key *table, size_t count, const cfg_origin *at,
                       const char *name, fl_error *err)
{
    size_t index = fl_spell_closest(name, table, count, sizeof(table[0]),
                                    offsetof(fl_cfg_key, name));
    const fl_cfg_key *closest = index < count ? &table[index] : NULL;

    const char *section = at->section;
    if (closest != NULL)
        return fl_error_set(err, FL_EINVAL,
                            "%s:%d: unknown key '%s'%s%s%s; did you mean '%s' in [%s]?",
                            at->file, at->line, name, section[0] ? " in [" : "", section,
                            section[0] ? "]" : "", closest->name, closest->section);
    return fl_error_set(err, FL_EINVAL,
                        "%s:%d: unknown key '%s'%s%s%s; see the sample configuration for the "
                        "valid keys",
                        at->file, at->line, name, section[0] ? " in [" : "", section,
                        section[0] ? "]" : "");
}

static char *trim(char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        text[--length] = '\0';
    return text;
}

/*
 * Splits the value part of a line: a quoted string keeps '#' and escapes,
 * a bare value ends at a '#' that follows whitespace.
 */
static int parse_value_text(char *raw, char **out)
{
    char *value = trim(raw);
    if (*value != '"') {
        for (char *p = value; *p != '\0'; p++) {
            if (*p == '#' && (p == value || isspace((unsigned char)p[-1]))) {
                *p = '\0';
                break;
            }
        }
        *out = trim(value);
        return FL_OK;
    }

    char *write = value;
    char *read = value + 1;
    while (*read != '\0' && *read != '"') {
        if (*read == '\\' && (read[1] == '"' || read[1] == '\\'))
            read++;
        *write++ = *read++;
    }
    if (*read != '"')
        return FL_EFORMAT;
    char *rest = trim(read + 1);
    if (*rest != '\0' && *rest != '#')
        return FL_EFORMAT;
    *write = '\0';
    *out = value;
    return FL_OK;
}

static int parse_section(char *line, const cfg_origin *at, char *section, size_t size,
                         fl_error *err)
{
    char *close = strchr(line, ']');
    char *rest = close ? trim(close + 1) : NULL;
    if (close == NULL || (*rest != '\0' && *rest != '#'))
        return fl_error_set(err, FL_EFORMAT,
                            "%s:%d: malformed section header '%s'; write it as [name]",
                            at->file, at->line, line);
    *close = '\0';
    snprintf(section, size, "%s", trim(line + 1));
    return FL_OK;
}

static bool section_known(const fl_cfg_key *table, size_t count, const char *section)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(table[i].section, section) == 0)
            return true;
    }
    return false;
}

static int apply_defaults(const fl_cfg_key *table, size_t count, const char *name,
                          void *target, fl_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (table[i].default_text == NULL)
            continue;
        cfg_origin at = {.file = name, .line = 0, .section = table[i].section};
        int rc = store_value(&table[i], table[i].default_text, &at, target, err);
        if (rc != FL_OK)
            return fl_error_prefix(err, "built-in default: ");
    }
    return FL_OK;
}

/* Returns true when text[0..length) is well-formed UTF-8. */
static bool valid_utf8(const unsigned char *text, size_t length)
{
    size_t i = 0;
    while (i < length) {
        unsigned char c = text[i];
        size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2
                                                         : (c >> 3) == 0x1E ? 3 : 4;
        if (extra == 4 || (extra > 0 && c < 0xC2) || i + extra >= length + (extra == 0))
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((text[i + k] & 0xC0) != 0x80)
                return false;
        }
        i += extra + 1;
    }
    return true;
}

static int parse_line(const fl_cfg_key *table, size_t count, char *line, cfg_origin *at,
                      char *section, size_t section_size, bool *seen, void *target,
                      fl_error *err)
{
    line = trim(line);
    if (*line == '\0' || *line == '#' || *line == ';')
        return FL_OK;

    if (*line == '[') {
        int rc = parse_section(line, at, section, section_size, err);
        if (rc != FL_OK)
            return rc;
        if (!section_known(table, count, section))
            return fl_error_set(err, FL_EINVAL,
                                "%s:%d: unknown section [%s]; check its spelling, and that the "
                                "file is meant for this program (see its sample configuration)",
                                at->file, at->line, section);
        return FL_OK;
    }

    char *equals = strchr(line, '=');
    if (equals == NULL)
        return fl_error_set(err, FL_EFORMAT, "%s:%d: expected 'key = value', found '%s'",
                            at->file, at->line, line);
    *equals = '\0';
    char *name = trim(line);

    const fl_cfg_key *key = find_key(table, count, section, name);
    if (key == NULL)
        return unknown_key(table, count, at, name, err);
    if (seen[key - table])
        return key_error(err, at, key, FL_EINVAL, "set twice; keep one of the two lines");
    seen[key - table] = true;

    char *value = NULL;
    if (parse_value_text(equals + 1, &value) != FL_OK)
        return key_error(err, at, key, FL_EFORMAT, "unterminated quoted string");
    if (*value == '\0' && key->type != FL_CFG_STRING && key->type != FL_CFG_PATH &&
        key->type != FL_CFG_LIST)
        return key_error(err, at, key, FL_EINVAL, "empty value");
    return store_value(key, value, at, target, err);
}

int fl_config_parse(const fl_cfg_key *table, size_t count, const char *name, const char *text,
                    size_t length, void *target, fl_error *err)
{
    if (count > CFG_MAX_KEYS)
        return fl_error_set(err, FL_EINVAL, "configuration table has too many keys");
    int rc = apply_defaults(table, count, name, target, err);
    if (rc != FL_OK)
        return rc;

    bool seen[CFG_MAX_KEYS] = {false};
    char section[128] = "";
    cfg_origin at = {.file = name, .line = 0, .section = section};
    size_t start = 0;
    while (start < length) {
        size_t end = start;
        while (end < length && text[end] != '\n')
            end++;
        at.line++;
        if (memchr(text + start, '\0', end - start) != NULL)
            return fl_error_set(err, FL_EFORMAT, "%s:%d: line contains a NUL byte", name,
                                at.line);
        if (!valid_utf8((const unsigned char *)text + start, end - start))
            return fl_error_set(err, FL_EFORMAT,
                                "%s:%d: not valid UTF-8; save the file as UTF-8 (for example "
                                "iconv -f GB18030 -t UTF-8)",
                                name, at.line);

        char *line = fl_xstrndup(text + start, end - start);
        rc = parse_line(table, count, line, &at, section, sizeof(section), seen, target, err);
        free(line);
        if (rc != FL_OK)
            return rc;
        start = end + 1;
    }

    for (size_t i = 0; i < count; i++) {
        if (table[i].required && !seen[i]) {
            cfg_origin end_at = {.file = name, .line = 0, .section = table[i].section};
            return key_error(err, &end_at, &table[i], FL_EINVAL,
                             "missing; this key is required");
        }
    }
    return FL_OK;
}

int fl_config_load(const fl_cfg_key *table, size_t count, const char *path, void *target,
                   fl_error *err)
{
    char *text = NULL;
    size_t length = 0;
    int rc = fl_file_read_all(path, 16u << 20, &text, &length, err);
    if (rc != FL_OK)
        return rc;
    rc = fl_config_parse(table, count, path, text, length, target, err);
    free(text);
    return rc;
}

void fl_config_release(const fl_cfg_key *table, size_t count, void *target)
{
    for (size_t i = 0; i < count; i++) {
        void *field = field_of(target, &table[i]);
        if (table[i].type == FL_CFG_STRING || table[i].type == FL_CFG_PATH) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (table[i].type == FL_CFG_LIST) {
            fl_strlist_release((fl_strlist *)field);
        }
    }
}

void fl_config_write_sample(const fl_cfg_key *table, size_t count, FILE *out)
{
    const char *section = NULL;
    for (size_t i = 0; i < count; i++) {
        const fl_cfg_key *key = &table[i];
        if (section == NULL || strcmp(section, key->section) != 0) {
            section = key->section;
            if (section[0] != '\0')
                fprintf(out, "\n[%s]\n", section);
        }
        fprintf(out, "\n# %s%s\n", key->help, key->required ? " (required)" : "");
        if (key->choices != NULL) {
            fprintf(out, "# One of:");
            for (int c = 0; key->choices[c] != NULL; c++)
                fprintf(out, " %s", key->choices[c]);
            fprintf(out, "\n");
        }
        if (key->min <= key->max)
            fprintf(out, "# Range: %g to %g\n", key->min, key->max);
        if (key->default_text != NULL)
            fprintf(out, "%s%s = %s\n", key->required ? "" : "# ", key->name, key->default_text);
        else
            fprintf(out, "%s%s =\n", key->required ? "" : "# ", key->name);
    }
}

void fl_strlist_release(fl_strlist *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

bool fl_strlist_contains(const fl_strlist *list, const char *item)
{
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i], item) == 0)
            return true;
    }
    return false;
}
