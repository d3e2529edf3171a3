/* Tests of safetensors reading, writing, dtype conversion and header validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "st_file.h"

static char s_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_st.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

/* Writes an 8-byte length, header and data bytes to s_dir/name. */
static void write_raw(const char *name, const char *header, const void *data, size_t data_len,
                      char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t n = strlen(header);
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(n >> (8 * i));
    fwrite(bytes, 1, 8, f);
    fwrite(header, 1, n, f);
    if (data_len > 0)
        fwrite(data, 1, data_len, f);
    fclose(f);
}

static void test_write_then_read_f32(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6};
    float b[3] = {-1.5f, 0.25f, 7};
    int64_t shape_a[2] = {2, 3};
    int64_t shape_b[1] = {3};
    st_writer *writer = st_writer_new();
    assert_int_equal(st_writer_add(writer, "a.weight", a, 2, shape_a), FL_OK);
    assert_int_equal(st_writer_add(writer, "b", b, 1, shape_b), FL_OK);
    assert_int_equal(st_writer_add(writer, "b", b, 1, shape_b), FL_EEXIST);
    char path[300];
    snprintf(path, sizeof(path), "%s/model.safetensors", s_dir);
    fl_error err = {0};
    assert_int_equal(st_writer_save(writer, path, &err), FL_OK);
    st_writer_destroy(&writer);
    assert_null(writer);

    st_set *set = NULL;
    assert_int_equal(st_set_open(&set, s_dir, "model", &err), FL_OK);
    float out[6] = {0};
    assert_int_equal(st_set_read_f32(set, "a.weight", 2, shape_a, out, &err), FL_OK);
    assert_memory_equal(out, a, sizeof(a));
    assert_int_equal(st_set_read_f32(set, "b", 1, shape_b, out, &err), FL_OK);
    assert_memory_equal(out, b, sizeof(b));

    int64_t wrong[2] = {3, 2};
    assert_int_equal(st_set_read_f32(set, "a.weight", 2, wrong, out, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "a.weight"));
    assert_non_null(strstr(err.msg, "model.safetensors"));
    assert_int_equal(st_set_read_f32(set, "missing", 1, shape_b, out, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "missing"));
    st_set_destroy(&set);
    unlink(path);
}

static void test_half_dtypes_convert(void **state)
{
    (void)state;
    /* F16: 1.0, -2.0, smallest subnormal, +inf. BF16: 1.0, -3.0 */
    uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};
    uint16_t bf16[2] = {0x3f80, 0xc040};
    uint8_t data[12];
    memcpy(data, f16, 8);
    memcpy(data + 8, bf16, 4);
    char path[300];
    write_raw("half.safetensors",
              "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}",
              data, sizeof(data), path, sizeof(path));
    st_file *file = NULL;
    fl_error err = {0};
    assert_int_equal(st_file_open(&file, path, &err), FL_OK);
    float out[4];
    assert_int_equal(st_file_read_f32(file, st_file_find(file, "h"), out, &err), FL_OK);
    assert_true(out[0] == 1.0f);
    assert_true(out[1] == -2.0f);
    assert_true(out[2] == 5.9604644775390625e-08f);
    assert_true(out[3] > 3e38f);
    assert_int_equal(st_file_read_f32(file, st_file_find(file, "b"), out, &err), FL_OK);
    assert_true(out[0] == 1.0f);
    assert_true(out[1] == -3.0f);
    st_file_destroy(&file);
}

typedef struct bad_case {
    const char *label;
    const char *header;
    size_t data_len;
    const char *expect; /* text the error message contains */
} bad_case;

static void test_bad_headers_rejected(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"not json", "{\"a\":", 0, "not valid JSON"},
        {"unknown dtype", "{\"w\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "unknown dtype"},
        {"size lies", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         "need 8"},
        {"overlap", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         "overlap"},
        {"gap", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap"},
        {"trailing", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12,
         "trailing bytes"},
        {"truncated data", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
         8, "truncated"},
        {"negative shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
         4, "shape[0]"},
        {"bad metadata", "{\"__metadata__\":{\"format\":1}}", 0, "__metadata__"},
    };
    uint8_t zeros[16] = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[300];
        write_raw("bad.safetensors", cases[i].header, zeros, cases[i].data_len, path,
                  sizeof(path));
        st_file *file = NULL;
        fl_error err = {0};
        int rc = st_file_open(&file, path, &err);
        printf("%-16s -> %s\n", cases[i].label, err.msg);
        assert_int_equal(rc, FL_EFORMAT);
        assert_null(file);
        assert_non_null(strstr(err.msg, cases[i].expect));
        assert_non_null(strstr(err.msg, "bad.safetensors"));
    }
}

static void test_truncated_and_huge_lengths(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/short.safetensors", s_dir);
    FILE *f = fopen(path, "wb");
    fwrite("\x10\x00\x00", 1, 3, f);
    fclose(f);
    st_file *file = NULL;
    fl_error err = {0};
    assert_int_equal(st_file_open(&file, path, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated"));

    f = fopen(path, "wb");
    uint8_t huge[10] = {0, 0, 0, 0x10, 0, 0, 0, 0, '{', '}'};
    fwrite(huge, 1, sizeof(huge), f);
    fclose(f);
    assert_int_equal(st_file_open(&file, path, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "limit"));

    f = fopen(path, "wb");
    uint8_t past[10] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    fwrite(past, 1, sizeof(past), f);
    fclose(f);
    assert_int_equal(st_file_open(&file, path, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "past the end"));
}

static void test_unsupported_dtype_on_read(void **state)
{
    (void)state;
    char path[300];
    uint8_t data[4] = {1, 2, 3, 4};
    write_raw("int.safetensors",
              "{\"ids\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4, path,
              sizeof(path));
    st_file *file = NULL;
    fl_error err = {0};
    assert_int_equal(st_file_open(&file, path, &err), FL_OK);
    float out[1];
    assert_int_equal(st_file_read_f32(file, st_file_find(file, "ids"), out, &err),
                     FL_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "ids"));
    assert_non_null(strstr(err.msg, "I32"));
    st_file_destroy(&file);
}

static void test_sharded_index(void **state)
{
    (void)state;
    char folder[300];
    snprintf(folder, sizeof(folder), "%s/sharded", s_dir);
    char command[400];
    snprintf(command, sizeof(command), "mkdir -p '%s'", folder);
    assert_int_equal(system(command), 0);

    float x[2] = {1, 2};
    float y[3] = {3, 4, 5};
    int64_t sx[1] = {2};
    int64_t sy[1] = {3};
    fl_error err = {0};
    char path[400];
    st_writer *w = st_writer_new();
    assert_int_equal(st_writer_add(w, "x", x, 1, sx), FL_OK);
    snprintf(path, sizeof(path), "%s/model-00001-of-00002.safetensors", folder);
    assert_int_equal(st_writer_save(w, path, &err), FL_OK);
    st_writer_destroy(&w);
    w = st_writer_new();
    assert_int_equal(st_writer_add(w, "y", y, 1, sy), FL_OK);
    snprintf(path, sizeof(path), "%s/model-00002-of-00002.safetensors", folder);
    assert_int_equal(st_writer_save(w, path, &err), FL_OK);
    st_writer_destroy(&w);

    snprintf(path, sizeof(path), "%s/model.safetensors.index.json", folder);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"metadata\":{\"total_size\":20},\"weight_map\":{"
               "\"x\":\"model-00001-of-00002.safetensors\","
               "\"y\":\"model-00002-of-00002.safetensors\"}}");
    fclose(f);

    st_set *set = NULL;
    assert_int_equal(st_set_open(&set, folder, "model", &err), FL_OK);
    assert_int_equal(st_set_file_count(set), 2);
    float out[3];
    assert_int_equal(st_set_read_f32(set, "y", 1, sy, out, &err), FL_OK);
    assert_memory_equal(out, y, sizeof(y));
    st_set_destroy(&set);

    f = fopen(path, "w");
    fprintf(f, "{\"weight_map\":{\"y\":\"model-00001-of-00002.safetensors\"}}");
    fclose(f);
    assert_int_equal(st_set_open(&set, folder, "model", &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "'y'"));

    f = fopen(path, "w");
    fprintf(f, "{\"weight_map\":{}}");
    fclose(f);
    assert_int_equal(st_set_open(&set, folder, "model", &err), FL_OK);
    assert_int_equal(st_set_read_f32(set, "x", 1, sx, out, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "model.safetensors.index.json"));
    assert_non_null(strstr(err.msg, "'x'"));
    st_set_destroy(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_then_read_f32),
        cmocka_unit_test(test_half_dtypes_convert),
        cmocka_unit_test(test_bad_headers_rejected),
        cmocka_unit_test(test_truncated_and_huge_lengths),
        cmocka_unit_test(test_unsupported_dtype_on_read),
        cmocka_unit_test(test_sharded_index),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
