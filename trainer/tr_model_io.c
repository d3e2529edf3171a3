/* Loading and saving a model as a Hugging Face folder. */
#include "tr_model.h"

#include <stdio.h>
#include <string.h>

#include "st_file.h"

/* Returns the slice of tensor id that belongs to layer, and its element count. */
static float *layer_slice(const tr_model *model, int id, int layer, size_t *count)
{
    size_t per = model->sizes[id];
    if (tr_param_per_layer(id))
        per /= (size_t)model->config.num_layers;
    *count = per;
    return model->params.tensor[id] + (size_t)layer * per;
}

static int read_tensors(tr_model *model, const st_set *set, fl_error *err)
{
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        if (model->sizes[id] == 0)
            continue;
        int layers = tr_param_per_layer(id) ? model->config.num_layers : 1;
        for (int layer = 0; layer < layers; layer++) {
            char name[256];
            int64_t shape[2];
            int rank = tr_param_shape(&model->config, id, shape);
            size_t count;
            float *slice = layer_slice(model, id, layer, &count);
            tr_param_name(id, layer, name, sizeof(name));
            int rc = st_set_read_f32(set, name, rank, shape, slice, err);
            if (rc != FL_OK)
                return rc;
        }
    }
    return FL_OK;
}

static int is_expected(const tr_model *model, const char *name)
{
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        if (model->sizes[id] == 0)
            continue;
        int layers = tr_param_per_layer(id) ? model->config.num_layers : 1;
        for (int layer = 0; layer < layers; layer++) {
            char expected[256];
            tr_param_name(id, layer, expected, sizeof(expected));
            if (strcmp(expected, name) == 0)
                return 1;
        }
    }
    return 0;
}

/* Rejects weights the configuration does not explain, such as biases on a Llama model. */
static int check_unused(const tr_model *model, const st_set *set, fl_error *err)
{
    for (size_t f = 0; f < st_set_file_count(set); f++) {
        const st_file *file = st_set_file(set, f);
        for (size_t i = 0; i < st_file_count(file); i++) {
            const char *name = st_file_tensor(file, i)->name;
            size_t length = strlen(name);
            const char *suffix = "rotary_emb.inv_freq";
            size_t suffix_length = strlen(suffix);
            if (length >= suffix_length && strcmp(name + length - suffix_length, suffix) == 0)
                continue;
            if (model->config.tie_word_embeddings && strcmp(name, "lm_head.weight") == 0)
                continue;
            if (!is_expected(model, name))
                return fl_error_set(err, FL_EFORMAT,
                                    "%s: tensor '%s' is not part of a %s with this config.json; "
                                    "check the architecture and its options",
                                    st_file_path(file), name, tr_arch_class(model->config.arch));
        }
    }
    return FL_OK;
}

int tr_model_load(tr_model *model, const char *folder, fl_error *err)
{
    memset(model, 0, sizeof(*model));
    char path[4096];
    snprintf(path, sizeof(path), "%s/config.json", folder);
    tr_config config;
    int rc = tr_config_load(&config, path, err);
    if (rc != FL_OK)
        return rc;

    st_set *set = NULL;
    rc = st_set_open(&set, folder, "model", err);
    if (rc != FL_OK)
        return rc;
    tr_model_init(model, &config);
    rc = read_tensors(model, set, err);
    if (rc == FL_OK)
        rc = check_unused(model, set, err);
    st_set_destroy(&set);
    if (rc != FL_OK)
        tr_model_release(model);
    return rc;
}

int tr_model_save(const tr_model *model, const char *folder, fl_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/config.json", folder);
    int rc = tr_config_save(&model->config, path, err);
    if (rc != FL_OK)
        return rc;

    st_writer *writer = st_writer_new();
    for (int id = 0; id < TR_PARAM_COUNT && rc == FL_OK; id++) {
        if (model->sizes[id] == 0)
            continue;
        int layers = tr_param_per_layer(id) ? model->config.num_layers : 1;
        for (int layer = 0; layer < layers && rc == FL_OK; layer++) {
            char name[256];
            int64_t shape[2];
            int rank = tr_param_shape(&model->config, id, shape);
            size_t count;
            const float *slice = layer_slice(model, id, layer, &count);
            tr_param_name(id, layer, name, sizeof(name));
            rc = st_writer_add(writer, name, slice, rank, shape);
        }
    }
    snprintf(path, sizeof(path), "%s/model.safetensors", folder);
    if (rc == FL_OK)
        rc = st_writer_save(writer, path, err);
    else
        rc = fl_error_set(err, rc, "%s: cannot list the model's tensors", path);
    st_writer_destroy(&writer);
    return rc;
}
