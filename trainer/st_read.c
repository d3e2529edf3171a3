/* Validated reading of one safetensors file (layout in st_file.h). */
#include "st_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_mem.h"

struct st_file {
    char *path;
    const uint8_t *map;   /* whole file, read-only */
    size_t map_size;
    int mapped;           /* map came from mmap and is unmapped on destroy */
    const uint8_t *data;  /* start of the data section */
    size_t tensor_count;
    st_tensor *tensors;
};

static const struct {
    const char *name;
    size_t size;
} s_dtypes[] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1},
    [ST_I16] = {"I16", 2},   [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4},   [ST_U32] = {"U32", 4},
    [ST_F32] = {"F32", 4},   [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},
    [ST_U64] = {"U64", 8},
};
#define DTYPE_COUNT (sizeof(s_dtypes) / sizeof(s_dtypes[0]))

const char *st_dtype_name(st_dtype dtype)
{
    return s_dtypes[dtype].name;
}

size_t st_dtype_size(st_dtype dtype)
{
    return s_dtypes[dtype].size;
}

static int dtype_from_name(const char *name, st_dtype *out)
{
    for (size_t i = 0; i < DTYPE_COUNT; i++) {
        if (strcmp(s_dtypes[i].name, name) == 0) {
            *out = (st_dtype)i;
            return FL_OK;
        }
    }
    return FL_EFORMAT;
}

static int parse_shape(const char *path, const char *name, json_t *shape, st_tensor *t,
                       fl_error *err)
{
    if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: tensor '%s': \"shape\" must be an array of at most %d "
                            "non-negative integers", path, name, ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    t->elements = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *dim = json_array_get(shape, (size_t)d);
        if (!json_is_integer(dim) || json_integer_value(dim) < 0)
            return fl_error_set(err, FL_EFORMAT,
                                "%s: tensor '%s': shape[%d] is not a non-negative integer",
                                path, name, d);
        t->shape[d] = json_integer_value(dim);
        if (t->shape[d] != 0 && t->elements > INT64_MAX / 8 / t->shape[d])
            return fl_error_set(err, FL_EFORMAT,
                                "%s: tensor '%s': shape has too many elements", path, name);
        t->elements *= t->shape[d];
    }
    return FL_OK;
}

static int parse_offsets(const char *path, const char *name, json_t *offsets, st_tensor *t,
                         fl_error *err)
{
    json_t *begin = json_array_get(offsets, 0);
    json_t *end = json_array_get(offsets, 1);
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 || !json_is_integer(begin) ||
        !json_is_integer(end) || json_integer_value(begin) < 0 ||
        json_integer_value(end) < json_integer_value(begin))
        return fl_error_set(err, FL_EFORMAT,
                            "%s: tensor '%s': \"data_offsets\" must be [begin, end] with "
                            "0 <= begin <= end", path, name);
    t->begin = (uint64_t)json_integer_value(begin);
    t->end = (uint64_t)json_integer_value(end);

    uint64_t expected = (uint64_t)t->elements * st_dtype_size(t->dtype);
    if (t->end - t->begin != expected)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: tensor '%s': data_offsets span %llu bytes but shape and "
                            "dtype %s need %llu; the header does not match the data",
                            path, name, (unsigned long long)(t->end - t->begin),
                            st_dtype_name(t->dtype), (unsigned long long)expected);
    return FL_OK;
}

static int parse_entry(const char *path, const char *name, json_t *entry, st_tensor *t,
                       fl_error *err)
{
    if (!json_is_object(entry))
        return fl_error_set(err, FL_EFORMAT, "%s: tensor '%s': entry is not a JSON object",
                            path, name);
    json_t *dtype = json_object_get(entry, "dtype");
    if (!json_is_string(dtype))
        return fl_error_set(err, FL_EFORMAT, "%s: tensor '%s': missing string \"dtype\"",
                            path, name);
    if (dtype_from_name(json_string_value(dtype), &t->dtype) != FL_OK)
        return fl_error_set(err, FL_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", path,
                            name, json_string_value(dtype));

    int rc = parse_shape(path, name, json_object_get(entry, "shape"), t, err);
    if (rc != FL_OK)
        return rc;
    return parse_offsets(path, name, json_object_get(entry, "data_offsets"), t, err);
}

static int compare_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a;
    const st_tensor *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : (x->end > y->end);
}

/* Checks that the byte ranges tile [0, data_size) in some order, without gap or overlap. */
static int check_tiling(const st_file *f, uint64_t data_size, fl_error *err)
{
    const st_tensor **order = fl_xcalloc(f->tensor_count + 1, sizeof(*order));
    for (size_t i = 0; i < f->tensor_count; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->tensor_count, sizeof(*order), compare_begin);

    int rc = FL_OK;
    uint64_t position = 0;
    for (size_t i = 0; i < f->tensor_count && rc == FL_OK; i++) {
        const st_tensor *t = order[i];
        if (t->begin > position)
            rc = fl_error_set(err, FL_EFORMAT,
                              "%s: tensor '%s': gap before its data (begins at byte %llu, "
                              "previous tensor ends at %llu)", f->path, t->name,
                              (unsigned long long)t->begin, (unsigned long long)position);
        else if (t->begin < position)
            rc = fl_error_set(err, FL_EFORMAT,
                              "%s: tensor '%s': data_offsets overlap the previous tensor "
                              "(begins at byte %llu, previous ends at %llu)", f->path,
                              t->name, (unsigned long long)t->begin,
                              (unsigned long long)position);
        position = t->end;
    }
    if (rc == FL_OK && position != data_size && f->tensor_count > 0)
        rc = fl_error_set(err, FL_EFORMAT,
                          "%s: tensor '%s' ends at byte %llu but the data section has %llu "
                          "bytes; the file is truncated or has trailing bytes: copy it again "
                          "from its source", f->path,
                          order[f->tensor_count - 1]->name, (unsigned long long)position,
                          (unsigned long long)data_size);
    else if (rc == FL_OK && position != data_size)
        rc = fl_error_set(err, FL_EFORMAT,
                          "%s: the header lists no tensor but %llu data bytes follow it",
                          f->path, (unsigned long long)data_size);
    free(order);
    return rc;
}

static int check_metadata(const char *path, json_t *metadata, fl_error *err)
{
    if (!json_is_object(metadata))
        return fl_error_set(err, FL_EFORMAT, "%s: \"__metadata__\" is not a JSON object", path);
    const char *key;
    json_t *value;
    json_object_foreach(metadata, key, value) {
        if (!json_is_string(value))
            return fl_error_set(err, FL_EFORMAT,
                                "%s: \"__metadata__\" value '%s' is not a string", path, key);
    }
    return FL_OK;
}

static int parse_header(st_file *f, const char *text, size_t length, fl_error *err)
{
    json_error_t parse_error;
    json_t *root = json_loadb(text, length, JSON_REJECT_DUPLICATES, &parse_error);
    if (root == NULL)
        return fl_error_set(err, FL_EFORMAT, "%s: header is not valid JSON at column %d: %s",
                            f->path, parse_error.column, parse_error.text);
    int rc = FL_OK;
    if (!json_is_object(root)) {
        rc = fl_error_set(err, FL_EFORMAT, "%s: header is not a JSON object", f->path);
        goto free_root;
    }

    f->tensors = fl_xcalloc(json_object_size(root) + 1, sizeof(st_tensor));
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            rc = check_metadata(f->path, value, err);
        } else {
            st_tensor *t = &f->tensors[f->tensor_count++];
            t->name = fl_xstrdup(key);
            rc = parse_entry(f->path, key, value, t, err);
        }
        if (rc != FL_OK)
            goto free_root;
    }

free_root:
    json_decref(root);
    return rc;
}

static int map_file(st_file *f, fl_error *err)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl_error_set(err, errno == ENOENT ? FL_ENOTFOUND : FL_EIO, "%s: cannot open: %s",
                            f->path, strerror(errno));
    int rc = FL_OK;
    struct stat info;
    if (fstat(fd, &info) != 0) {
        rc = fl_error_set(err, FL_EIO, "%s: cannot stat: %s", f->path, strerror(errno));
        goto close_fd;
    }
    f->map_size = (size_t)info.st_size;
    if (f->map_size < 8) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "%s: file is truncated: %zu bytes, shorter than the 8-byte header "
                          "length", f->path, f->map_size);
        goto close_fd;
    }
    void *map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = fl_error_set(err, FL_EIO, "%s: cannot map: %s", f->path, strerror(errno));
        goto close_fd;
    }
    f->map = map;
    f->mapped = 1;

close_fd:
    close(fd);
    return rc;
}

/* Validates the header of f->map and builds the tensor table. */
static int parse_file(st_file *f, fl_error *err)
{
    const char *path = f->path;
    if (f->map_size < 8)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: file is truncated: %zu bytes, shorter than the 8-byte header "
                            "length", path, f->map_size);
    uint64_t header_length = 0;
    for (int i = 7; i >= 0; i--)
        header_length = header_length << 8 | f->map[i];
    if (header_length > ST_MAX_HEADER_BYTES)
        return fl_error_set(err, FL_EFORMAT, "%s: header length %llu exceeds the %u-byte limit",
                            path, (unsigned long long)header_length, ST_MAX_HEADER_BYTES);
    if (header_length > f->map_size - 8)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: header length %llu runs past the end of the %zu-byte file; "
                            "the file is truncated", path, (unsigned long long)header_length,
                            f->map_size);
    if (header_length < 2 || f->map[8] != '{')
        return fl_error_set(err, FL_EFORMAT, "%s: header does not start with '{'", path);

    int rc = parse_header(f, (const char *)f->map + 8, header_length, err);
    if (rc != FL_OK)
        return rc;
    f->data = f->map + 8 + header_length;
    return check_tiling(f, f->map_size - 8 - header_length, err);
}

int st_file_open(st_file **out, const char *path, fl_error *err)
{
    *out = NULL;
    st_file *f = fl_xcalloc(1, sizeof(*f));
    f->path = fl_xstrdup(path);
    int rc = map_file(f, err);
    if (rc == FL_OK)
        rc = parse_file(f, err);
    if (rc != FL_OK) {
        st_file_destroy(&f);
        return rc;
    }
    *out = f;
    return FL_OK;
}

int st_file_open_memory(st_file **out, const char *name, const void *data, size_t size,
                        fl_error *err)
{
    *out = NULL;
    st_file *f = fl_xcalloc(1, sizeof(*f));
    f->path = fl_xstrdup(name);
    f->map = data;
    f->map_size = size;
    int rc = parse_file(f, err);
    if (rc != FL_OK) {
        st_file_destroy(&f);
        return rc;
    }
    *out = f;
    return FL_OK;
}

void st_file_destroy(st_file **file)
{
    if (file == NULL || *file == NULL)
        return;
    st_file *f = *file;
    if (f->mapped)
        munmap((void *)f->map, f->map_size);
    for (size_t i = 0; i < f->tensor_count; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    free(f);
    *file = NULL;
}

const char *st_file_path(const st_file *file)
{
    return file->path;
}

size_t st_file_count(const st_file *file)
{
    return file->tensor_count;
}

const st_tensor *st_file_tensor(const st_file *file, size_t i)
{
    return &file->tensors[i];
}

const st_tensor *st_file_find(const st_file *file, const char *name)
{
    for (size_t i = 0; i < file->tensor_count; i++) {
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    }
    return NULL;
}

/* IEEE 754 half to single, including subnormals, infinities and NaN. */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | mantissa << 13;
    } else if (exponent != 0) {
        bits = sign | (exponent + 112) << 23 | mantissa << 13;
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        /* Subnormal: shift the mantissa up until its leading 1 is implicit. */
        int shift = 0;
        while ((mantissa & 0x400) == 0) {
            mantissa <<= 1;
            shift++;
        }
        bits = sign | (uint32_t)(113 - shift) << 23 | (mantissa & 0x3ff) << 13;
    }
    float value;
    memcpy(&value, &bits, sizeof(value));
    return value;
}

int st_file_read_f32(const st_file *file, const st_tensor *tensor, float *out, fl_error *err)
{
    const uint8_t *source = file->data + tensor->begin;
    size_t n = (size_t)tensor->elements;
    switch (tensor->dtype) {
    case ST_F32:
        memcpy(out, source, n * sizeof(float));
        return FL_OK;
    case ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, source + 2 * i, 2);
            out[i] = f16_to_f32(h);
        }
        return FL_OK;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, source + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, sizeof(float));
        }
        return FL_OK;
    default:
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 tensors "
                            "can be loaded", file->path, tensor->name,
                            st_dtype_name(tensor->dtype));
    }
}
