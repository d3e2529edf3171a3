/* Writing float32 safetensors files. */
#include "st_file.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_file.h"
#include "fl_mem.h"

typedef struct st_entry {
    char *name;
    const float *data;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t bytes;
} st_entry;

struct st_writer {
    size_t count;
    st_entry *entries;
};

st_writer *st_writer_new(void)
{
    return fl_xcalloc(1, sizeof(st_writer));
}

void st_writer_destroy(st_writer **writer)
{
    if (writer == NULL || *writer == NULL)
        return;
    for (size_t i = 0; i < (*writer)->count; i++)
        free((*writer)->entries[i].name);
    free((*writer)->entries);
    free(*writer);
    *writer = NULL;
}

int st_writer_add(st_writer *writer, const char *name, const float *data, int ndim,
                  const int64_t *shape)
{
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return FL_EINVAL;
    for (size_t i = 0; i < writer->count; i++) {
        if (strcmp(writer->entries[i].name, name) == 0)
            return FL_EEXIST;
    }
    writer->entries = fl_xrealloc(writer->entries, (writer->count + 1) * sizeof(st_entry));
    st_entry *e = &writer->entries[writer->count++];
    e->name = fl_xstrdup(name);
    e->data = data;
    e->ndim = ndim;
    e->bytes = sizeof(float);
    for (int d = 0; d < ndim; d++) {
        e->shape[d] = shape[d];
        e->bytes *= (size_t)shape[d];
    }
    return FL_OK;
}

/* Builds the header JSON, padded with spaces to a multiple of 8 bytes. Caller frees. */
static char *build_header(const st_writer *writer, size_t *length)
{
    json_t *root = json_object();
    json_object_set_new(root, "__metadata__", json_pack("{s:s}", "format", "pt"));
    size_t offset = 0;
    for (size_t i = 0; i < writer->count; i++) {
        const st_entry *e = &writer->entries[i];
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++)
            json_array_append_new(shape, json_integer(e->shape[d]));
        json_t *entry = json_pack("{s:s,s:o,s:[I,I]}", "dtype", "F32", "shape", shape,
                                  "data_offsets", (json_int_t)offset,
                                  (json_int_t)(offset + e->bytes));
        json_object_set_new(root, e->name, entry);
        offset += e->bytes;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL)
        return NULL;

    size_t used = strlen(text);
    size_t padded = (used + 7) / 8 * 8;
    char *header = fl_xmalloc(padded);
    memcpy(header, text, used);
    memset(header + used, ' ', padded - used);
    free(text);
    *length = padded;
    return header;
}

static int write_bytes(FILE *stream, const void *data, size_t length, const char *path,
                       fl_error *err)
{
    if (length > 0 && fwrite(data, 1, length, stream) != length)
        return fl_error_set(err, FL_EIO, "%s: write failed: %s", path, strerror(errno));
    return FL_OK;
}

int st_writer_save(const st_writer *writer, const char *path, fl_error *err)
{
    size_t header_length = 0;
    char *header = build_header(writer, &header_length);
    if (header == NULL)
        return fl_error_set(err, FL_ENOMEM, "%s: cannot serialise the header", path);

    char temporary[4096];
    snprintf(temporary, sizeof(temporary), "%s.tmp.%ld", path, (long)getpid());
    int rc = FL_OK;
    FILE *stream = fopen(temporary, "wb");
    if (stream == NULL) {
        rc = fl_error_set(err, FL_EIO, "%s: cannot create: %s", temporary, strerror(errno));
        goto free_header;
    }

    uint8_t length_bytes[8];
    for (int i = 0; i < 8; i++)
        length_bytes[i] = (uint8_t)((uint64_t)header_length >> (8 * i));
    rc = write_bytes(stream, length_bytes, 8, temporary, err);
    if (rc == FL_OK)
        rc = write_bytes(stream, header, header_length, temporary, err);
    for (size_t i = 0; i < writer->count && rc == FL_OK; i++)
        rc = write_bytes(stream, writer->entries[i].data, writer->entries[i].bytes, temporary,
                         err);
    if (rc == FL_OK && (fflush(stream) != 0 || fsync(fileno(stream)) != 0))
        rc = fl_error_set(err, FL_EIO, "%s: flush failed: %s", temporary, strerror(errno));
    if (fclose(stream) != 0 && rc == FL_OK)
        rc = fl_error_set(err, FL_EIO, "%s: close failed: %s", temporary, strerror(errno));
    if (rc == FL_OK && rename(temporary, path) != 0)
        rc = fl_error_set(err, FL_EIO, "%s: cannot rename into place: %s", path,
                          strerror(errno));
    if (rc == FL_OK)
        rc = fl_file_sync_parent(path, err);
    if (rc != FL_OK)
        unlink(temporary);

free_header:
    free(header);
    return rc;
}
