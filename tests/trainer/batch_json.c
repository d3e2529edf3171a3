#include "batch_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_json.h"
#include "fl_mem.h"

int batch_from_json(tr_batch *batch, const json_t *object)
{
    memset(batch, 0, sizeof(*batch));
    batch->B = (int)json_integer_value(json_object_get(object, "B"));
    batch->T = (int)json_integer_value(json_object_get(object, "T"));
    size_t n = (size_t)batch->B * batch->T;
    int32_t **fields[4] = {&batch->tokens, &batch->targets, &batch->positions, &batch->segments};
    const char *names[4] = {"tokens", "targets", "positions", "segments"};
    for (int f = 0; f < 4; f++) {
        json_t *list = json_object_get(object, names[f]);
        if (n == 0 || json_array_size(list) != n)
            return -1;
        *fields[f] = fl_xmalloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++)
            (*fields[f])[i] = (int32_t)json_integer_value(json_array_get(list, i));
    }
    return 0;
}

int batch_load(tr_batch *batch, const char *path)
{
    fl_error err = {0};
    json_t *root = fl_json_load_file(path, 64u << 20, &err);
    if (root == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    int rc = batch_from_json(batch, root);
    json_decref(root);
    return rc;
}

void batch_free(tr_batch *batch)
{
    free(batch->tokens);
    free(batch->targets);
    free(batch->positions);
    free(batch->segments);
    memset(batch, 0, sizeof(*batch));
}
