/*
 * Packing equivalence end to end: records read by the JSONL reader, packed
 * several to a row, give the model the same loss on every token as the same
 * records one to a row.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rec_dataset.h"
#include "tok_tokenizer.h"
#include "tr_model.h"
#include "tr_train.h"

#define TOKENIZER FL_SOURCE_DIR "/tests/fuzz/data/tokenizer.json"

static const char *const s_records[] = {
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Fever for 2 days?\"},"
    "{\"role\":\"assistant\",\"content\":\"Most likely a viral infection.\"}]}",
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Chest pain on exertion.\"},"
    "{\"role\":\"assistant\",\"content\":\"Stable angina; arrange an ECG.\"}]}",
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Cough and wheeze at night.\"},"
    "{\"role\":\"assistant\",\"content\":\"Asthma is likely.\"}]}",
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Burning on urination.\"},"
    "{\"role\":\"assistant\",\"content\":\"A urinary tract infection.\"}]}",
};

/* Sums the loss over every batch of one epoch of the training split. */
static void epoch_loss(tr_trainer *trainer, rec_dataset *data, int rows_per_batch, int seq_len,
                       double *loss_sum, long *tokens)
{
    tr_batch batch;
    rec_batch_init(&batch, rows_per_batch, seq_len);
    *loss_sum = 0;
    *tokens = 0;
    for (;;) {
        int rows = 0;
        bool epoch_end = false;
        fl_error err = {0};
        assert_int_equal(rec_dataset_next_batch(data, REC_TRAIN, &batch, &rows, &epoch_end), FL_OK);
        if (rows > 0 && tr_trainer_evaluate(trainer, &batch, loss_sum, tokens, &err) != FL_OK)
            fail_msg("evaluate: %s", err.msg);
        if (epoch_end)
            break;
    }
    rec_batch_release(&batch);
}

static void test_packed_equals_unpacked(void **state)
{
    (void)state;
    char path[] = "/tmp/fl_test_packing.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *file = fdopen(fd, "w");
    for (size_t i = 0; i < sizeof(s_records) / sizeof(s_records[0]); i++)
        fprintf(file, "%s\n", s_records[i]);
    fclose(file);

    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    if (tok_load(TOKENIZER, &tok, &err) != FL_OK)
        fail_msg("%s", err.msg);
    tr_config config = {.arch = TR_ARCH_QWEN2, .vocab_size = tok_vocab_size(tok),
                        .hidden_size = 32, .intermediate_size = 64, .num_layers = 2,
                        .num_heads = 4, .num_kv_heads = 2, .head_dim = 8,
                        .max_position_embeddings = 512, .rms_norm_eps = 1e-6f,
                        .rope_theta = 10000.0f, .qkv_bias = true};
    tr_model model;
    tr_model_init(&model, &config);
    tr_model_randomize(&model, 7, 1);
    tr_train_options options = tr_train_options_default();
    options.mode = TR_MODE_FULL;
    options.max_batch = 4;
    options.max_seq = 256;
    tr_trainer *trainer = NULL;
    assert_int_equal(tr_trainer_new(&trainer, &model, NULL, &options, &err), FL_OK);

    double sums[2];
    long tokens[2];
    for (int packed = 0; packed < 2; packed++) {
        rec_options rec;
        rec_options_init(&rec);
        rec.chat = CHAT_CHATML;
        rec.seq_len = 256;
        rec.pack = packed;
        rec.shuffle = false;
        rec_dataset *data = NULL;
        if (rec_dataset_load(path, tok, &rec, &data, &err) != FL_OK)
            fail_msg("%s", err.msg);
        epoch_loss(trainer, data, packed ? 1 : 4, 256, &sums[packed], &tokens[packed]);
        rec_dataset_destroy(&data);
    }
    printf("unpacked: %.9f over %ld tokens; packed into one row: %.9f over %ld tokens\n",
           sums[0], tokens[0], sums[1], tokens[1]);
    assert_int_equal(tokens[0], tokens[1]);
    assert_true(tokens[0] > 0);
    assert_true(fabs(sums[0] - sums[1]) <= 1e-5 * fabs(sums[0]));

    tr_trainer_destroy(&trainer);
    tr_model_release(&model);
    tok_destroy(&tok);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_equals_unpacked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
