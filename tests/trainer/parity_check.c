/*
 * parity_check CASE_DIR: runs one training step of the C trainer on a case
 * written by parity_reference.py and compares logits, loss, gradients and
 * parameters after AdamW with the PyTorch reference, printing the maximum
 * relative difference of each. Exits 0 when every figure is within its
 * tolerance, 1 otherwise.
 *
 * The AdamW step starts from the reference's gradients, copied into the
 * trainer's gradient buffers. The first step moves a weight by about
 * lr * g / (|g| + eps). When a clipped gradient is near eps (1e-8), a float32
 * rounding difference in g, far inside the gradient tolerance, changes that
 * move by a visible fraction of lr. Starting both sides from the same
 * gradients therefore tests the optimizer, and the gradients have their own
 * comparison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_json.h"
#include "fl_json.h"
#include "fl_mem.h"
#include "lora.h"
#include "st_file.h"
#include "tr_train.h"

#define LOGITS_TOLERANCE 1e-4
#define LOSS_TOLERANCE 1e-5
#define GRAD_TOLERANCE 1e-3
#define PARAM_TOLERANCE 1e-5

typedef struct check {
    const char *case_dir;
    st_file *expected;
    int failures;
    double worst_grad;
    double worst_param;
    double tolerance; /* of the comparison running now */
    double *worst;    /* its largest difference */
} check;

/* Returns max|a - b| / max|b| over n values (max|a - b| when b is all zeros). */
static double relative_difference(const float *a, const float *b, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

/* Reads expected tensor name into a new buffer; returns NULL (and counts a failure) when absent. */
static float *expected_tensor(check *c, const char *name, size_t *count)
{
    const st_tensor *tensor = st_file_find(c->expected, name);
    if (tensor == NULL) {
        printf("  missing reference tensor %s\n", name);
        c->failures++;
        return NULL;
    }
    float *values = fl_xmalloc((size_t)tensor->elements * sizeof(float) + 1);
    fl_error err = {0};
    if (st_file_read_f32(c->expected, tensor, values, &err) != FL_OK) {
        printf("  %s\n", err.msg);
        c->failures++;
        free(values);
        return NULL;
    }
    *count = (size_t)tensor->elements;
    return values;
}

typedef void (*tensor_fn)(check *c, const char *key, float *values, size_t count);

static void compare(check *c, const char *key, float *values, size_t count)
{
    size_t expected_count = 0;
    float *expected = expected_tensor(c, key, &expected_count);
    if (expected == NULL)
        return;
    if (expected_count != count) {
        printf("  %s: %zu values, reference has %zu\n", key, count, expected_count);
        c->failures++;
    } else {
        double diff = relative_difference(values, expected, count);
        *c->worst = fmax(*c->worst, diff);
        if (diff > c->tolerance) {
            printf("  FAIL %s: relative difference %.3g > %.1g\n", key, diff, c->tolerance);
            c->failures++;
        }
    }
    free(expected);
}

/* Copies the reference tensor named key into values. */
static void adopt(check *c, const char *key, float *values, size_t count)
{
    size_t expected_count = 0;
    float *expected = expected_tensor(c, key, &expected_count);
    if (expected != NULL && expected_count == count)
        memcpy(values, expected, count * sizeof(float));
    else if (expected != NULL) {
        printf("  %s: %zu values, reference has %zu\n", key, count, expected_count);
        c->failures++;
    }
    free(expected);
}

static void peft_key(int target, int layer, char which, char *key, size_t size)
{
    snprintf(key, size, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", layer,
             target <= LORA_O ? "self_attn" : "mlp", lora_target_name(target), which);
}

/* Calls fn on every trained LoRA tensor, named "<kind>.<PEFT key>". */
static void each_lora(check *c, const char *kind, const lora_adapter *values, int train_a,
                      tensor_fn fn)
{
    int r = values->options.rank;
    for (int t = 0; t < LORA_TARGET_COUNT; t++) {
        if (values->a[t] == NULL)
            continue;
        size_t a_size = (size_t)r * values->in_features[t];
        size_t b_size = (size_t)values->out_features[t] * r;
        for (int layer = 0; layer < values->num_layers; layer++) {
            char name[256], key[300];
            if (train_a) {
                peft_key(t, layer, 'A', name, sizeof(name));
                snprintf(key, sizeof(key), "%s.%s", kind, name);
                fn(c, key, values->a[t] + layer * a_size, a_size);
            }
            peft_key(t, layer, 'B', name, sizeof(name));
            snprintf(key, sizeof(key), "%s.%s", kind, name);
            fn(c, key, values->b[t] + layer * b_size, b_size);
        }
    }
}

/* Calls fn on every base tensor (full mode), named "<kind>.<Hugging Face name>". */
static void each_param(check *c, const char *kind, const tr_model *model,
                       const tr_params *values, tensor_fn fn)
{
    for (int id = 0; id < TR_PARAM_COUNT; id++) {
        if (model->sizes[id] == 0)
            continue;
        int layers = tr_param_per_layer(id) ? model->config.num_layers : 1;
        size_t slice = model->sizes[id] / (size_t)layers;
        for (int layer = 0; layer < layers; layer++) {
            char name[256], key[300];
            tr_param_name(id, layer, name, sizeof(name));
            snprintf(key, sizeof(key), "%s.%s", kind, name);
            fn(c, key, values->tensor[id] + layer * slice, slice);
        }
    }
}

/* Calls fn on the trained tensors: gradients or values. */
static void each_trained(check *c, const char *kind, const tr_model *model,
                         const tr_params *params, const lora_adapter *adapter, int train_a,
                         tensor_fn fn)
{
    if (params != NULL)
        each_param(c, kind, model, params, fn);
    else
        each_lora(c, kind, adapter, train_a, fn);
}

static tr_train_options options_of(const json_t *spec, const tr_batch *a, const tr_batch *b)
{
    tr_train_options o = tr_train_options_default();
    const char *mode = json_string_value(json_object_get(spec, "mode"));
    o.mode = strcmp(mode, "full") == 0 ? TR_MODE_FULL
             : strcmp(mode, "frozen_a") == 0 ? TR_MODE_FROZEN_A : TR_MODE_LORA;
    json_t *optim = json_object_get(spec, "optim");
    o.optim.lr = (float)json_number_value(json_object_get(optim, "lr"));
    o.optim.weight_decay = (float)json_number_value(json_object_get(optim, "weight_decay"));
    o.optim.beta1 = (float)json_number_value(json_object_get(optim, "beta1"));
    o.optim.beta2 = (float)json_number_value(json_object_get(optim, "beta2"));
    o.optim.eps = (float)json_number_value(json_object_get(optim, "eps"));
    o.optim.max_grad_norm = (float)json_number_value(json_object_get(optim, "max_grad_norm"));
    o.max_batch = a->B > b->B ? a->B : b->B;
    o.max_seq = a->T > b->T ? a->T : b->T;
    return o;
}

static void check_logits(check *c, tr_trainer *trainer, int vocab)
{
    size_t count = 0, mask_count = 0;
    float *expected = expected_tensor(c, "logits", &count);
    float *mask = expected_tensor(c, "logits_mask", &mask_count);
    if (expected != NULL && mask != NULL) {
        const float *actual = tr_trainer_logits(trainer);
        double diff = 0.0, scale = 0.0;
        for (size_t n = 0; n < mask_count; n++) {
            for (int v = 0; v < vocab && mask[n] > 0; v++) {
                diff = fmax(diff, fabs((double)actual[n * vocab + v] - expected[n * vocab + v]));
                scale = fmax(scale, fabs((double)expected[n * vocab + v]));
            }
        }
        printf("  logits: max relative difference %.3g (tolerance %.0e)\n", diff / scale,
               LOGITS_TOLERANCE);
        if (diff / scale > LOGITS_TOLERANCE)
            c->failures++;
    }
    free(expected);
    free(mask);
}

static void check_loss(check *c, double loss, double unpacked_loss)
{
    size_t count = 0;
    float *expected = expected_tensor(c, "loss", &count);
    if (expected == NULL)
        return;
    double diff = fabs(loss - expected[0]) / fabs(expected[0]);
    double packing = fabs(loss - unpacked_loss) / fabs(loss);
    printf("  loss: %.7f vs reference %.7f, relative difference %.3g (tolerance %.0e)\n", loss,
           (double)expected[0], diff, LOSS_TOLERANCE);
    printf("  packed vs unpacked loss: %.7f vs %.7f, relative difference %.3g\n", loss,
           unpacked_loss, packing);
    if (diff > LOSS_TOLERANCE || packing > LOSS_TOLERANCE)
        c->failures++;
    free(expected);
}

static int run(check *c)
{
    fl_error err = {0};
    char path[4096];
    snprintf(path, sizeof(path), "%s/case.json", c->case_dir);
    json_t *spec = fl_json_load_file(path, 64u << 20, &err);
    tr_model model;
    if (spec == NULL || tr_model_load(&model, c->case_dir, &err) != FL_OK) {
        printf("  %s\n", err.msg);
        json_decref(spec);
        return 1;
    }
    tr_batch packed, unpacked;
    if (batch_from_json(&packed, json_object_get(spec, "batch")) != 0 ||
        batch_from_json(&unpacked, json_object_get(spec, "unpacked")) != 0) {
        printf("  case.json: malformed batch\n");
        return 1;
    }
    tr_train_options options = options_of(spec, &packed, &unpacked);

    lora_adapter adapter;
    memset(&adapter, 0, sizeof(adapter));
    snprintf(path, sizeof(path), "%s/adapter", c->case_dir);
    if (options.mode != TR_MODE_FULL && lora_adapter_load(&adapter, path, &model.config, &err)) {
        printf("  %s\n", err.msg);
        return 1;
    }
    tr_trainer *trainer = NULL;
    if (tr_trainer_new(&trainer, &model, options.mode == TR_MODE_FULL ? NULL : &adapter,
                       &options, &err) != FL_OK) {
        printf("  %s\n", err.msg);
        return 1;
    }

    // step: logits
    if (tr_trainer_forward(trainer, &packed, &err) != FL_OK)
        printf("  %s\n", err.msg);
    check_logits(c, trainer, model.config.vocab_size);

    // step: loss and gradients, and the unpacked batch's loss
    tr_step_stats stats;
    if (tr_trainer_gradients(trainer, &packed, 1, &stats, &err) != FL_OK)
        printf("  %s\n", err.msg);
    double unpacked_sum = 0.0;
    long unpacked_tokens = 0;
    if (tr_trainer_evaluate(trainer, &unpacked, &unpacked_sum, &unpacked_tokens, &err) != FL_OK)
        printf("  %s\n", err.msg);
    check_loss(c, stats.loss, unpacked_sum / (double)unpacked_tokens);
    int full = options.mode == TR_MODE_FULL, train_a = options.mode == TR_MODE_LORA;
    /* The trainer's gradient buffers, overwritten below with the reference's gradients. */
    tr_params *param_grads = full ? (tr_params *)tr_trainer_param_grads(trainer) : NULL;
    lora_adapter *lora_grads = (lora_adapter *)tr_trainer_lora_grads(trainer);
    c->tolerance = GRAD_TOLERANCE;
    c->worst = &c->worst_grad;
    each_trained(c, "grad", &model, param_grads, lora_grads, train_a, compare);
    printf("  gradients: max relative difference %.3g (tolerance %.0e)\n", c->worst_grad,
           GRAD_TOLERANCE);

    // step: one AdamW step from the reference's gradients
    each_trained(c, "grad", &model, param_grads, lora_grads, train_a, adopt);
    tr_trainer_apply(trainer, &stats);
    c->tolerance = PARAM_TOLERANCE;
    c->worst = &c->worst_param;
    each_trained(c, "after", &model, full ? &model.params : NULL, &adapter, train_a, compare);
    printf("  parameters after AdamW: max relative difference %.3g (tolerance %.0e)\n",
           c->worst_param, PARAM_TOLERANCE);

    tr_trainer_destroy(&trainer);
    lora_adapter_release(&adapter);
    tr_model_release(&model);
    batch_free(&packed);
    batch_free(&unpacked);
    json_decref(spec);
    return c->failures > 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: parity_check CASE_DIR\n");
        return 2;
    }
    check c = {.case_dir = argv[1]};
    char path[4096];
    snprintf(path, sizeof(path), "%s/expected.safetensors", argv[1]);
    fl_error err = {0};
    if (st_file_open(&c.expected, path, &err) != FL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    tr_set_threads(2);
    printf("%s\n", argv[1]);
    int rc = run(&c);
    st_file_destroy(&c.expected);
    printf("  %s\n", rc == 0 ? "ok" : "FAILED");
    return rc;
}
