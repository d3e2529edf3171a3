#include "coord_job.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_json.h"
#include "fl_spell.h"
#include "tr_config.h"

typedef enum field_type {
    F_INT, F_U64, F_DOUBLE, F_BOOL, F_TEXT, F_ENUM, F_TARGETS, F_OBJECT
} field_type;

typedef struct job_field {
    const char *path;          /* dotted path in the JSON object */
    field_type type;
    size_t offset;             /* offsetof in coord_job_spec */
    size_t size;               /* F_TEXT: buffer size */
    const char *default_json;  /* JSON text of the default; NULL for a required field */
    double min, max;           /* inclusive bounds of numbers */
    const char *const *choices;/* F_ENUM */
} job_field;

static const char *const s_modes[] = {"standard", "frozen-a", NULL};
static const char *const s_targets[] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                        "gate_proj", "up_proj", "down_proj", NULL};

#define AT(field) offsetof(coord_job_spec, field)
#define SIZE(field) sizeof(((coord_job_spec *)0)->field)

static const job_field s_fields[] = {
    {"id", F_TEXT, AT(id), SIZE(id), NULL, 1, COORD_JOB_ID_MAX, NULL},
    {"researcher", F_TEXT, AT(researcher), SIZE(researcher), NULL, 1, COORD_JOB_ID_MAX, NULL},
    {"base_model.name", F_TEXT, AT(base_model_name), SIZE(base_model_name), NULL, 1, 255, NULL},
    {"base_model.hash", F_TEXT, AT(base_model_hash), SIZE(base_model_hash), NULL, 64, 64, NULL},
    {"base_model.config", F_OBJECT, AT(base_model_config), SIZE(base_model_config), NULL, 0, 0,
     NULL},
    {"lora.r", F_INT, AT(lora_r), 0, "16", 1, 1024, NULL},
    {"lora.alpha", F_DOUBLE, AT(lora_alpha), 0, "32", 1e-6, 1e6, NULL},
    {"lora.dropout", F_DOUBLE, AT(lora_dropout), 0, "0", 0, 0.95, NULL},
    {"lora.targets", F_TARGETS, 0, 0, "[\"q_proj\",\"v_proj\"]", 1, COORD_JOB_TARGETS_MAX,
     s_targets},
    {"lora.mode", F_ENUM, AT(lora_mode), 0, "\"standard\"", 0, 0, s_modes},
    {"lora.use_rslora", F_BOOL, AT(use_rslora), 0, "false", 0, 0, NULL},
    {"lora.seed", F_U64, AT(lora_seed), 0, "1", 0, 9007199254740991.0, NULL},
    {"rounds", F_INT, AT(rounds), 0, "5", 1, 100000, NULL},
    {"local_steps", F_INT, AT(local_steps), 0, "20", 1, 10000000, NULL},
    {"learning_rate", F_DOUBLE, AT(learning_rate), 0, "0.0002", 1e-9, 10, NULL},
    {"batch_size", F_INT, AT(batch_size), 0, "4", 1, 4096, NULL},
    {"seq_len", F_INT, AT(seq_len), 0, "256", 8, 131072, NULL},
    {"server_optimizer.name", F_ENUM, AT(server_optimizer.kind), 0, "\"fedavg\"", 0, 0,
     coord_optim_names},
    {"server_optimizer.server_lr", F_DOUBLE, AT(server_optimizer.server_lr), 0, NULL, 1e-9, 100,
     NULL},
    {"server_optimizer.momentum", F_DOUBLE, AT(server_optimizer.momentum), 0, "0.9", 0, 0.999999,
     NULL},
    {"server_optimizer.beta1", F_DOUBLE, AT(server_optimizer.beta1), 0, "0.9", 0, 0.999999, NULL},
    {"server_optimizer.beta2", F_DOUBLE, AT(server_optimizer.beta2), 0, "0.99", 0, 0.999999,
     NULL},
    {"server_optimizer.tau", F_DOUBLE, AT(server_optimizer.tau), 0, "0.001", 1e-12, 10, NULL},
    {"min_sites", F_INT, AT(min_sites), 0, "3", 3, 10000, NULL},
    {"round_deadline_s", F_DOUBLE, AT(round_deadline_s), 0, "3600", 1, 30 * 86400.0, NULL},
    {"round_retries", F_INT, AT(round_retries), 0, "2", 0, 1000, NULL},
    {"secure_aggregation.enabled", F_BOOL, AT(secure_aggregation), 0, "true", 0, 0, NULL},
    {"secure_aggregation.threshold", F_INT, AT(secagg_threshold), 0, "0", 0, 10000, NULL},
    {"secure_aggregation.clip_bound", F_DOUBLE, AT(clip_bound), 0, "0.01", 1e-9, 1e6, NULL},
    {"secure_aggregation.bits", F_INT, AT(quant_bits), 0, "16", 2, 31, NULL},
    {"secure_aggregation.max_weight", F_INT, AT(max_weight), 0, "256", 1, 1 << 24, NULL},
};
#define FIELD_COUNT (sizeof(s_fields) / sizeof(s_fields[0]))

/* Follows a dotted path; returns NULL when a component is missing. */
static const json_t *lookup(const json_t *root, const char *path)
{
    char component[64];
    const json_t *node = root;
    while (node != NULL && *path != '\0') {
        const char *dot = strchr(path, '.');
        size_t length = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(component, sizeof(component), "%.*s", (int)length, path);
        node = json_is_object(node) ? json_object_get(node, component) : NULL;
        path += length + (dot ? 1 : 0);
    }
    return node;
}

static int out_of_range(const char *where, const job_field *field, double value, fl_error *err)
{
    return fl_error_set(err, FL_ERANGE, "%s: field '%s': %g is out of range; use %g to %g",
                        where, field->path, value, field->min, field->max);
}

static int wrong_type(const char *where, const job_field *field, const char *expected,
                      fl_error *err)
{
    return fl_error_set(err, FL_EFORMAT, "%s: field '%s' must be %s", where, field->path,
                        expected);
}

static int store_number(coord_job_spec *job, const job_field *field, const json_t *value,
                        const char *where, fl_error *err)
{
    char *base = (char *)job;
    if (field->type == F_DOUBLE) {
        if (!json_is_number(value))
            return wrong_type(where, field, "a number", err);
        double number = json_number_value(value);
        if (!isfinite(number) || number < field->min || number > field->max)
            return out_of_range(where, field, number, err);
        *(double *)(base + field->offset) = number;
        return FL_OK;
    }

    if (!json_is_integer(value))
        return wrong_type(where, field, "an integer", err);
    json_int_t number = json_integer_value(value);
    if ((double)number < field->min || (double)number > field->max)
        return out_of_range(where, field, (double)number, err);
    if (field->type == F_INT)
        *(int *)(base + field->offset) = (int)number;
    else
        *(uint64_t *)(base + field->offset) = (uint64_t)number;
    return FL_OK;
}

static int choice_index(const char *const *choices, const char *text)
{
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcmp(choices[i], text) == 0)
            return i;
    }
    return -1;
}

static int invalid_choice(const char *where, const job_field *field, const char *text,
                          fl_error *err)
{
    char allowed[256] = "";
    for (int i = 0; field->choices[i] != NULL; i++) {
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
                 field->choices[i]);
    }
    return fl_error_set(err, FL_EINVAL, "%s: field '%s': invalid value '%s'; use one of: %s",
                        where, field->path, text, allowed);
}

static int store_targets(coord_job_spec *job, const job_field *field, const json_t *value,
                         const char *where, fl_error *err)
{
    if (!json_is_array(value) || json_array_size(value) < 1 ||
        json_array_size(value) > COORD_JOB_TARGETS_MAX)
        return wrong_type(where, field, "a list of 1 to 7 module names", err);

    job->lora_target_count = 0;
    size_t index;
    const json_t *item;
    json_array_foreach(value, index, item) {
        const char *name = json_string_value(item);
        if (name == NULL)
            return wrong_type(where, field, "a list of module names", err);
        if (choice_index(field->choices, name) < 0)
            return invalid_choice(where, field, name, err);
        for (int i = 0; i < job->lora_target_count; i++) {
            if (strcmp(job->lora_targets[i], name) == 0)
                return fl_error_set(err, FL_EINVAL, "%s: field '%s': '%s' is listed twice",
                                    where, field->path, name);
        }
        snprintf(job->lora_targets[job->lora_target_count++], sizeof(job->lora_targets[0]),
                 "%s", name);
    }
    return FL_OK;
}

static int store_text(coord_job_spec *job, const job_field *field, const json_t *value,
                      const char *where, fl_error *err)
{
    const char *text = json_string_value(value);
    if (text == NULL)
        return wrong_type(where, field, "a string", err);
    size_t length = strlen(text);
    if ((double)length < field->min || (double)length > field->max)
        return fl_error_set(err, FL_ERANGE,
                            "%s: field '%s': '%.40s' has %zu characters; use %g to %g", where,
                            field->path, text, length, field->min, field->max);
    for (const char *p = text; *p != '\0'; p++) {
        if (iscntrl((unsigned char)*p))
            return fl_error_set(err, FL_EINVAL, "%s: field '%s' contains a control character",
                                where, field->path);
    }
    snprintf((char *)job + field->offset, field->size, "%s", text);
    return FL_OK;
}

/* Stores an object as compact JSON text; the model config is checked as a config.json. */
static int store_object(coord_job_spec *job, const job_field *field, const json_t *value,
                        const char *where, fl_error *err)
{
    if (!json_is_object(value))
        return wrong_type(where, field, "a JSON object", err);
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    size_t length = text ? strlen(text) : 0;
    if (text == NULL || length >= field->size) {
        free(text);
        return fl_error_set(err, FL_ERANGE, "%s: field '%s' is larger than %zu bytes", where,
                            field->path, field->size - 1);
    }
    memcpy((char *)job + field->offset, text, length + 1);
    free(text);

    char context[512];
    snprintf(context, sizeof(context), "%s: field '%s'", where, field->path);
    tr_config model;
    return tr_config_from_json(&model, value, context, -1, err);
}

static int store_field(coord_job_spec *job, const job_field *field, const json_t *value,
                       const char *where, fl_error *err)
{
    switch (field->type) {
    case F_INT:
    case F_U64:
    case F_DOUBLE:
        return store_number(job, field, value, where, err);
    case F_BOOL:
        if (!json_is_boolean(value))
            return wrong_type(where, field, "true or false", err);
        *(bool *)((char *)job + field->offset) = json_is_true(value);
        return FL_OK;
    case F_TEXT:
        return store_text(job, field, value, where, err);
    case F_ENUM: {
        const char *text = json_string_value(value);
        int index = text ? choice_index(field->choices, text) : -1;
        if (index < 0)
            return invalid_choice(where, field, text ? text : "(not a string)", err);
        *(int *)((char *)job + field->offset) = index;
        return FL_OK;
    }
    case F_TARGETS:
        return store_targets(job, field, value, where, err);
    case F_OBJECT:
        return store_object(job, field, value, where, err);
    }
    return FL_EINVAL;
}

/* Reports an unknown field path, naming the closest known one when it is 1 or 2 edits away. */
static int unknown_field(const char *path, const char *where, fl_error *err)
{
    size_t closest = fl_spell_closest(path, s_fields, FIELD_COUNT, sizeof(s_fields[0]),
                                      offsetof(job_field, path));
    if (closest < FIELD_COUNT)
        return fl_error_set(err, FL_EINVAL, "%s: unknown field '%s'; did you mean '%s'?", where,
                            path, s_fields[closest].path);
    return fl_error_set(err, FL_EINVAL,
                        "%s: unknown field '%s'; check its spelling against the job file "
                        "reference in the researcher guide",
                        where, path);
}

/* Rejects keys of object (at prefix) that no field path starts with. */
static int check_unknown(const json_t *object, const char *prefix, const char *where,
                         fl_error *err)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)object, key, value) {
        char path[128];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        size_t length = strlen(path);
        bool known = false;
        bool is_group = false;
        for (size_t i = 0; i < FIELD_COUNT; i++) {
            if (strcmp(s_fields[i].path, path) == 0)
                known = true;
            if (strncmp(s_fields[i].path, path, length) == 0 && s_fields[i].path[length] == '.')
                is_group = true;
        }
        if (is_group) {
            if (!json_is_object(value))
                return fl_error_set(err, FL_EFORMAT, "%s: field '%s' must be an object", where,
                                    path);
            int rc = check_unknown(value, path, where, err);
            if (rc != FL_OK)
                return rc;
        } else if (!known) {
            return unknown_field(path, where, err);
        }
    }
    return FL_OK;
}

static int apply_defaults(coord_job_spec *job)
{
    coord_optim_defaults(&job->server_optimizer, COORD_OPTIM_FEDAVG);
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (s_fields[i].default_json == NULL)
            continue;
        json_t *value = json_loads(s_fields[i].default_json, JSON_DECODE_ANY, NULL);
        int rc = store_field(job, &s_fields[i], value, "built-in default", NULL);
        json_decref(value);
        if (rc != FL_OK)
            return rc;
    }
    return FL_OK;
}

static const job_field *find_field(const char *path)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strcmp(s_fields[i].path, path) == 0)
            return &s_fields[i];
    }
    return NULL;
}

/* The server learning rate has no fixed default: it depends on the optimizer. */
static bool default_from_optimizer(const job_field *field)
{
    return strcmp(field->path, "server_optimizer.server_lr") == 0;
}

static int check_consistency(const coord_job_spec *job, const char *where, fl_error *err)
{
    for (const char *p = job->base_model_hash; *p != '\0'; p++) {
        if (!isxdigit((unsigned char)*p))
            return fl_error_set(err, FL_EINVAL,
                                "%s: field 'base_model.hash' must be 64 hex digits, as printed "
                                "by 'fedlora model hash DIR'",
                                where);
    }
    if (job->secagg_threshold != 0 && job->secagg_threshold < job->min_sites / 2 + 1)
        return fl_error_set(err, FL_EINVAL,
                            "%s: field 'secure_aggregation.threshold' is %d but must be more "
                            "than half of min_sites (%d); use at least %d or 0 for automatic",
                            where, job->secagg_threshold, job->min_sites,
                            job->min_sites / 2 + 1);

    if (!job->secure_aggregation)
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "%s: field 'secure_aggregation.enabled' is false, but fedlora "
                            "aggregates every job with secure aggregation; remove the field",
                            where);

    fl_error detail = {0};
    if (coord_optim_validate(&job->server_optimizer, &detail) != FL_OK)
        return fl_error_set(err, FL_EINVAL, "%s: %s", where, detail.msg);
    return FL_OK;
}

int coord_job_from_json(coord_job_spec *job, const json_t *root, const char *where,
                        fl_error *err)
{
    memset(job, 0, sizeof(*job));
    if (!json_is_object(root))
        return fl_error_set(err, FL_EFORMAT, "%s: a job must be a JSON object", where);
    int rc = check_unknown(root, "", where, err);
    if (rc != FL_OK)
        return rc;
    rc = apply_defaults(job);
    if (rc != FL_OK)
        return fl_error_set(err, rc, "%s: invalid built-in default", where);

    /* The optimizer's name selects the defaults of its other parameters. */
    const json_t *name = lookup(root, "server_optimizer.name");
    if (name != NULL) {
        rc = store_field(job, find_field("server_optimizer.name"), name, where, err);
        if (rc != FL_OK)
            return rc;
        coord_optim_defaults(&job->server_optimizer, job->server_optimizer.kind);
    }

    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const json_t *value = lookup(root, s_fields[i].path);
        if (value == NULL && s_fields[i].default_json == NULL &&
            !default_from_optimizer(&s_fields[i]))
            return fl_error_set(err, FL_EINVAL, "%s: missing required field '%s'%s", where,
                                s_fields[i].path,
                                strncmp(s_fields[i].path, "base_model.", 11) == 0 &&
                                        strcmp(s_fields[i].path, "base_model.name") != 0
                                    ? "; 'fedlora job submit --model DIR' fills it in"
                                    : "");
        if (value == NULL)
            continue;
        rc = store_field(job, &s_fields[i], value, where, err);
        if (rc != FL_OK)
            return rc;
    }
    return check_consistency(job, where, err);
}

int coord_job_load(coord_job_spec *job, const char *path, fl_error *err)
{
    json_t *root = fl_json_load_file(path, 1 << 20, err);
    if (root == NULL)
        return err ? err->code : FL_EFORMAT;
    int rc = coord_job_from_json(job, root, path, err);
    json_decref(root);
    return rc;
}

/* Sets a dotted path in root, creating intermediate objects. Steals value. */
static void set_path(json_t *root, const char *path, json_t *value)
{
    const char *dot = strchr(path, '.');
    if (dot == NULL) {
        json_object_set_new(root, path, value);
        return;
    }
    char group[64];
    snprintf(group, sizeof(group), "%.*s", (int)(dot - path), path);
    json_t *child = json_object_get(root, group);
    if (child == NULL) {
        child = json_object();
        json_object_set_new(root, group, child);
    }
    set_path(child, dot + 1, value);
}

json_t *coord_job_to_json(const coord_job_spec *job)
{
    json_t *root = json_object();
    const char *base = (const char *)job;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const job_field *field = &s_fields[i];
        const char *at = base + field->offset;
        json_t *value = NULL;
        switch (field->type) {
        case F_INT: value = json_integer(*(const int *)at); break;
        case F_U64: value = json_integer((json_int_t)*(const uint64_t *)at); break;
        case F_DOUBLE: value = json_real(*(const double *)at); break;
        case F_BOOL: value = json_boolean(*(const bool *)at); break;
        case F_TEXT: value = json_string(at); break;
        case F_ENUM: value = json_string(field->choices[*(const int *)at]); break;
        case F_TARGETS:
            value = json_array();
            for (int t = 0; t < job->lora_target_count; t++)
                json_array_append_new(value, json_string(job->lora_targets[t]));
            break;
        case F_OBJECT:
            value = json_loads(at, 0, NULL);
            break;
        }
        set_path(root, field->path, value);
    }
    return root;
}
