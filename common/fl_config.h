/*
 * fl_config.h - table-driven reader for fedlora's configuration files.
 *
 * The file format is INI-like:
 *
 *   # comment
 *   [network]
 *   bind = tcp://0.0.0.0:7700
 *   sites = hospital-a, hospital-b      # a list
 *   name = "text with # inside"         # quoted string
 *
 * Each program describes its keys in a table of fl_cfg_key rows. Loading
 * applies the defaults, then the file. Any unknown key, duplicate key, wrong
 * type, out-of-range value or missing required key stops loading with an
 * fl_error that names the file, the line and the key.
 */
#ifndef FL_CONFIG_H
#define FL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fl_error.h"

typedef enum fl_cfg_type {
    FL_CFG_STRING,  /* char * (heap; freed by fl_config_release) */
    FL_CFG_INT,     /* int64_t */
    FL_CFG_DOUBLE,  /* double */
    FL_CFG_BOOL,    /* bool: true/false, yes/no, on/off */
    FL_CFG_LIST,    /* fl_strlist: comma-separated strings */
    FL_CFG_ENUM,    /* int: index into choices */
    FL_CFG_BYTES,   /* uint64_t bytes: 512, 64K, 4M, 2G */
    FL_CFG_SECONDS, /* double seconds: 0.5, 250ms, 30s, 5m, 2h */
    FL_CFG_PATH     /* char * (heap): a relative path is taken from the config file's folder */
} fl_cfg_type;

typedef struct fl_strlist {
    char **items;
    size_t count;
} fl_strlist;

typedef struct fl_cfg_key {
    const char *section;        /* "" for keys before the first [section] */
    const char *name;
    fl_cfg_type type;
    size_t offset;              /* offsetof() of the field in the target struct */
    const char *default_text;   /* parsed like a file value; NULL for none */
    bool required;
    double min, max;            /* inclusive bounds; ignored when min > max */
    const char *const *choices; /* FL_CFG_ENUM: NULL-terminated names */
    const char *help;           /* one line, with the unit */
} fl_cfg_key;

#define FL_CFG_NO_BOUNDS 1.0, 0.0

/*
 * Loads path into target using table. On failure target holds whatever was
 * parsed; call fl_config_release() in both cases. Returns 0 or a negative
 * fl_status with the detail in err.
 */
int fl_config_load(const fl_cfg_key *table, size_t count, const char *path, void *target,
                   fl_error *err) FL_WARN_UNUSED;

/* Same as fl_config_load, reading text in memory; name is used in messages. */
int fl_config_parse(const fl_cfg_key *table, size_t count, const char *name, const char *text,
                    size_t length, void *target, fl_error *err) FL_WARN_UNUSED;

/* Frees the strings and lists that loading stored in target. */
void fl_config_release(const fl_cfg_key *table, size_t count, void *target);

/* Writes a commented sample file listing every key with its help and default. */
void fl_config_write_sample(const fl_cfg_key *table, size_t count, FILE *out);

/*
 * Returns text when it is an absolute path or file has no folder part,
 * otherwise text joined to the folder of file. Caller frees the result.
 */
char *fl_config_resolve_path(const char *file, const char *text);

/* Frees the items of list and clears it. */
void fl_strlist_release(fl_strlist *list);

/* Returns true when list contains item (exact match). */
bool fl_strlist_contains(const fl_strlist *list, const char *item);

#endif
