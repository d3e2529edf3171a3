/*
 * Tests of the training step beyond parity: gradient accumulation, the
 * learning-rate schedule, dropout gradients against finite differences,
 * frozen-A leaving A unchanged, and batch validation.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lora.h"
#include "tr_local.h"
#include "tr_model.h"
#include "tr_pool.h"
#include "tr_train.h"

enum { T = 9 };

typedef struct fixture {
    tr_model model;
    lora_adapter adapter;
    int32_t tokens[2 * T], targets[2 * T], positions[2 * T], segments[2 * T];
} fixture;

static void fixture_init(fixture *f, float dropout)
{
    tr_config c;
    memset(&c, 0, sizeof(c));
    c.arch = TR_ARCH_LLAMA;
    c.vocab_size = 16;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = 8;
    c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 10000.0f;
    tr_model_init(&f->model, &c);
    tr_model_randomize(&f->model, 4, 1);
    for (size_t i = 0; i < f->model.num_params; i++)
        f->model.memory[i] *= 5.0f; /* wider logits than N(0, 0.02) */

    lora_options lora = {.rank = 3, .alpha = 6.0f, .dropout = dropout,
                         .targets = LORA_ALL_TARGETS};
    lora_adapter_init(&f->adapter, &c, &lora);
    lora_adapter_init_weights(&f->adapter, 5);
    for (size_t i = f->adapter.a_count; i < f->adapter.num_params; i++)
        f->adapter.memory[i] = 0.2f * (float)sin(0.7 * (double)i);

    for (int i = 0; i < 2 * T; i++) {
        f->tokens[i] = (i * 5 + 1) % 16;
        f->positions[i] = i % T;
        f->segments[i] = 0;
    }
    for (int i = 0; i < 2 * T; i++)
        f->targets[i] = (i % T) + 1 < T ? f->tokens[i + 1] : -100;
    f->targets[3] = -100; /* a masked prompt token in row 0 only */
}

static void fixture_release(fixture *f)
{
    lora_adapter_release(&f->adapter);
    tr_model_release(&f->model);
}

static tr_trainer *new_trainer(fixture *f, tr_mode mode, int max_batch)
{
    tr_train_options options = tr_train_options_default();
    options.mode = mode;
    options.max_batch = max_batch;
    options.max_seq = T;
    options.optim.lr = 1e-2f;
    options.seed = 77;
    tr_trainer *trainer = NULL;
    fl_error err = {0};
    assert_int_equal(tr_trainer_new(&trainer, &f->model, &f->adapter, &options, &err), FL_OK);
    return trainer;
}

static double max_difference(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

static void test_accumulation_equals_one_batch(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 0.0f);
    tr_batch both = {2, T, f.tokens, f.targets, f.positions, f.segments};
    tr_batch micro[2] = {
        {1, T, f.tokens, f.targets, f.positions, f.segments},
        {1, T, f.tokens + T, f.targets + T, f.positions + T, f.segments + T},
    };
    tr_step_stats one, two;
    fl_error err = {0};

    tr_trainer *trainer = new_trainer(&f, TR_MODE_LORA, 2);
    assert_int_equal(tr_trainer_gradients(trainer, &both, 1, &one, &err), FL_OK);
    size_t n = f.adapter.num_params;
    float *grads = malloc(n * sizeof(float));
    memcpy(grads, tr_trainer_lora_grads(trainer)->memory, n * sizeof(float));
    assert_int_equal(tr_trainer_gradients(trainer, micro, 2, &two, &err), FL_OK);
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(grads[i]));
    double diff = max_difference(grads, tr_trainer_lora_grads(trainer)->memory, n) / scale;
    printf("accumulation: loss %.7f vs %.7f, tokens %ld vs %ld, max relative gradient "
           "difference %.3g\n",
           one.loss, two.loss, one.tokens, two.tokens, diff);
    assert_int_equal(one.tokens, 2 * (T - 1) - 1);
    assert_int_equal(two.tokens, one.tokens);
    assert_true(fabs(one.loss - two.loss) < 1e-6 * one.loss);
    assert_true(diff < 1e-5);

    free(grads);
    tr_trainer_destroy(&trainer);
    fixture_release(&f);
}

static void test_schedule_warmup_then_cosine(void **state)
{
    (void)state;
    tr_optim_options o = tr_train_options_default().optim;
    o.lr = 1.0f;
    o.warmup_steps = 4;
    o.total_steps = 14;
    assert_true(tr_schedule_lr(&o, 0) == 0.0f);
    assert_true(fabsf(tr_schedule_lr(&o, 2) - 0.5f) < 1e-6f);
    assert_true(fabsf(tr_schedule_lr(&o, 4) - 1.0f) < 1e-6f);
    assert_true(fabsf(tr_schedule_lr(&o, 9) - 0.5f) < 1e-6f);
    assert_true(fabsf(tr_schedule_lr(&o, 14)) < 1e-6f);
    assert_true(fabsf(tr_schedule_lr(&o, 20)) < 1e-6f);
    o.total_steps = 0;
    assert_true(fabsf(tr_schedule_lr(&o, 100) - 1.0f) < 1e-6f);
}

/* Compares the analytic gradient of some A and B entries with central differences. */
static void test_dropout_gradient_finite_difference(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 0.3f);
    tr_batch batch = {2, T, f.tokens, f.targets, f.positions, f.segments};
    tr_trainer *trainer = new_trainer(&f, TR_MODE_LORA, 2);
    tr_step_stats stats;
    fl_error err = {0};
    assert_int_equal(tr_trainer_gradients(trainer, &batch, 1, &stats, &err), FL_OK);
    size_t n = f.adapter.num_params;
    float *grads = malloc(n * sizeof(float));
    memcpy(grads, tr_trainer_lora_grads(trainer)->memory, n * sizeof(float));

    double evaluated_sum = 0.0;
    long tokens = 0;
    assert_int_equal(tr_trainer_evaluate(trainer, &batch, &evaluated_sum, &tokens, &err), FL_OK);
    printf("dropout: training loss %.6f, evaluation loss %.6f\n", stats.loss,
           evaluated_sum / (double)tokens);
    assert_true(fabs(stats.loss - evaluated_sum / (double)tokens) > 1e-4);

    double worst = 0.0;
    size_t probes[6] = {3, 40, f.adapter.a_count / 2, f.adapter.a_count + 5,
                        f.adapter.a_count + 123, n - 2};
    for (int i = 0; i < 6; i++) {
        float *p = &f.adapter.memory[probes[i]];
        float saved = *p;
        float h = 2e-3f;
        tr_step_stats plus, minus;
        *p = saved + h;
        assert_int_equal(tr_trainer_gradients(trainer, &batch, 1, &plus, &err), FL_OK);
        *p = saved - h;
        assert_int_equal(tr_trainer_gradients(trainer, &batch, 1, &minus, &err), FL_OK);
        *p = saved;
        double numeric = (plus.loss - minus.loss) / (2.0 * h);
        double error = fabs(numeric - grads[probes[i]]) / fmax(1e-3, fabs(numeric));
        printf("  parameter %zu: analytic %.6f numeric %.6f\n", probes[i],
               (double)grads[probes[i]], numeric);
        worst = fmax(worst, error);
    }
    printf("dropout gradients: max relative error against finite differences %.3g\n", worst);
    assert_true(worst < 2e-2);

    free(grads);
    tr_trainer_destroy(&trainer);
    fixture_release(&f);
}

static void test_recompute_gives_same_gradients(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 0.3f);
    tr_batch batch = {2, T, f.tokens, f.targets, f.positions, f.segments};
    tr_step_stats kept, recomputed;
    fl_error err = {0};

    tr_trainer *trainer = new_trainer(&f, TR_MODE_LORA, 2);
    assert_int_equal(tr_trainer_gradients(trainer, &batch, 1, &kept, &err), FL_OK);
    size_t n = f.adapter.num_params;
    float *grads = malloc(n * sizeof(float));
    memcpy(grads, tr_trainer_lora_grads(trainer)->memory, n * sizeof(float));
    size_t kept_bytes = tr_trainer_buffer_bytes(trainer);
    tr_trainer_destroy(&trainer);

    tr_train_options options = tr_train_options_default();
    options.max_batch = 2;
    options.max_seq = T;
    options.seed = 77;
    options.recompute = 1;
    assert_int_equal(tr_trainer_new(&trainer, &f.model, &f.adapter, &options, &err), FL_OK);
    assert_int_equal(tr_trainer_gradients(trainer, &batch, 1, &recomputed, &err), FL_OK);
    double diff = max_difference(grads, tr_trainer_lora_grads(trainer)->memory, n);
    printf("recompute: loss %.7f vs %.7f, max gradient difference %.3g, buffers %zu -> %zu "
           "bytes\n", kept.loss, recomputed.loss, diff, kept_bytes,
           tr_trainer_buffer_bytes(trainer));
    assert_true(kept.loss == recomputed.loss);
    assert_true(diff == 0.0);
    assert_true(tr_trainer_buffer_bytes(trainer) < kept_bytes);

    free(grads);
    tr_trainer_destroy(&trainer);
    fixture_release(&f);
}

typedef struct source_state {
    fixture *f;
    int served;
    int limit;
} source_state;

/* Serves the fixture's two rows in turn, limit batches in all. */
static int serve_rows(void *context, tr_batch *batch, fl_error *err)
{
    source_state *s = context;
    (void)err;
    if (s->served == s->limit)
        return 1;
    int row = s->served++ % 2;
    *batch = (tr_batch){1, T, s->f->tokens + row * T, s->f->targets + row * T,
                        s->f->positions + row * T, s->f->segments + row * T};
    return 0;
}

static void test_local_round_returns_delta(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 0.0f);
    lora_adapter start, delta;
    lora_adapter_init(&start, &f.model.config, &f.adapter.options);
    lora_adapter_init(&delta, &f.model.config, &f.adapter.options);
    lora_adapter_copy(&start, &f.adapter);

    tr_local_options options = {tr_train_options_default(), 4, 2};
    options.train.optim.lr = 1e-2f;
    options.train.max_seq = T;
    source_state source = {&f, 0, 7}; /* runs out during the fourth step */
    tr_local_result result;
    fl_error err = {0};
    assert_int_equal(tr_local_train(&f.model, &f.adapter, &options, serve_rows, &source, &delta,
                                    &result, &err), FL_OK);
    printf("local round: %d steps, %ld tokens, loss %.4f -> %.4f (mean %.4f)\n", result.steps,
           result.tokens, result.first_loss, result.last_loss, result.mean_loss);
    assert_int_equal(result.steps, 4);
    assert_int_equal(result.tokens, 3 * 15 + 7);
    assert_true(result.last_loss < result.first_loss);

    double worst = 0.0;
    for (size_t i = 0; i < delta.num_params; i++)
        worst = fmax(worst, fabs(start.memory[i] + delta.memory[i] - f.adapter.memory[i]));
    printf("local round: start + delta reproduces the adapter within %.3g\n", worst);
    assert_true(worst < 1e-6);

    source_state empty = {&f, 0, 0};
    assert_int_equal(tr_local_train(&f.model, &f.adapter, &options, serve_rows, &empty, &delta,
                                    &result, &err), FL_ENOTFOUND);

    lora_adapter_release(&start);
    lora_adapter_release(&delta);
    fixture_release(&f);
}

static void test_frozen_a_keeps_a(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 0.0f);
    tr_batch batch = {2, T, f.tokens, f.targets, f.positions, f.segments};
    float *before = malloc(f.adapter.num_params * sizeof(float));
    memcpy(before, f.adapter.memory, f.adapter.num_params * sizeof(float));

    tr_trainer *trainer = new_trainer(&f, TR_MODE_FROZEN_A, 2);
    tr_step_stats stats;
    fl_error err = {0};
    for (int step = 0; step < 3; step++)
        assert_int_equal(tr_trainer_step(trainer, &batch, 1, &stats, &err), FL_OK);
    double a_change = max_difference(before, f.adapter.memory, f.adapter.a_count);
    double b_change = max_difference(before + f.adapter.a_count,
                                     f.adapter.memory + f.adapter.a_count,
                                     f.adapter.num_params - f.adapter.a_count);
    printf("frozen-A: A changed by %.3g, B by %.3g\n", a_change, b_change);
    assert_true(a_change == 0.0);
    assert_true(b_change > 1e-3);

    free(before);
    tr_trainer_destroy(&trainer);
    fixture_release(&f);
}

static void test_bad_batches_rejected(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 0.0f);
    tr_trainer *trainer = new_trainer(&f, TR_MODE_LORA, 1);
    tr_step_stats stats;
    fl_error err = {0};

    tr_batch too_big = {2, T, f.tokens, f.targets, f.positions, f.segments};
    assert_int_equal(tr_trainer_step(trainer, &too_big, 1, &stats, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "exceeds"));

    tr_batch batch = {1, T, f.tokens, f.targets, f.positions, f.segments};
    f.tokens[2] = 99;
    assert_int_equal(tr_trainer_step(trainer, &batch, 1, &stats, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "token id 99"));
    f.tokens[2] = 1;

    int32_t ignored[T];
    for (int i = 0; i < T; i++)
        ignored[i] = -100;
    tr_batch empty = {1, T, f.tokens, ignored, f.positions, f.segments};
    assert_int_equal(tr_trainer_step(trainer, &empty, 1, &stats, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "no target token"));

    tr_trainer_destroy(&trainer);
    fixture_release(&f);
}

typedef struct count_args {
    int *hits;
} count_args;

static void count_items(void *context, int part, size_t begin, size_t end)
{
    const count_args *a = context;
    (void)part;
    for (size_t i = begin; i < end; i++)
        a->hits[i]++;
}

/* Every item is visited exactly once, also after the pool grows and shrinks between loops. */
static void test_pool_visits_each_item_once(void **state)
{
    (void)state;
    enum { ITEMS = 1000 };
    int hits[ITEMS];
    const int threads[] = {1, 2, 4, 3, 1, 4};
    for (size_t round = 0; round < sizeof(threads) / sizeof(threads[0]); round++) {
        tr_pool_set_threads(threads[round]);
        for (int repeat = 0; repeat < 20; repeat++) {
            memset(hits, 0, sizeof(hits));
            count_args args = {hits};
            tr_parallel_for(ITEMS, count_items, &args);
            for (int i = 0; i < ITEMS; i++)
                assert_int_equal(hits[i], 1);
        }
    }
    tr_set_threads(2);
}

int main(void)
{
    tr_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accumulation_equals_one_batch),
        cmocka_unit_test(test_schedule_warmup_then_cosine),
        cmocka_unit_test(test_dropout_gradient_finite_difference),
        cmocka_unit_test(test_recompute_gives_same_gradients),
        cmocka_unit_test(test_local_round_returns_delta),
        cmocka_unit_test(test_frozen_a_keeps_a),
        cmocka_unit_test(test_bad_batches_rejected),
        cmocka_unit_test(test_pool_visits_each_item_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
