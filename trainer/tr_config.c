/* Reading, validating and writing Hugging Face config.json files. */
#include "tr_config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "fl_json.h"

#define TR_MAX_CONFIG_BYTES (4u * 1024u * 1024u)

/* 2^34 float32 parameters, 64 GiB of weights. */
#define TR_MAX_PARAMETERS 17179869184.0

static const struct {
    const char *short_name;
    const char *class_name;
    const char *model_type;
} s_arches[] = {
    [TR_ARCH_LLAMA] = {"llama", "LlamaForCausalLM", "llama"},
    [TR_ARCH_MISTRAL] = {"mistral", "MistralForCausalLM", "mistral"},
    [TR_ARCH_QWEN2] = {"qwen2", "Qwen2ForCausalLM", "qwen2"},
    [TR_ARCH_QWEN3] = {"qwen3", "Qwen3ForCausalLM", "qwen3"},
};
#define ARCH_COUNT (sizeof(s_arches) / sizeof(s_arches[0]))

const char *tr_arch_class(tr_arch arch)
{
    return s_arches[arch].class_name;
}

int tr_arch_parse(const char *name, tr_arch *out)
{
    for (size_t i = 0; i < ARCH_COUNT; i++) {
        if (strcmp(name, s_arches[i].short_name) == 0) {
            *out = (tr_arch)i;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

static int read_arch(const json_t *root, const char *where, tr_arch *out, fl_error *err)
{
    json_t *list = json_object_get(root, "architectures");
    const char *name = json_string_value(json_array_get(list, 0));
    const char *model_type = json_string_value(json_object_get(root, "model_type"));
    for (size_t i = 0; name == NULL && model_type != NULL && i < ARCH_COUNT; i++) {
        if (strcmp(model_type, s_arches[i].model_type) == 0) {
            *out = (tr_arch)i;
            return FL_OK;
        }
    }
    if (name == NULL)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: missing \"architectures\" (expected e.g. [\"LlamaForCausalLM\"])",
                            where);
    for (size_t i = 0; i < ARCH_COUNT; i++) {
        if (strcmp(name, s_arches[i].class_name) == 0) {
            *out = (tr_arch)i;
            return FL_OK;
        }
    }
    return fl_error_set(err, FL_EUNSUPPORTED,
                        "%s: unknown architecture '%s'; supported: LlamaForCausalLM, "
                        "MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM", where, name);
}

/* Reads a positive integer field; a missing field takes fallback when fallback > 0. */
static int read_positive(const json_t *root, const char *key, const char *where, int fallback,
                         int *out, fl_error *err)
{
    json_t *value = json_object_get(root, key);
    if (value == NULL || json_is_null(value)) {
        if (fallback > 0) {
            *out = fallback;
            return FL_OK;
        }
        return fl_error_set(err, FL_EFORMAT, "%s: missing field \"%s\"", where, key);
    }
    if (!json_is_integer(value) || json_integer_value(value) <= 0 ||
        json_integer_value(value) > (1 << 30))
        return fl_error_set(err, FL_EFORMAT, "%s: \"%s\" must be a positive integer", where,
                            key);
    *out = (int)json_integer_value(value);
    return FL_OK;
}

static float read_float(const json_t *root, const char *key, float fallback)
{
    json_t *value = json_object_get(root, key);
    return json_is_number(value) ? (float)json_number_value(value) : fallback;
}

static int read_rope_scaling(tr_config *c, const json_t *root, const char *where, fl_error *err)
{
    const json_t *scaling = json_object_get(root, "rope_scaling");
    const json_t *parameters = json_object_get(root, "rope_parameters");
    if (json_is_object(parameters)) {
        c->rope_theta = read_float(parameters, "rope_theta", c->rope_theta);
        if (!json_is_object(scaling))
            scaling = parameters;
    }
    c->rope_type = TR_ROPE_DEFAULT;
    if (!json_is_object(scaling))
        return FL_OK;

    const char *type = json_string_value(json_object_get(scaling, "rope_type"));
    if (type == NULL)
        type = json_string_value(json_object_get(scaling, "type"));
    if (type == NULL || strcmp(type, "default") == 0)
        return FL_OK;
    c->rope_factor = read_float(scaling, "factor", 1.0f);
    if (strcmp(type, "linear") == 0) {
        c->rope_type = TR_ROPE_LINEAR;
    } else if (strcmp(type, "llama3") == 0) {
        c->rope_type = TR_ROPE_LLAMA3;
        c->rope_low_freq_factor = read_float(scaling, "low_freq_factor", 1.0f);
        c->rope_high_freq_factor = read_float(scaling, "high_freq_factor", 4.0f);
        int rc = read_positive(scaling, "original_max_position_embeddings", where, 8192,
                               &c->rope_original_max_position, err);
        if (rc != FL_OK)
            return rc;
        if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
            return fl_error_set(err, FL_EFORMAT,
                                "%s: rope_scaling high_freq_factor must exceed low_freq_factor",
                                where);
    } else {
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "%s: rope_scaling type '%s' is not supported; use linear or llama3",
                            where, type);
    }
    if (!(c->rope_factor > 0))
        return fl_error_set(err, FL_EFORMAT, "%s: rope_scaling factor must be positive", where);
    return FL_OK;
}

static int check_shapes(const tr_config *c, const char *where, fl_error *err)
{
    if (c->num_heads % c->num_kv_heads != 0)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: num_attention_heads %d is not a multiple of "
                            "num_key_value_heads %d", where, c->num_heads, c->num_kv_heads);
    if (c->head_dim % 2 != 0)
        return fl_error_set(err, FL_EFORMAT, "%s: head_dim %d must be even for RoPE", where,
                            c->head_dim);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0))
        return fl_error_set(err, FL_EFORMAT, "%s: rms_norm_eps and rope_theta must be positive",
                            where);

    /* Counted in double so that absurd sizes cannot overflow the size arithmetic later. */
    double H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    double attention = H * hd * (2.0 * c->num_heads + 2.0 * c->num_kv_heads);
    double parameters = 2.0 * c->vocab_size * H + c->num_layers * (attention + 3.0 * H * I);
    if (parameters > TR_MAX_PARAMETERS)
        return fl_error_set(err, FL_ERANGE,
                            "%s: the sizes describe %.3g parameters, more than the %.3g this "
                            "trainer holds in memory; check the config", where, parameters,
                            (double)TR_MAX_PARAMETERS);
    return FL_OK;
}

int tr_config_from_json(tr_config *c, const void *json_object, const char *where,
                        int arch_override, fl_error *err)
{
    const json_t *root = json_object;
    memset(c, 0, sizeof(*c));
    if (!json_is_object(root))
        return fl_error_set(err, FL_EFORMAT, "%s: expected a JSON object", where);
    int rc = FL_OK;
    if (arch_override >= 0)
        c->arch = (tr_arch)arch_override;
    else if ((rc = read_arch(root, where, &c->arch, err)) != FL_OK)
        return rc;

    if (json_is_true(json_object_get(root, "mlp_bias")))
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: \"mlp_bias\": true is not supported",
                            where);
    const char *act = json_string_value(json_object_get(root, "hidden_act"));
    if (act != NULL && strcmp(act, "silu") != 0)
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: hidden_act '%s' is not supported; "
                            "only silu", where, act);

    if ((rc = read_positive(root, "vocab_size", where, 0, &c->vocab_size, err)) ||
        (rc = read_positive(root, "hidden_size", where, 0, &c->hidden_size, err)) ||
        (rc = read_positive(root, "intermediate_size", where, 0, &c->intermediate_size, err)) ||
        (rc = read_positive(root, "num_hidden_layers", where, 0, &c->num_layers, err)) ||
        (rc = read_positive(root, "num_attention_heads", where, 0, &c->num_heads, err)) ||
        (rc = read_positive(root, "num_key_value_heads", where, c->num_heads,
                            &c->num_kv_heads, err)) ||
        (rc = read_positive(root, "max_position_embeddings", where, 2048,
                            &c->max_position_embeddings, err)))
        return rc;
    if (c->hidden_size % c->num_heads != 0 && json_object_get(root, "head_dim") == NULL)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: hidden_size %d is not a multiple of num_attention_heads %d and "
                            "no head_dim is given", where, c->hidden_size, c->num_heads);
    if ((rc = read_positive(root, "head_dim", where, c->hidden_size / c->num_heads,
                            &c->head_dim, err)))
        return rc;

    c->rms_norm_eps = read_float(root, "rms_norm_eps", 1e-6f);
    c->rope_theta = read_float(root, "rope_theta", 10000.0f);
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    c->tie_word_embeddings = json_is_boolean(tie) ? json_is_true(tie) : false;
    c->qkv_bias = c->arch == TR_ARCH_QWEN2 || json_is_true(json_object_get(root, "attention_bias"));
    c->qk_norm = c->arch == TR_ARCH_QWEN3;
    json_t *window = json_object_get(root, "sliding_window");
    bool window_used = c->arch == TR_ARCH_MISTRAL ||
                       json_is_true(json_object_get(root, "use_sliding_window"));
    if (window_used && json_is_integer(window) && json_integer_value(window) > 0)
        c->sliding_window = (int)json_integer_value(window);
    if ((rc = read_rope_scaling(c, root, where, err)) != FL_OK)
        return rc;
    return check_shapes(c, where, err);
}

int tr_config_load(tr_config *config, const char *path, fl_error *err)
{
    json_t *root = fl_json_load_file(path, TR_MAX_CONFIG_BYTES, err);
    if (root == NULL)
        return err != NULL ? err->code : FL_EFORMAT;
    int rc = tr_config_from_json(config, root, path, -1, err);
    json_decref(root);
    return rc;
}

static json_t *rope_scaling_json(const tr_config *c)
{
    if (c->rope_type == TR_ROPE_LINEAR)
        return json_pack("{s:s,s:s,s:f}", "type", "linear", "rope_type", "linear", "factor",
                         (double)c->rope_factor);
    if (c->rope_type == TR_ROPE_LLAMA3)
        return json_pack("{s:s,s:f,s:f,s:f,s:i}", "rope_type", "llama3", "factor",
                         (double)c->rope_factor, "low_freq_factor",
                         (double)c->rope_low_freq_factor, "high_freq_factor",
                         (double)c->rope_high_freq_factor, "original_max_position_embeddings",
                         c->rope_original_max_position);
    return json_null();
}

int tr_config_save(const tr_config *c, const char *path, fl_error *err)
{
    json_t *root = json_pack(
        "{s:[s],s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:f,s:o,s:b,s:b,s:s,s:f}",
        "architectures", s_arches[c->arch].class_name, "model_type",
        s_arches[c->arch].model_type, "hidden_act", "silu", "vocab_size", c->vocab_size,
        "hidden_size", c->hidden_size, "intermediate_size", c->intermediate_size,
        "num_hidden_layers", c->num_layers, "num_attention_heads", c->num_heads,
        "num_key_value_heads", c->num_kv_heads, "head_dim", c->head_dim,
        "max_position_embeddings", c->max_position_embeddings, "rms_norm_eps",
        (double)c->rms_norm_eps, "rope_theta", (double)c->rope_theta, "rope_scaling",
        rope_scaling_json(c), "tie_word_embeddings", c->tie_word_embeddings, "attention_bias",
        c->qkv_bias && c->arch != TR_ARCH_QWEN2, "torch_dtype", "float32",
        "initializer_range", 0.02);
    if (root == NULL)
        return fl_error_set(err, FL_ENOMEM, "%s: cannot build config.json", path);
    int rc = fl_json_save_file(path, root, 0644, err);
    json_decref(root);
    return rc;
}

void tr_config_rope_inv_freq(const tr_config *c, float *inv_freq)
{
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        float exponent = (float)(2 * i) / (float)c->head_dim;
        inv_freq[i] = (float)(1.0 / pow((double)c->rope_theta, (double)exponent));
    }
    if (c->rope_type == TR_ROPE_LINEAR) {
        for (int i = 0; i < half; i++)
            inv_freq[i] /= c->rope_factor;
    } else if (c->rope_type == TR_ROPE_LLAMA3) {
        /* Long wavelengths are slowed by factor, short ones kept, and the band between
           interpolated, as transformers' _compute_llama3_parameters does. */
        double old_context = c->rope_original_max_position;
        double low_wavelen = old_context / c->rope_low_freq_factor;
        double high_wavelen = old_context / c->rope_high_freq_factor;
        for (int i = 0; i < half; i++) {
            double freq = inv_freq[i];
            double wavelen = 2.0 * M_PI / freq;
            if (wavelen > low_wavelen) {
                freq /= c->rope_factor;
            } else if (wavelen >= high_wavelen) {
                double smooth = (old_context / wavelen - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                freq = (1.0 - smooth) * freq / c->rope_factor + smooth * freq;
            }
            inv_freq[i] = (float)freq;
        }
    }
}
