/* A checkpoint folder: one safetensors file or a set of shards with an index. */
#include "st_file.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_json.h"
#include "fl_mem.h"

#define ST_MAX_INDEX_BYTES (64u * 1024u * 1024u)

struct st_set {
    char *source; /* the index file, or the single safetensors file */
    size_t file_count;
    st_file **files;
};

static int add_file(st_set *set, const char *path, fl_error *err)
{
    st_file *file = NULL;
    int rc = st_file_open(&file, path, err);
    if (rc != FL_OK)
        return rc;
    set->files = fl_xrealloc(set->files, (set->file_count + 1) * sizeof(*set->files));
    set->files[set->file_count++] = file;
    return FL_OK;
}

static bool has_file(const st_set *set, const char *path)
{
    for (size_t i = 0; i < set->file_count; i++) {
        if (strcmp(st_file_path(set->files[i]), path) == 0)
            return true;
    }
    return false;
}

/* Opens every shard the index names and checks that each mapped tensor is in its shard. */
static int open_shards(st_set *set, const char *folder, const char *index_path, fl_error *err)
{
    json_t *index = fl_json_load_file(index_path, ST_MAX_INDEX_BYTES, err);
    if (index == NULL)
        return err != NULL ? err->code : FL_EFORMAT;
    int rc = FL_OK;
    json_t *map = json_object_get(index, "weight_map");
    if (!json_is_object(map)) {
        rc = fl_error_set(err, FL_EFORMAT, "%s: missing object \"weight_map\"", index_path);
        goto free_index;
    }

    const char *name;
    json_t *shard;
    json_object_foreach(map, name, shard) {
        const char *file = json_string_value(shard);
        if (file == NULL || strchr(file, '/') != NULL || file[0] == '.') {
            rc = fl_error_set(err, FL_EFORMAT,
                              "%s: weight_map entry '%s' must name a file in the same folder",
                              index_path, name);
            goto free_index;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", folder, file);
        if (!has_file(set, path) && (rc = add_file(set, path, err)) != FL_OK)
            goto free_index;
        const st_file *owner = NULL;
        const st_tensor *tensor = st_set_find(set, name, &owner);
        if (tensor == NULL || strcmp(st_file_path(owner), path) != 0) {
            rc = fl_error_set(err, FL_EFORMAT, "%s: tensor '%s' is mapped to %s but not found there",
                              index_path, name, path);
            goto free_index;
        }
    }

free_index:
    json_decref(index);
    return rc;
}

int st_set_open(st_set **out, const char *folder, const char *prefix, fl_error *err)
{
    *out = NULL;
    st_set *set = fl_xcalloc(1, sizeof(*set));
    char index_path[4096];
    char single_path[4096];
    snprintf(index_path, sizeof(index_path), "%s/%s.safetensors.index.json", folder, prefix);
    snprintf(single_path, sizeof(single_path), "%s/%s.safetensors", folder, prefix);

    int rc;
    if (access(index_path, F_OK) == 0) {
        set->source = fl_xstrdup(index_path);
        rc = open_shards(set, folder, index_path, err);
    } else if (access(single_path, F_OK) == 0) {
        set->source = fl_xstrdup(single_path);
        rc = add_file(set, single_path, err);
    } else {
        rc = fl_error_set(err, FL_ENOTFOUND, "%s: neither %s.safetensors nor %s found", folder,
                          prefix, strrchr(index_path, '/') + 1);
    }
    if (rc != FL_OK) {
        st_set_destroy(&set);
        return rc;
    }
    *out = set;
    return FL_OK;
}

void st_set_destroy(st_set **set)
{
    if (set == NULL || *set == NULL)
        return;
    for (size_t i = 0; i < (*set)->file_count; i++)
        st_file_destroy(&(*set)->files[i]);
    free((*set)->files);
    free((*set)->source);
    free(*set);
    *set = NULL;
}

const st_tensor *st_set_find(const st_set *set, const char *name, const st_file **file)
{
    for (size_t i = 0; i < set->file_count; i++) {
        const st_tensor *tensor = st_file_find(set->files[i], name);
        if (tensor != NULL) {
            if (file != NULL)
                *file = set->files[i];
            return tensor;
        }
    }
    return NULL;
}

const char *st_set_source(const st_set *set)
{
    return set->source;
}

size_t st_set_file_count(const st_set *set)
{
    return set->file_count;
}

const st_file *st_set_file(const st_set *set, size_t i)
{
    return set->files[i];
}

static void format_shape(char *text, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(text, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(text + used, size - used, "%s%lld", d ? ", " : "",
                                 (long long)shape[d]);
    if (used < size)
        snprintf(text + used, size - used, "]");
}

int st_set_read_f32(const st_set *set, const char *name, int ndim, const int64_t *shape,
                    float *out, fl_error *err)
{
    const st_file *file = NULL;
    const st_tensor *tensor = st_set_find(set, name, &file);
    if (tensor == NULL)
        return fl_error_set(err, FL_ENOTFOUND, "%s: tensor '%s' not found", set->source, name);

    bool same = tensor->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = tensor->shape[d] == shape[d];
    if (!same) {
        char found[128];
        char expected[128];
        format_shape(found, sizeof(found), tensor->ndim, tensor->shape);
        format_shape(expected, sizeof(expected), ndim, shape);
        return fl_error_set(err, FL_EFORMAT,
                            "%s: tensor '%s' has shape %s but the configuration needs %s",
                            st_file_path(file), name, found, expected);
    }
    return st_file_read_f32(file, tensor, out, err);
}
