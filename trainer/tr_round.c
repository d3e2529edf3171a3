#include "tr_round.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_format.h"
#include "fl_file.h"
#include "fl_mem.h"
#include "fl_time.h"
#include "rec_dataset.h"
#include "tok_tokenizer.h"
#include "tr_model.h"
#include "tr_train.h"

void tr_round_options_init(tr_round_options *options)
{
    memset(options, 0, sizeof(*options));
    options->val_fraction = 0.1;
    options->lora.rank = 16;
    options->lora.alpha = 32.0f;
    options->lora.targets = (1u << LORA_Q) | (1u << LORA_V);
    options->lora_seed = 1;
    options->steps = 20;
    options->batch_size = 4;
    options->seq_len = 256;
    options->lr = 2e-4f;
    options->max_val_batches = 8;
}

/* Everything one run holds, released in one place. */
typedef struct local_state {
    tr_model model;
    bool model_loaded;
    tok_tokenizer *tok;
    rec_dataset *data;
    lora_adapter adapter, start;
    bool adapter_ready;
    tr_trainer *trainer;
    tr_batch batch;
    bool batch_ready;
} local_state;

static void release_state(local_state *s)
{
    tr_trainer_destroy(&s->trainer);
    if (s->batch_ready)
        rec_batch_release(&s->batch);
    if (s->adapter_ready) {
        lora_adapter_release(&s->adapter);
        lora_adapter_release(&s->start);
    }
    rec_dataset_destroy(&s->data);
    tok_destroy(&s->tok);
    if (s->model_loaded)
        tr_model_release(&s->model);
}

static int load_data(const tr_round_options *o, local_state *s, fl_error *err)
{
    char tokenizer_path[4096], config_path[4096];
    if (fl_path_format(tokenizer_path, sizeof(tokenizer_path), "%s/tokenizer.json",
                       o->model_dir) != FL_OK ||
        chat_config_path(tokenizer_path, config_path, sizeof(config_path)) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", o->model_dir);

    rec_options rec;
    rec_options_init(&rec);
    rec.seq_len = o->seq_len;
    rec.pack = true;
    rec.shuffle = true;
    rec.seed = o->seed;
    rec.val_path = o->validation_path;
    rec.val_fraction = o->validation_path ? 0.0 : o->val_fraction;

    int rc = tok_load(tokenizer_path, &s->tok, err);
    if (rc == FL_OK)
        rc = tr_model_check_tokenizer(&s->model.config, tokenizer_path, err);
    if (rc == FL_OK)
        rc = chat_detect(s->tok, config_path, &rec.chat, err);
    if (rc == FL_OK)
        rc = rec_dataset_load(o->train_path, s->tok, &rec, &s->data, err);
    if (rc != FL_OK)
        return rc;
    if (rec_dataset_count(s->data, REC_VALIDATION) == 0)
        return fl_error_set(err, FL_EINVAL,
                            "%s: no validation records; give a validation file or more "
                            "training records",
                            o->train_path);
    if (rec_dataset_count(s->data, REC_TRAIN) == 0 && !o->eval_only)
        return fl_error_set(err, FL_EINVAL, "%s: no training records after the validation split",
                            o->train_path);
    return FL_OK;
}

static int make_full_trainer(const tr_round_options *o, local_state *s, fl_error *err)
{
    tr_train_options train = tr_train_options_default();
    train.mode = TR_MODE_FULL;
    train.optim.lr = o->lr;
    train.optim.warmup_steps = 0;
    train.optim.total_steps = 0;
    train.max_batch = o->batch_size;
    train.max_seq = o->seq_len;
    train.seed = o->seed;
    int rc = tr_trainer_new(&s->trainer, &s->model, NULL, &train, err);
    if (rc == FL_OK) {
        rec_batch_init(&s->batch, o->batch_size, o->seq_len);
        s->batch_ready = true;
    }
    return rc;
}

static int start_trainer(const tr_round_options *o, local_state *s, fl_error *err);

static int make_trainer(const tr_round_options *o, local_state *s, fl_error *err)
{
    if (o->full)
        return make_full_trainer(o, s, err);
    int rc = lora_options_check(&o->lora, err);
    if (rc != FL_OK)
        return rc;
    if (o->adapter_dir != NULL) {
        rc = lora_adapter_load(&s->adapter, o->adapter_dir, &s->model.config, err);
        if (rc != FL_OK)
            return rc;
        lora_adapter_init(&s->start, &s->model.config, &s->adapter.options);
        s->adapter_ready = true;
        lora_adapter_copy(&s->start, &s->adapter);
        return start_trainer(o, s, err);
    }
    lora_adapter_init(&s->adapter, &s->model.config, &o->lora);
    lora_adapter_init(&s->start, &s->model.config, &o->lora);
    s->adapter_ready = true;
    lora_adapter_init_weights(&s->adapter, o->lora_seed);
    if (o->adapter_in != NULL && o->adapter_in_count != s->adapter.num_params)
        return fl_error_set(err, FL_EFORMAT,
                            "the starting adapter has %zu values, but rank %d on these targets "
                            "of this model needs %zu",
                            o->adapter_in_count, o->lora.rank, s->adapter.num_params);
    if (o->adapter_in != NULL)
        memcpy(s->adapter.memory, o->adapter_in, s->adapter.num_params * sizeof(float));
    lora_adapter_copy(&s->start, &s->adapter);
    return start_trainer(o, s, err);
}

static int start_trainer(const tr_round_options *o, local_state *s, fl_error *err)
{
    tr_train_options train = tr_train_options_default();
    train.mode = o->frozen_a ? TR_MODE_FROZEN_A : TR_MODE_LORA;
    train.optim.lr = o->lr;
    train.optim.warmup_steps = 0;
    train.optim.total_steps = 0;
    train.max_batch = o->batch_size;
    train.max_seq = o->seq_len;
    train.seed = o->seed;
    int rc = tr_trainer_new(&s->trainer, &s->model, &s->adapter, &train, err);
    if (rc == FL_OK) {
        rec_batch_init(&s->batch, o->batch_size, o->seq_len);
        s->batch_ready = true;
    }
    return rc;
}

static int evaluate(const tr_round_options *o, local_state *s, double *mean_loss,
                    tr_round_result *result, fl_error *err)
{
    double started = fl_time_monotonic();
    double loss_sum = 0.0;
    long tokens = 0;
    rec_dataset_rewind(s->data, REC_VALIDATION);
    for (int b = 0; o->max_val_batches == 0 || b < o->max_val_batches; b++) {
        int rows = 0;
        bool epoch_end = false;
        int rc = rec_dataset_next_batch(s->data, REC_VALIDATION, &s->batch, &rows, &epoch_end);
        if (rc == FL_OK)
            rc = tr_trainer_evaluate(s->trainer, &s->batch, &loss_sum, &tokens, err);
        if (rc != FL_OK)
            return rc;
        if (epoch_end)
            break;
    }
    *mean_loss = tokens > 0 ? loss_sum / (double)tokens : 0.0;
    result->val_tokens = tokens;
    result->eval_s += fl_time_monotonic() - started;
    return FL_OK;
}

static bool has_target(const tr_batch *batch)
{
    for (int i = 0; i < batch->B * batch->T; i++) {
        if (batch->targets[i] != TR_IGNORE_INDEX)
            return true;
    }
    return false;
}

/*
 * Fills the next training batch that has a target token. A batch without one
 * (every reply cut away by truncation) is passed over; when a whole epoch has
 * none, training cannot proceed and the error says what to change.
 */
static int next_train_batch(const tr_round_options *o, local_state *s, fl_error *err)
{
    size_t limit = rec_dataset_count(s->data, REC_TRAIN) + 1;
    for (size_t tries = 0; tries < limit; tries++) {
        int rows = 0;
        bool epoch_end = false;
        int rc = rec_dataset_next_batch(s->data, REC_TRAIN, &s->batch, &rows, &epoch_end);
        if (rc != FL_OK)
            return rc;
        if (has_target(&s->batch))
            return FL_OK;
    }
    return fl_error_set(err, FL_EINVAL,
                        "%s: no training record keeps any reply token within seq_len %d; the "
                        "prompts are longer than that, so raise seq_len",
                        o->train_path, o->seq_len);
}

static int train(const tr_round_options *o, local_state *s, tr_round_progress progress,
                 void *context, tr_round_result *result, fl_error *err)
{
    double started = fl_time_monotonic();
    double loss_total = 0.0;
    int steps = o->steps;
    if (steps <= 0) {
        double rows = (double)rec_dataset_count(s->data, REC_TRAIN) * o->epochs;
        steps = (int)((rows + o->batch_size - 1) / o->batch_size);
        steps = steps > 0 ? steps : 1;
    }
    for (int step = 0; step < steps; step++) {
        tr_step_stats stats;
        int rc = next_train_batch(o, s, err);
        if (rc == FL_OK)
            rc = tr_trainer_step(s->trainer, &s->batch, 1, &stats, err);
        if (rc != FL_OK)
            return rc;
        loss_total += stats.loss;
        tr_round_step report = {step + 1, steps, stats.loss, stats.tokens,
                                fl_time_monotonic() - started};
        if (progress != NULL && progress(context, &report) != 0)
            return fl_error_set(err, FL_ECANCELED, "training stopped on request after step %d",
                                step + 1);
    }
    result->steps = steps;
    result->train_loss = loss_total / steps;
    result->train_s = fl_time_monotonic() - started;
    return FL_OK;
}

/* Copies tokenizer.json and tokenizer_config.json (when present) from the model folder. */
static int copy_tokenizer(const tr_round_options *o, fl_error *err)
{
    static const char *const names[] = {"tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < 2; i++) {
        char from[4096], to[4096];
        char *data = NULL;
        size_t size = 0;
        if (fl_path_format(from, sizeof(from), "%s/%s", o->model_dir, names[i]) != FL_OK ||
            fl_path_format(to, sizeof(to), "%s/%s", o->save_dir, names[i]) != FL_OK)
            return fl_error_set(err, FL_ERANGE, "%s: path too long", o->save_dir);
        int rc = fl_file_read_all(from, (size_t)1 << 30, &data, &size, NULL);
        if (rc == FL_ENOTFOUND && i == 1)
            continue;
        if (rc == FL_OK)
            rc = fl_file_write_atomic(to, data, size, 0644, err);
        else
            rc = fl_error_set(err, rc, "%s: cannot read", from);
        free(data);
        if (rc != FL_OK)
            return rc;
    }
    return FL_OK;
}

static int save_result(const tr_round_options *o, local_state *s, fl_error *err)
{
    if (o->save_dir == NULL)
        return FL_OK;
    if (!o->full)
        return lora_adapter_save(&s->adapter, o->save_dir, o->base_model_name, err);
    int rc = fl_file_mkdirs(o->save_dir, 0755, err);
    if (rc == FL_OK)
        rc = tr_model_save(&s->model, o->save_dir, err);
    if (rc == FL_OK)
        rc = copy_tokenizer(o, err);
    return rc;
}

static void take_delta(const tr_round_options *o, local_state *s, tr_round_result *result)
{
    if (o->full)
        return;
    lora_adapter_subtract(&s->start, &s->adapter, &s->start);
    result->num_params = s->adapter.num_params;
    result->trained_offset = o->frozen_a ? s->adapter.a_count : 0;
    result->trained_count = s->adapter.num_params - result->trained_offset;
    result->delta = fl_xmalloc(result->trained_count * sizeof(float));
    memcpy(result->delta, s->start.memory + result->trained_offset,
           result->trained_count * sizeof(float));
}

int tr_round_run(const tr_round_options *options, tr_round_progress progress, void *context,
                 tr_round_result *result, fl_error *err)
{
    memset(result, 0, sizeof(*result));
    if ((options->steps < 1 && !(options->epochs > 0) && !options->eval_only) || options->batch_size < 1 ||
        options->seq_len < 2)
        return fl_error_set(err, FL_EINVAL, "steps (or epochs), batch size and sequence length "
                                            "must be positive (got %d, %g, %d, %d)",
                            options->steps, options->epochs, options->batch_size,
                            options->seq_len);
    tr_set_threads(options->threads > 0 ? options->threads : (int)sysconf(_SC_NPROCESSORS_ONLN));

    local_state s;
    memset(&s, 0, sizeof(s));
    int rc = tr_model_load(&s.model, options->model_dir, err);
    s.model_loaded = rc == FL_OK;
    if (rc == FL_OK)
        rc = load_data(options, &s, err);
    if (rc == FL_OK)
        rc = make_trainer(options, &s, err);
    if (rc == FL_OK)
        rc = evaluate(options, &s, &result->val_loss_before, result, err);
    if (rc == FL_OK && !options->eval_only)
        rc = train(options, &s, progress, context, result, err);
    if (rc == FL_OK && options->eval_after && !options->eval_only)
        rc = evaluate(options, &s, &result->val_loss_after, result, err);
    if (rc == FL_OK)
        rc = save_result(options, &s, err);
    if (rc == FL_OK) {
        result->examples = rec_dataset_count(s.data, REC_TRAIN);
        take_delta(options, &s, result);
    }
    release_state(&s);
    return rc;
}
