/* PEFT adapter folders: adapter_config.json + adapter_model.safetensors. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "fl_file.h"
#include "fl_json.h"
#include "lora.h"
#include "st_file.h"

#define LORA_MAX_CONFIG_BYTES (1u << 20)

/* Writes the PEFT key of one A or B matrix ("...q_proj.lora_A.weight"). */
static void peft_key(int target, int layer, char which, char *key, size_t size)
{
    const char *module = target <= LORA_O ? "self_attn" : "mlp";
    snprintf(key, size, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", layer, module,
             lora_target_name(target), which);
}

static json_t *config_json(const lora_adapter *adapter, const char *base_model)
{
    json_t *targets = json_array();
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        if (adapter->options.targets & (1u << t))
            json_array_append_new(targets, json_string(lora_target_name(t)));
    }
    /* The fields PEFT writes for a plain LoRA adapter, with PEFT's defaults where unused. */
    return json_pack("{s:s,s:s,s:i,s:f,s:f,s:o,s:s,s:b,s:b,s:s,s:b,s:b,s:{},s:{},s:n,s:n,s:n,"
                     "s:b}", "peft_type", "LORA", "task_type", "CAUSAL_LM", "r",
                     adapter->options.rank, "lora_alpha", (double)adapter->options.alpha,
                     "lora_dropout", (double)adapter->options.dropout, "target_modules",
                     targets, "bias", "none", "fan_in_fan_out", 0, "use_rslora",
                     adapter->options.use_rslora, "base_model_name_or_path",
                     base_model != NULL ? base_model : "", "inference_mode", 1,
                     "init_lora_weights", 1, "rank_pattern", "alpha_pattern",
                     "modules_to_save", "layers_to_transform", "layers_pattern", "use_dora", 0);
}

int lora_adapter_save(const lora_adapter *adapter, const char *folder, const char *base_model,
                      fl_error *err)
{
    int rc = fl_file_mkdirs(folder, 0755, err);
    if (rc != FL_OK)
        return rc;
    char path[4096];
    snprintf(path, sizeof(path), "%s/adapter_config.json", folder);
    json_t *config = config_json(adapter, base_model);
    rc = fl_json_save_file(path, config, 0644, err);
    json_decref(config);
    if (rc != FL_OK)
        return rc;

    st_writer *writer = st_writer_new();
    int r = adapter->options.rank;
    for (int t = 0; t < LORA_TARGET_COUNT && rc == FL_OK; t++) {
        if (adapter->a[t] == NULL)
            continue;
        int in = adapter->in_features[t];
        int out = adapter->out_features[t];
        for (int layer = 0; layer < adapter->num_layers && rc == FL_OK; layer++) {
            char key[256];
            int64_t a_shape[2] = {r, in};
            int64_t b_shape[2] = {out, r};
            peft_key(t, layer, 'A', key, sizeof(key));
            rc = st_writer_add(writer, key, adapter->a[t] + (size_t)layer * r * in, 2, a_shape);
            peft_key(t, layer, 'B', key, sizeof(key));
            if (rc == FL_OK)
                rc = st_writer_add(writer, key, adapter->b[t] + (size_t)layer * out * r, 2,
                                   b_shape);
        }
    }
    snprintf(path, sizeof(path), "%s/adapter_model.safetensors", folder);
    if (rc == FL_OK)
        rc = st_writer_save(writer, path, err);
    else
        rc = fl_error_set(err, rc, "%s: cannot list the adapter's tensors", path);
    st_writer_destroy(&writer);
    return rc;
}

static int parse_targets(const json_t *modules, const char *path, unsigned *targets,
                         fl_error *err)
{
    *targets = 0;
    if (json_is_string(modules) && strcmp(json_string_value(modules), "all-linear") == 0) {
        *targets = LORA_ALL_TARGETS;
        return FL_OK;
    }
    if (!json_is_array(modules))
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "%s: \"target_modules\" must be a list of module names or "
                            "\"all-linear\"", path);
    size_t i;
    json_t *item;
    json_array_foreach(modules, i, item) {
        const char *name = json_string_value(item);
        int found = -1;
        for (int t = 0; name != NULL && t < LORA_TARGET_COUNT; t++) {
            if (strcmp(name, lora_target_name(t)) == 0)
                found = t;
        }
        if (found < 0)
            return fl_error_set(err, FL_EUNSUPPORTED,
                                "%s: target module '%s' is not supported; use q_proj, k_proj, "
                                "v_proj, o_proj, gate_proj, up_proj or down_proj", path,
                                name != NULL ? name : "(not a string)");
        *targets |= 1u << found;
    }
    return FL_OK;
}

/* Rejects PEFT options this trainer does not implement instead of ignoring them. */
static int check_unsupported(const json_t *root, const char *path, fl_error *err)
{
    const char *bias = json_string_value(json_object_get(root, "bias"));
    if (bias != NULL && strcmp(bias, "none") != 0)
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: bias '%s' is not supported; use \"none\"",
                            path, bias);
    const char *flags[] = {"fan_in_fan_out", "use_dora"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (json_is_true(json_object_get(root, flags[i])))
            return fl_error_set(err, FL_EUNSUPPORTED, "%s: \"%s\": true is not supported", path,
                                flags[i]);
    }
    const char *patterns[] = {"rank_pattern", "alpha_pattern"};
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        json_t *value = json_object_get(root, patterns[i]);
        if (json_is_object(value) && json_object_size(value) > 0)
            return fl_error_set(err, FL_EUNSUPPORTED, "%s: \"%s\" is not supported", path,
                                patterns[i]);
    }
    json_t *layers = json_object_get(root, "layers_to_transform");
    if (layers != NULL && !json_is_null(layers))
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: \"layers_to_transform\" is not supported",
                            path);
    return FL_OK;
}

static int read_options(const char *path, lora_options *options, fl_error *err)
{
    json_t *root = fl_json_load_file(path, LORA_MAX_CONFIG_BYTES, err);
    if (root == NULL)
        return err != NULL ? err->code : FL_EFORMAT;
    int rc = FL_OK;
    const char *type = json_string_value(json_object_get(root, "peft_type"));
    if (type == NULL || strcmp(type, "LORA") != 0) {
        rc = fl_error_set(err, FL_EUNSUPPORTED, "%s: peft_type '%s' is not LORA", path,
                          type != NULL ? type : "(missing)");
        goto free_root;
    }
    if ((rc = check_unsupported(root, path, err)) != FL_OK)
        goto free_root;

    memset(options, 0, sizeof(*options));
    json_t *rank = json_object_get(root, "r");
    json_t *alpha = json_object_get(root, "lora_alpha");
    if (!json_is_integer(rank) || !json_is_number(alpha)) {
        rc = fl_error_set(err, FL_EFORMAT, "%s: \"r\" (integer) and \"lora_alpha\" (number) are "
                          "required", path);
        goto free_root;
    }
    options->rank = (int)json_integer_value(rank);
    options->alpha = (float)json_number_value(alpha);
    json_t *dropout = json_object_get(root, "lora_dropout");
    options->dropout = json_is_number(dropout) ? (float)json_number_value(dropout) : 0.0f;
    options->use_rslora = json_is_true(json_object_get(root, "use_rslora"));
    rc = parse_targets(json_object_get(root, "target_modules"), path, &options->targets, err);
    if (rc == FL_OK && lora_options_check(options, err) != FL_OK)
        rc = fl_error_prefix(err, "%s: ", path);

free_root:
    json_decref(root);
    return rc;
}

static int read_tensors(lora_adapter *adapter, const st_set *set, fl_error *err)
{
    int r = adapter->options.rank;
    size_t expected = 0;
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        if (adapter->a[t] == NULL)
            continue;
        int in = adapter->in_features[t];
        int out = adapter->out_features[t];
        for (int layer = 0; layer < adapter->num_layers; layer++) {
            char key[256];
            int64_t a_shape[2] = {r, in};
            int64_t b_shape[2] = {out, r};
            peft_key(t, layer, 'A', key, sizeof(key));
            int rc = st_set_read_f32(set, key, 2, a_shape, adapter->a[t] + (size_t)layer * r * in,
                                     err);
            if (rc != FL_OK)
                return rc;
            peft_key(t, layer, 'B', key, sizeof(key));
            rc = st_set_read_f32(set, key, 2, b_shape, adapter->b[t] + (size_t)layer * out * r,
                                 err);
            if (rc != FL_OK)
                return rc;
            expected += 2;
        }
    }

    /* Every tensor must be one of ours: a leftover is a layout this reader would ignore. */
    size_t present = 0;
    for (size_t f = 0; f < st_set_file_count(set); f++)
        present += st_file_count(st_set_file(set, f));
    if (present != expected)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: contains %zu tensors but the configuration describes %zu; "
                            "the adapter was made for another model or with other options",
                            st_set_source(set), present, expected);
    return FL_OK;
}

int lora_adapter_load(lora_adapter *adapter, const char *folder, const tr_config *config,
                      fl_error *err)
{
    memset(adapter, 0, sizeof(*adapter));
    char path[4096];
    snprintf(path, sizeof(path), "%s/adapter_config.json", folder);
    lora_options options;
    int rc = read_options(path, &options, err);
    if (rc != FL_OK)
        return rc;

    st_set *set = NULL;
    rc = st_set_open(&set, folder, "adapter_model", err);
    if (rc != FL_OK)
        return rc;
    lora_adapter_init(adapter, config, &options);
    rc = read_tensors(adapter, set, err);
    st_set_destroy(&set);
    if (rc != FL_OK)
        lora_adapter_release(adapter);
    return rc;
}
