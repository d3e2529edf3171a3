#include "coord_adapter.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "fc_adapter_sig.h"
#include "fl_file.h"
#include "st_file.h"


static int lora_options_from_job(const coord_job_spec *job, lora_options *options,
                                 fl_error *err)
{
    memset(options, 0, sizeof(*options));
    options->rank = job->lora_r;
    options->alpha = (float)job->lora_alpha;
    options->dropout = (float)job->lora_dropout;
    options->use_rslora = job->use_rslora;
    for (int i = 0; i < job->lora_target_count; i++) {
        unsigned target = 0;
        int rc = lora_targets_parse(job->lora_targets[i], &target, err);
        if (rc != FL_OK)
            return rc;
        options->targets |= target;
    }
    return lora_options_check(options, err);
}

int coord_adapter_init(coord_adapter *adapter, const coord_job_spec *job, fl_error *err)
{
    memset(adapter, 0, sizeof(*adapter));
    json_error_t parse_error;
    json_t *config_json = json_loads(job->base_model_config, 0, &parse_error);
    if (config_json == NULL)
        return fl_error_set(err, FL_EFORMAT, "job %s: base_model.config is not JSON: %s",
                            job->id, parse_error.text);
    int rc = tr_config_from_json(&adapter->model, config_json, "job base_model.config", -1, err);
    json_decref(config_json);

    lora_options options;
    if (rc == FL_OK)
        rc = lora_options_from_job(job, &options, err);
    if (rc != FL_OK)
        return rc;

    lora_adapter_init(&adapter->lora, &adapter->model, &options);
    lora_adapter_init_weights(&adapter->lora, job->lora_seed);
    adapter->trained_offset = job->lora_mode == COORD_LORA_FROZEN_A ? adapter->lora.a_count : 0;
    adapter->trained_count = adapter->lora.num_params - adapter->trained_offset;
    return coord_optim_init(&adapter->optim, &job->server_optimizer, adapter->trained_count, err);
}

void coord_adapter_release(coord_adapter *adapter)
{
    lora_adapter_release(&adapter->lora);
    coord_optim_release(&adapter->optim);
    memset(adapter, 0, sizeof(*adapter));
}

void coord_adapter_apply(coord_adapter *adapter, const float *mean_delta)
{
    coord_optim_step(&adapter->optim, adapter->lora.memory + adapter->trained_offset,
                     mean_delta);
}

const uint8_t *coord_adapter_bytes(const coord_adapter *adapter, size_t *size)
{
    *size = adapter->lora.num_params * sizeof(float);
    return (const uint8_t *)adapter->lora.memory;
}

void coord_adapter_hash(const coord_adapter *adapter, uint8_t hash[COORD_ADAPTER_HASH_BYTES])
{
    size_t size = 0;
    const uint8_t *bytes = coord_adapter_bytes(adapter, &size);
    crypto_generichash(hash, COORD_ADAPTER_HASH_BYTES, bytes, size, NULL, 0);
}

void coord_adapter_sign(const coord_adapter *adapter, const char *job_id, uint64_t round,
                        const fc_identity *identity, uint8_t signature[FC_SIGNATURE_BYTES])
{
    uint8_t hash[COORD_ADAPTER_HASH_BYTES];
    coord_adapter_hash(adapter, hash);
    fc_adapter_sign(signature, identity, job_id, round, hash);
}

int coord_adapter_save(const coord_adapter *adapter, const char *folder, const char *base_model,
                       fl_error *err)
{
    char path[4096];
    if (fl_path_format(path, sizeof(path), "%s/adapter", folder) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", folder);
    int rc = lora_adapter_save(&adapter->lora, path, base_model, err);
    if (rc != FL_OK)
        return rc;

    const coord_optim *optim = &adapter->optim;
    float steps = (float)optim->steps;
    int64_t one = 1, count = (int64_t)optim->count;
    st_writer *writer = st_writer_new();
    rc = st_writer_add(writer, "steps", &steps, 1, &one);
    if (rc == FL_OK && optim->m != NULL)
        rc = st_writer_add(writer, "m", optim->m, 1, &count);
    if (rc == FL_OK && optim->v != NULL)
        rc = st_writer_add(writer, "v", optim->v, 1, &count);
    if (rc == FL_OK && fl_path_format(path, sizeof(path), "%s/optimizer.safetensors", folder) !=
                           FL_OK)
        rc = FL_ERANGE;
    if (rc == FL_OK)
        rc = st_writer_save(writer, path, err);
    else
        fl_error_set(err, rc, "%s: cannot write optimizer state", folder);
    st_writer_destroy(&writer);
    return rc;
}

int coord_adapter_load(coord_adapter *adapter, const char *folder, fl_error *err)
{
    char path[4096];
    if (fl_path_format(path, sizeof(path), "%s/adapter", folder) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", folder);
    lora_adapter loaded;
    int rc = lora_adapter_load(&loaded, path, &adapter->model, err);
    if (rc != FL_OK)
        return rc;
    if (loaded.num_params != adapter->lora.num_params) {
        lora_adapter_release(&loaded);
        return fl_error_set(err, FL_EFORMAT,
                            "%s: checkpoint adapter has %zu parameters; the job's settings give "
                            "%zu",
                            path, loaded.num_params, adapter->lora.num_params);
    }
    lora_adapter_copy(&adapter->lora, &loaded);
    lora_adapter_release(&loaded);

    st_set *set = NULL;
    if (fl_path_format(path, sizeof(path), "%s", folder) != FL_OK)
        return FL_ERANGE;
    rc = st_set_open(&set, path, "optimizer", err);
    coord_optim *optim = &adapter->optim;
    int64_t one = 1, count = (int64_t)optim->count;
    float steps = 0;
    if (rc == FL_OK)
        rc = st_set_read_f32(set, "steps", 1, &one, &steps, err);
    if (rc == FL_OK && optim->m != NULL)
        rc = st_set_read_f32(set, "m", 1, &count, optim->m, err);
    if (rc == FL_OK && optim->v != NULL)
        rc = st_set_read_f32(set, "v", 1, &count, optim->v, err);
    optim->steps = (int64_t)steps;
    st_set_destroy(&set);
    return rc;
}
