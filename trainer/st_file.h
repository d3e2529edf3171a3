/*
 * st_file.h - safetensors checkpoints: validated reading (single files and
 * sharded sets) and writing of F32 tensors.
 *
 * File layout: an 8-byte little-endian header length N, N bytes of JSON
 * mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to byte 8 + N), then the data. st_file_open checks every
 * header fact before any tensor is used. The header is at most 100 MB of
 * valid JSON with known dtypes and shapes. The byte ranges tile the data
 * without gap or overlap, each range has exactly elements x dtype size bytes,
 * and the data ends at the end of the file. Errors name the file and tensor.
 */
#ifndef ST_FILE_H
#define ST_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

#define ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)
#define ST_MAX_DIMS 8

typedef enum st_dtype {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64
} st_dtype;

/* One tensor entry of a header. */
typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t elements;
    uint64_t begin; /* byte offset of the data, relative to the data section */
    uint64_t end;   /* one past the last byte */
} st_tensor;

typedef struct st_file st_file;

/* Returns the safetensors name of dtype ("F32"). */
const char *st_dtype_name(st_dtype dtype);

/* Returns the size in bytes of one element of dtype. */
size_t st_dtype_size(st_dtype dtype);

/*
 * Maps path read-only and validates its header. Caller owns *out; release it
 * with st_file_destroy. Returns FL_OK, FL_EIO/FL_ENOTFOUND when the file
 * cannot be read, FL_EFORMAT for a header that breaks the format.
 */
int st_file_open(st_file **out, const char *path, fl_error *err) FL_WARN_UNUSED;

/*
 * Validates size bytes at data as a safetensors file called name (used in
 * messages). data is borrowed and must outlive the st_file.
 */
int st_file_open_memory(st_file **out, const char *name, const void *data, size_t size,
                        fl_error *err) FL_WARN_UNUSED;

/* Unmaps the file and frees the table. NULL-safe; clears *file. */
void st_file_destroy(st_file **file);

const char *st_file_path(const st_file *file);
size_t st_file_count(const st_file *file);

/* Returns tensor i in header order (0 <= i < st_file_count). */
const st_tensor *st_file_tensor(const st_file *file, size_t i);

/* Returns the tensor called name, or NULL when the file has none. */
const st_tensor *st_file_find(const st_file *file, const char *name);

/*
 * Converts tensor (F32, F16 or BF16) of file to float32 into out, which has room
 * for tensor->elements floats. Other dtypes fail with FL_EUNSUPPORTED naming the
 * file, tensor and dtype.
 */
int st_file_read_f32(const st_file *file, const st_tensor *tensor, float *out,
                     fl_error *err) FL_WARN_UNUSED;

/*
 * A checkpoint folder: model.safetensors, or the shards listed in
 * model.safetensors.index.json (the index wins when both exist). prefix
 * selects other file names, e.g. "adapter_model" for PEFT adapters.
 */
typedef struct st_set st_set;

int st_set_open(st_set **out, const char *folder, const char *prefix,
                fl_error *err) FL_WARN_UNUSED;
void st_set_destroy(st_set **set);

/* Finds name in the set. Returns the tensor and stores its file in *file, or NULL. */
const st_tensor *st_set_find(const st_set *set, const char *name, const st_file **file);

/* Returns the index file of a sharded set, or the path of its single file. */
const char *st_set_source(const st_set *set);

size_t st_set_file_count(const st_set *set);
const st_file *st_set_file(const st_set *set, size_t i);

/*
 * Reads tensor name into out as float32 after checking that its shape is
 * exactly shape[0..ndim). A missing tensor is FL_ENOTFOUND and a different
 * shape FL_EFORMAT; both messages name the file and the tensor.
 */
int st_set_read_f32(const st_set *set, const char *name, int ndim, const int64_t *shape,
                    float *out, fl_error *err) FL_WARN_UNUSED;

/*
 * Writer of float32 safetensors files. Tensors are referenced, not copied:
 * each data pointer must stay valid until st_writer_save returns.
 */
typedef struct st_writer st_writer;

st_writer *st_writer_new(void);
void st_writer_destroy(st_writer **writer);

/* Adds a tensor. Names must be unique; returns FL_EEXIST for a repeated name. */
int st_writer_add(st_writer *writer, const char *name, const float *data, int ndim,
                  const int64_t *shape) FL_WARN_UNUSED;

/* Writes the file atomically with metadata {"format":"pt"}. */
int st_writer_save(const st_writer *writer, const char *path, fl_error *err) FL_WARN_UNUSED;

#endif
