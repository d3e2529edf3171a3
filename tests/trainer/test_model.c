/*
 * Tests of model folders: `fedlora init-model` for each architecture, the
 * table of bad inputs (each error names the file and the tensor), and a tiny
 * random model that learns a batch with LoRA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <math.h>

#include "fl_file.h"
#include "lora.h"
#include "st_file.h"
#include "tr_model.h"
#include "tr_ops.h"
#include "tr_train.h"

static char s_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_model.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static tr_config tiny_config(tr_arch arch)
{
    tr_config c;
    memset(&c, 0, sizeof(c));
    c.arch = arch;
    c.vocab_size = 8;
    c.hidden_size = 8;
    c.intermediate_size = 12;
    c.num_layers = 1;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = 4;
    c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 10000.0f;
    c.qkv_bias = arch == TR_ARCH_QWEN2;
    c.qk_norm = arch == TR_ARCH_QWEN3;
    return c;
}

/* Writes a valid tiny Llama folder at s_dir/name and returns its path in folder. */
static void write_tiny_model(const char *name, char *folder, size_t size)
{
    snprintf(folder, size, "%s/%s", s_dir, name);
    fl_error err = {0};
    assert_int_equal(fl_file_mkdirs(folder, 0755, &err), FL_OK);
    tr_config config = tiny_config(TR_ARCH_LLAMA);
    tr_model model;
    tr_model_init(&model, &config);
    tr_model_randomize(&model, 1, 1);
    assert_int_equal(tr_model_save(&model, folder, &err), FL_OK);
    tr_model_release(&model);
}

/* ---------------------------------------------------------------------------
 * fedlora init-model
 */

static void test_init_model_each_arch(void **state)
{
    (void)state;
    const char *arches[] = {"llama", "mistral", "qwen2", "qwen3"};
    char config_path[300];
    snprintf(config_path, sizeof(config_path), "%s/sizes.json", s_dir);
    write_text(config_path, "{\"vocab_size\": 40, \"hidden_size\": 16, \"intermediate_size\": 24,"
                            " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
                            " \"num_key_value_heads\": 2, \"tie_word_embeddings\": true}");
    for (int i = 0; i < 4; i++) {
        char out[300];
        char command[1200];
        snprintf(out, sizeof(out), "%s/init_%s", s_dir, arches[i]);
        snprintf(command, sizeof(command),
                 "'%s/bin/fedlora' init-model --arch %s --config '%s' --out '%s' --seed 5",
                 FL_BINARY_DIR, arches[i], config_path, out);
        assert_int_equal(system(command), 0);

        tr_model model;
        fl_error err = {0};
        assert_int_equal(tr_model_load(&model, out, &err), FL_OK);
        assert_int_equal((int)model.config.arch, i);
        assert_int_equal(model.config.head_dim, 4);
        assert_true(model.config.tie_word_embeddings);
        assert_int_equal(model.sizes[TR_BQ] > 0, i == TR_ARCH_QWEN2);
        assert_int_equal(model.sizes[TR_QNORM] > 0, i == TR_ARCH_QWEN3);
        assert_int_equal(model.sizes[TR_LM_HEAD], 0);
        tr_model_release(&model);
    }
}

static void test_init_model_rejects_big_token_ids(void **state)
{
    (void)state;
    char config_path[300];
    char tokenizer_path[300];
    snprintf(config_path, sizeof(config_path), "%s/sizes_small.json", s_dir);
    snprintf(tokenizer_path, sizeof(tokenizer_path), "%s/tokenizer.json", s_dir);
    write_text(config_path, "{\"vocab_size\": 4, \"hidden_size\": 8, \"intermediate_size\": 8,"
                            " \"num_hidden_layers\": 1, \"num_attention_heads\": 2}");
    write_text(tokenizer_path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}},"
                               " \"added_tokens\": [{\"id\": 9, \"content\": \"<|end|>\"}]}");
    tr_config config;
    memset(&config, 0, sizeof(config));
    config.vocab_size = 4;
    fl_error err = {0};
    assert_int_equal(tr_model_check_tokenizer(&config, tokenizer_path, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "tokenizer.json"));
    assert_non_null(strstr(err.msg, "<|end|>"));
    assert_non_null(strstr(err.msg, "vocab_size is 4"));

    char command[1200];
    snprintf(command, sizeof(command),
             "'%s/bin/fedlora' init-model --arch llama --config '%s' --out '%s/bad_vocab' "
             "--tokenizer '%s' 2>/dev/null", FL_BINARY_DIR, config_path, s_dir, tokenizer_path);
    assert_int_not_equal(system(command), 0);
}

typedef struct config_case {
    const char *label;
    const char *json;
    int code;
    const char *message; /* text the error contains, or NULL */
} config_case;

static void test_config_fields_and_errors(void **state)
{
    (void)state;
    static const config_case cases[] = {
        {"model_type only", "{\"model_type\":\"qwen3\",\"vocab_size\":8,\"hidden_size\":8,"
         "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2}",
         FL_OK, NULL},
        {"rope_parameters", "{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":8,"
         "\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,"
         "\"num_attention_heads\":2,\"rope_parameters\":{\"rope_theta\":500000.0,"
         "\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
         "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}", FL_OK, NULL},
        {"yarn rope", "{\"architectures\":[\"Qwen2ForCausalLM\"],\"vocab_size\":8,"
         "\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,"
         "\"num_attention_heads\":2,\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4}}",
         FL_EUNSUPPORTED, "yarn"},
        {"mlp bias", "{\"architectures\":[\"LlamaForCausalLM\"],\"mlp_bias\":true,"
         "\"vocab_size\":8,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":1,\"num_attention_heads\":2}", FL_EUNSUPPORTED, "mlp_bias"},
        {"heads not divisible", "{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":8,"
         "\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,"
         "\"num_attention_heads\":4,\"num_key_value_heads\":3}", FL_EFORMAT,
         "num_key_value_heads"},
        {"missing size", "{\"architectures\":[\"MistralForCausalLM\"],\"vocab_size\":8}",
         FL_EFORMAT, "hidden_size"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = json_loads(cases[i].json, 0, NULL);
        assert_non_null(root);
        tr_config config;
        fl_error err = {0};
        int rc = tr_config_from_json(&config, root, "config.json", -1, &err);
        printf("%-20s -> %s\n", cases[i].label, rc == FL_OK ? "ok" : err.msg);
        assert_int_equal(rc, cases[i].code);
        if (cases[i].message != NULL)
            assert_non_null(strstr(err.msg, cases[i].message));
        if (i == 0) {
            assert_int_equal(config.arch, TR_ARCH_QWEN3);
            assert_int_equal(config.num_kv_heads, 2);
            assert_int_equal(config.head_dim, 4);
            assert_true(config.qk_norm);
        }
        if (i == 1) {
            assert_int_equal(config.rope_type, TR_ROPE_LLAMA3);
            assert_true(config.rope_theta == 500000.0f);
            assert_int_equal(config.rope_original_max_position, 8192);
        }
        json_decref(root);
    }
}

/* ---------------------------------------------------------------------------
 * bad inputs
 */

typedef void (*header_edit)(json_t *header);

/* Rewrites the header of path through edit, keeping the data (minus cut bytes). */
static void rewrite_header(const char *path, header_edit edit, size_t cut)
{
    char *bytes = NULL;
    size_t length = 0;
    fl_error err = {0};
    assert_int_equal(fl_file_read_all(path, 1u << 24, &bytes, &length, &err), FL_OK);
    uint64_t header_length = 0;
    for (int i = 7; i >= 0; i--)
        header_length = header_length << 8 | (uint8_t)bytes[i];
    json_t *header = json_loadb(bytes + 8, header_length, 0, NULL);
    assert_non_null(header);
    if (edit != NULL)
        edit(header);
    char *text = json_dumps(header, JSON_COMPACT);
    uint64_t new_length = strlen(text);

    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 8; i++)
        fputc((int)((new_length >> (8 * i)) & 0xff), f);
    fwrite(text, 1, new_length, f);
    size_t data = length - 8 - header_length;
    fwrite(bytes + 8 + header_length, 1, data - cut, f);
    fclose(f);
    free(text);
    json_decref(header);
    free(bytes);
}

static void lie_about_shape(json_t *header)
{
    json_t *entry = json_object_get(header, "model.layers.0.mlp.up_proj.weight");
    json_object_set_new(entry, "shape", json_pack("[i,i]", 12, 9));
}

static void overlap_offsets(json_t *header)
{
    json_t *entry = json_object_get(header, "model.norm.weight");
    json_t *offsets = json_object_get(entry, "data_offsets");
    json_int_t begin = json_integer_value(json_array_get(offsets, 0));
    json_int_t end = json_integer_value(json_array_get(offsets, 1));
    json_object_set_new(entry, "data_offsets", json_pack("[I,I]", begin - 4, end - 4));
}

static void make_int32(json_t *header)
{
    json_t *entry = json_object_get(header, "model.layers.0.self_attn.q_proj.weight");
    json_object_set_new(entry, "dtype", json_string("I32"));
}

typedef struct bad_model {
    const char *label;
    header_edit edit;
    size_t cut;
    const char *config_edit; /* sed expression applied to config.json, or NULL */
    int code;
    const char *file;   /* text the message names */
    const char *tensor; /* text the message names */
} bad_model;

static void test_bad_model_inputs(void **state)
{
    (void)state;
    static const bad_model cases[] = {
        {"truncated file", NULL, 8, NULL, FL_EFORMAT, "model.safetensors", "lm_head.weight"},
        {"header sizes lie", lie_about_shape, 0, NULL, FL_EFORMAT, "model.safetensors",
         "up_proj.weight"},
        {"overlapping offsets", overlap_offsets, 0, NULL, FL_EFORMAT, "model.safetensors",
         "model.norm.weight"},
        {"unsupported dtype", make_int32, 0, NULL, FL_EUNSUPPORTED, "model.safetensors",
         "q_proj.weight"},
        {"shape against config", NULL, 0, "s/\"intermediate_size\": 12/\"intermediate_size\": 10/",
         FL_EFORMAT, "model.safetensors", "gate_proj.weight"},
        {"unknown architecture", NULL, 0, "s/LlamaForCausalLM/GPT2LMHeadModel/", FL_EUNSUPPORTED,
         "config.json", "GPT2LMHeadModel"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char folder[300];
        char name[64];
        snprintf(name, sizeof(name), "bad_%zu", i);
        write_tiny_model(name, folder, sizeof(folder));
        char path[400];
        snprintf(path, sizeof(path), "%s/model.safetensors", folder);
        if (cases[i].edit != NULL || cases[i].cut > 0)
            rewrite_header(path, cases[i].edit, cases[i].cut);
        if (cases[i].config_edit != NULL) {
            char command[800];
            snprintf(command, sizeof(command), "sed -i '%s' '%s/config.json'",
                     cases[i].config_edit, folder);
            assert_int_equal(system(command), 0);
        }

        tr_model model;
        fl_error err = {0};
        int rc = tr_model_load(&model, folder, &err);
        printf("%-22s -> %s\n", cases[i].label, rc == FL_OK ? "loaded" : err.msg);
        assert_int_equal(rc, cases[i].code);
        if (rc == FL_OK) {
            tr_model_release(&model);
            continue;
        }
        assert_non_null(strstr(err.msg, cases[i].file));
        assert_non_null(strstr(err.msg, cases[i].tensor));
    }
}

static void test_missing_tensor_named(void **state)
{
    (void)state;
    char folder[300];
    write_tiny_model("missing", folder, sizeof(folder));
    char path[400];
    snprintf(path, sizeof(path), "%s/model.safetensors", folder);

    /* Rewrite the file from a model whose v_proj is left out of the writer. */
    tr_config config = tiny_config(TR_ARCH_LLAMA);
    tr_model model;
    fl_error err = {0};
    assert_int_equal(tr_model_load(&model, folder, &err), FL_OK);
    st_writer *writer = st_writer_new();
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        if (model.sizes[id] == 0 || id == TR_WV)
            continue;
        char name[256];
        int64_t shape[2];
        int rank = tr_param_shape(&config, id, shape);
        tr_param_name(id, 0, name, sizeof(name));
        assert_int_equal(st_writer_add(writer, name, model.params.tensor[id], rank, shape), FL_OK);
    }
    assert_int_equal(st_writer_save(writer, path, &err), FL_OK);
    st_writer_destroy(&writer);
    tr_model_release(&model);

    assert_int_equal(tr_model_load(&model, folder, &err), FL_ENOTFOUND);
    printf("missing tensor         -> %s\n", err.msg);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    assert_non_null(strstr(err.msg, "model.layers.0.self_attn.v_proj.weight"));
}

static void test_bias_on_llama_rejected(void **state)
{
    (void)state;
    char folder[300];
    snprintf(folder, sizeof(folder), "%s/qwen_as_llama", s_dir);
    fl_error err = {0};
    assert_int_equal(fl_file_mkdirs(folder, 0755, &err), FL_OK);
    tr_config config = tiny_config(TR_ARCH_QWEN2);
    tr_model model;
    tr_model_init(&model, &config);
    assert_int_equal(tr_model_save(&model, folder, &err), FL_OK);
    tr_model_release(&model);
    char command[600];
    snprintf(command, sizeof(command), "sed -i 's/Qwen2ForCausalLM/LlamaForCausalLM/' '%s/config.json'",
             folder);
    assert_int_equal(system(command), 0);

    assert_int_equal(tr_model_load(&model, folder, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "_proj.bias"));
}

/* Returns the mean loss of batch under model and adapter (adapter may be NULL). */
static double batch_loss(tr_model *model, lora_adapter *adapter, const tr_batch *batch)
{
    tr_train_options options = tr_train_options_default();
    options.mode = adapter != NULL ? TR_MODE_LORA : TR_MODE_FULL;
    options.max_batch = batch->B;
    options.max_seq = batch->T;
    tr_trainer *trainer = NULL;
    fl_error err = {0};
    assert_int_equal(tr_trainer_new(&trainer, model, adapter, &options, &err), FL_OK);
    double sum = 0.0;
    long tokens = 0;
    assert_int_equal(tr_trainer_evaluate(trainer, batch, &sum, &tokens, &err), FL_OK);
    tr_trainer_destroy(&trainer);
    return sum / (double)tokens;
}

static void test_merge_keeps_loss(void **state)
{
    (void)state;
    char folder[300];
    write_tiny_model("merge_base", folder, sizeof(folder));
    tr_model model;
    fl_error err = {0};
    assert_int_equal(tr_model_load(&model, folder, &err), FL_OK);

    lora_options lora = {.rank = 2, .alpha = 3.0f, .use_rslora = true,
                         .targets = (1u << LORA_Q) | (1u << LORA_O) | (1u << LORA_DOWN)};
    lora_adapter adapter;
    lora_adapter_init(&adapter, &model.config, &lora);
    lora_adapter_init_weights(&adapter, 9);
    for (size_t i = adapter.a_count; i < adapter.num_params; i++)
        adapter.memory[i] = 0.3f * (float)sin((double)i);
    char adapter_dir[400];
    snprintf(adapter_dir, sizeof(adapter_dir), "%s/merge_adapter", s_dir);
    assert_int_equal(lora_adapter_save(&adapter, adapter_dir, "tiny", &err), FL_OK);

    int32_t tokens[10] = {1, 5, 2, 7, 3, 3, 0, 6, 4, 2};
    int32_t targets[10] = {5, 2, 7, 3, 3, 0, 6, 4, 2, -100};
    int32_t positions[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    int32_t segments[10] = {0};
    tr_batch batch = {1, 10, tokens, targets, positions, segments};
    double with_adapter = batch_loss(&model, &adapter, &batch);

    char out[400];
    char command[1400];
    snprintf(out, sizeof(out), "%s/merged", s_dir);
    snprintf(command, sizeof(command),
             "'%s/bin/fedlora' merge --model '%s' --adapter '%s' --out '%s' >/dev/null",
             FL_BINARY_DIR, folder, adapter_dir, out);
    assert_int_equal(system(command), 0);
    tr_model merged;
    assert_int_equal(tr_model_load(&merged, out, &err), FL_OK);
    double merged_loss = batch_loss(&merged, NULL, &batch);
    double diff = fabs(merged_loss - with_adapter) / with_adapter;
    printf("merge: loss with adapter %.7f, merged %.7f, relative difference %.3g\n",
           with_adapter, merged_loss, diff);
    assert_true(diff < 1e-5);
    assert_true(fabs(merged_loss - batch_loss(&model, NULL, &batch)) > 1e-4);

    tr_model_release(&merged);
    lora_adapter_release(&adapter);
    tr_model_release(&model);
}

/* ---------------------------------------------------------------------------
 * kernels and learning
 */

static void test_matmul_blas_matches_reference(void **state)
{
    (void)state;
    enum { N = 5, C = 7, OC = 3 };
    float inp[N * C], weight[OC * C], bias[OC], dout[N * OC];
    for (int i = 0; i < N * C; i++)
        inp[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < OC * C; i++)
        weight[i] = (float)((i * 17) % 13) / 13.0f - 0.5f;
    for (int i = 0; i < OC; i++)
        bias[i] = 0.1f * (float)i;
    for (int i = 0; i < N * OC; i++)
        dout[i] = (float)((i * 7) % 5) / 5.0f - 0.4f;

    float out_blas[N * OC], out_ref[N * OC];
    tr_matmul_forward(out_blas, inp, weight, bias, N, C, OC, 0.0f);
    tr_matmul_forward_ref(out_ref, inp, weight, bias, N, C, OC, 0.0f);
    float din_blas[N * C], din_ref[N * C], dw_blas[OC * C] = {0}, dw_ref[OC * C] = {0};
    float db_blas[OC] = {0}, db_ref[OC] = {0};
    tr_matmul_backward(din_blas, dw_blas, db_blas, dout, inp, weight, N, C, OC, 0.0f);
    tr_matmul_backward_ref(din_ref, dw_ref, db_ref, dout, inp, weight, N, C, OC, 0.0f);

    double worst = 0.0;
    for (int i = 0; i < N * OC; i++)
        worst = fmax(worst, fabs(out_blas[i] - out_ref[i]));
    for (int i = 0; i < N * C; i++)
        worst = fmax(worst, fabs(din_blas[i] - din_ref[i]));
    for (int i = 0; i < OC * C; i++)
        worst = fmax(worst, fabs(dw_blas[i] - dw_ref[i]));
    for (int i = 0; i < OC; i++)
        worst = fmax(worst, fabs(db_blas[i] - db_ref[i]));
    printf("matmul: max difference BLAS vs reference %.3g\n", worst);
    assert_true(worst < 1e-5);
}

/* Dense attention in double precision: out, probabilities, and the backward pass. */
static void attention_reference(double *out, double *probs, double *dq, double *dk, double *dv,
                                const float *q, const float *k, const float *v,
                                const float *dout, const int32_t *seg, int T, int nh, int nkv,
                                int hd)
{
    int QD = nh * hd, KVD = nkv * hd, group = nh / nkv;
    double scale = 1.0 / sqrt((double)hd);
    memset(dq, 0, sizeof(double) * T * QD);
    memset(dk, 0, sizeof(double) * T * KVD);
    memset(dv, 0, sizeof(double) * T * KVD);
    for (int h = 0; h < nh; h++) {
        int g = h / group;
        for (int t = 0; t < T; t++) {
            double *p = probs + ((size_t)h * T + t) * T;
            double max = -1e300, sum = 0.0;
            for (int s = 0; s < T; s++) {
                p[s] = 0.0;
                if (s > t || seg[s] != seg[t])
                    continue;
                double dot = 0.0;
                for (int i = 0; i < hd; i++)
                    dot += (double)q[t * QD + h * hd + i] * k[s * KVD + g * hd + i];
                p[s] = dot * scale;
                max = fmax(max, p[s]);
            }
            for (int s = 0; s <= t; s++) {
                p[s] = (seg[s] == seg[t]) ? exp(p[s] - max) : 0.0;
                sum += p[s];
            }
            for (int s = 0; s <= t; s++)
                p[s] /= sum;
            for (int i = 0; i < hd; i++) {
                double acc = 0.0;
                for (int s = 0; s <= t; s++)
                    acc += p[s] * v[s * KVD + g * hd + i];
                out[t * QD + h * hd + i] = acc;
            }

            /* backward of this row */
            double dp[512], dot = 0.0;
            for (int s = 0; s <= t; s++) {
                dp[s] = 0.0;
                for (int i = 0; i < hd; i++) {
                    dp[s] += (double)dout[t * QD + h * hd + i] * v[s * KVD + g * hd + i];
                    dv[s * KVD + g * hd + i] += p[s] * dout[t * QD + h * hd + i];
                }
                dot += p[s] * dp[s];
            }
            for (int s = 0; s <= t; s++) {
                double ds = p[s] * (dp[s] - dot) * scale;
                for (int i = 0; i < hd; i++) {
                    dq[t * QD + h * hd + i] += ds * k[s * KVD + g * hd + i];
                    dk[s * KVD + g * hd + i] += ds * q[t * QD + h * hd + i];
                }
            }
        }
    }
}

static double max_relative(const float *a, const double *b, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return diff / scale;
}

static void test_attention_blocks_match_dense(void **state)
{
    (void)state;
    enum { T = 300, NH = 4, NKV = 2, HD = 8, QD = NH * HD, KVD = NKV * HD };
    float *q = malloc(sizeof(float) * T * QD), *k = malloc(sizeof(float) * T * KVD);
    float *v = malloc(sizeof(float) * T * KVD), *dout = malloc(sizeof(float) * T * QD);
    float *out = malloc(sizeof(float) * T * QD), *att = malloc(sizeof(float) * NH * T * T);
    float *dq = malloc(sizeof(float) * T * QD), *dk = malloc(sizeof(float) * T * KVD);
    float *dv = malloc(sizeof(float) * T * KVD), *scratch = malloc(sizeof(float) * T * T);
    double *ref_out = malloc(sizeof(double) * T * QD), *probs = malloc(sizeof(double) * NH * T * T);
    double *ref_dq = malloc(sizeof(double) * T * QD), *ref_dk = malloc(sizeof(double) * T * KVD);
    double *ref_dv = malloc(sizeof(double) * T * KVD);
    int32_t seg[T];
    for (int t = 0; t < T; t++)
        seg[t] = t < 170 ? 0 : (t < 290 ? 1 : -1); /* two records and padding */
    for (int i = 0; i < T * QD; i++) {
        q[i] = (float)sin(0.37 * i);
        dout[i] = (float)cos(0.11 * i);
    }
    for (int i = 0; i < T * KVD; i++) {
        k[i] = (float)cos(0.53 * i);
        v[i] = (float)sin(0.29 * i + 1.0);
    }

    tr_attention_forward(out, att, q, k, v, seg, 1, T, NH, NKV, HD, 0);
    tr_attention_backward(dq, dk, dv, scratch, dout, att, q, k, v, 1, T, NH, NKV, HD);
    attention_reference(ref_out, probs, ref_dq, ref_dk, ref_dv, q, k, v, dout, seg, T, NH, NKV,
                        HD);
    double d_out = max_relative(out, ref_out, T * QD);
    double d_q = max_relative(dq, ref_dq, T * QD);
    double d_k = max_relative(dk, ref_dk, T * KVD);
    double d_v = max_relative(dv, ref_dv, T * KVD);
    printf("attention over %d positions: out %.3g dq %.3g dk %.3g dv %.3g\n", T, d_out, d_q, d_k,
           d_v);
    assert_true(d_out < 1e-5);
    assert_true(d_q < 1e-4);
    assert_true(d_k < 1e-4);
    assert_true(d_v < 1e-4);
    free(q); free(k); free(v); free(dout); free(out); free(att); free(dq); free(dk); free(dv);
    free(scratch); free(ref_out); free(probs); free(ref_dq); free(ref_dk); free(ref_dv);
}

static void test_tiny_model_learns(void **state)
{
    (void)state;
    tr_config config = tiny_config(TR_ARCH_QWEN3);
    config.vocab_size = 32;
    config.hidden_size = 32;
    config.intermediate_size = 64;
    config.num_layers = 2;
    config.num_heads = 4;
    config.num_kv_heads = 2;
    config.head_dim = 8;
    tr_model model;
    tr_model_init(&model, &config);
    tr_model_randomize(&model, 11, 0);
    /* N(0, 0.02) output weights bound every logit to about +-0.6; a trained model's are wider. */
    for (size_t i = 0; i < model.sizes[TR_LM_HEAD]; i++)
        model.params.tensor[TR_LM_HEAD][i] *= 15.0f;

    lora_options lora = {.rank = 8, .alpha = 16.0f, .targets = LORA_ALL_TARGETS};
    lora_adapter adapter;
    lora_adapter_init(&adapter, &config, &lora);
    lora_adapter_init_weights(&adapter, 3);

    enum { T = 24 };
    int32_t tokens[T], targets[T], positions[T], segments[T];
    for (int i = 0; i < T; i++) {
        tokens[i] = (i * 7 + 3) % 32;
        positions[i] = i;
        segments[i] = 0;
    }
    for (int i = 0; i < T; i++)
        targets[i] = i + 1 < T ? tokens[i + 1] : -100;
    tr_batch batch = {1, T, tokens, targets, positions, segments};

    tr_train_options options = tr_train_options_default();
    options.optim.lr = 1e-2f;
    options.max_seq = T;
    tr_trainer *trainer = NULL;
    fl_error err = {0};
    assert_int_equal(tr_trainer_new(&trainer, &model, &adapter, &options, &err), FL_OK);
    tr_step_stats stats;
    double first = 0.0;
    for (int step = 0; step < 80; step++) {
        assert_int_equal(tr_trainer_step(trainer, &batch, 1, &stats, &err), FL_OK);
        if (step == 0)
            first = stats.loss;
    }
    printf("tiny model: loss %.4f -> %.4f after 80 LoRA steps\n", first, stats.loss);
    assert_true(stats.loss < 0.1 * first);

    tr_trainer_destroy(&trainer);
    lora_adapter_release(&adapter);
    tr_model_release(&model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_model_each_arch),
        cmocka_unit_test(test_init_model_rejects_big_token_ids),
        cmocka_unit_test(test_config_fields_and_errors),
        cmocka_unit_test(test_bad_model_inputs),
        cmocka_unit_test(test_missing_tensor_named),
        cmocka_unit_test(test_bias_on_llama_rejected),
        cmocka_unit_test(test_merge_keeps_loss),
        cmocka_unit_test(test_matmul_blas_matches_reference),
        cmocka_unit_test(test_attention_blocks_match_dense),
        cmocka_unit_test(test_tiny_model_learns),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
