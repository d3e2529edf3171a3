/* libFuzzer target: safetensors header validation and dtype conversion on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "st_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *file = NULL;
    if (st_file_open_memory(&file, "fuzz.safetensors", data, size, NULL) != FL_OK)
        return 0;
    for (size_t i = 0; i < st_file_count(file); i++) {
        const st_tensor *tensor = st_file_tensor(file, i);
        if (tensor->elements > (1 << 20))
            continue;
        float *values = malloc((size_t)tensor->elements * sizeof(float) + 1);
        if (values != NULL && st_file_read_f32(file, tensor, values, NULL) == FL_OK &&
            tensor->elements > 0 && values[0] != values[0])
            values[0] = 0.0f; /* touch the result so the conversion is not optimised away */
        free(values);
    }
    st_file_destroy(&file);
    return 0;
}
