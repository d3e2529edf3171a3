/*
 * Record reader: exact ids and train masks for each record format and each
 * chat family, batch layout (targets, positions, segments, padding, packing,
 * epochs), seeded shuffling, validation splits, truncation counts, and a
 * table of bad inputs whose errors must name the file and line.
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

#include "rec_dataset.h"
#include "tok_test_util.h"

static char s_dir[256];
static tok_tokenizer *s_qwen, *s_llama3, *s_llama2;

static tok_tokenizer *load_model(const char *model)
{
    char path[1024];
    tok_test_model_path(model, path, sizeof(path));
    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    if (tok_load(path, &tok, &err) != FL_OK)
        fprintf(stderr, "%s\n", err.msg);
    return tok;
}

static int setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_rec.XXXXXX");
    if (mkdtemp(s_dir) == NULL)
        return -1;
    s_qwen = load_model("qwen3");
    s_llama3 = load_model("llama3");
    s_llama2 = load_model("llama2");
    return s_qwen && s_llama3 && s_llama2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tok_destroy(&s_qwen);
    tok_destroy(&s_llama3);
    tok_destroy(&s_llama2);
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", s_dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void options_for(rec_options *options, chat_family chat, int seq_len)
{
    rec_options_init(options);
    options->chat = chat;
    options->seq_len = seq_len;
    options->shuffle = false;
}

/* Expected record: ids built piece by piece, each piece prompt (0) or trained (1). */
typedef struct expected {
    tok_ids ids, train;
} expected;

static void expect_init(expected *e)
{
    tok_ids_init(&e->ids);
    tok_ids_init(&e->train);
}

static void expect_release(expected *e)
{
    tok_ids_release(&e->ids);
    tok_ids_release(&e->train);
}

/* Appends the encoding of text (special tokens parsed) with one train flag. */
static void expect_piece(expected *e, tok_tokenizer *tok, const char *text, int train,
                         unsigned flags)
{
    size_t first = e->ids.length;
    fl_error err = {0};
    assert_int_equal(tok_encode(tok, text, strlen(text), flags, &e->ids, &err), FL_OK);
    for (size_t i = first; i < e->ids.length; i++)
        tok_ids_push(&e->train, train);
}

/* Loads a one-record file and checks its ids, mask and batch targets against e. */
static void check_single(tok_tokenizer *tok, chat_family chat, const char *name,
                         const char *line, rec_format expected_format, expected *e)
{
    char path[512];
    write_file(name, line, path, sizeof(path));
    rec_options options;
    options_for(&options, chat, 512);
    rec_dataset *ds = NULL;
    fl_error err = {0};
    int rc = rec_dataset_load(path, tok, &options, &ds, &err);
    if (rc != FL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, FL_OK);
    assert_int_equal(rec_dataset_stats(ds)->format, expected_format);
    assert_int_equal(rec_dataset_count(ds, REC_TRAIN), 1);

    const int32_t *ids;
    const uint8_t *train;
    size_t length = rec_dataset_record(ds, REC_TRAIN, 0, &ids, &train);
    assert_int_equal(length, e->ids.length);
    for (size_t i = 0; i < length; i++) {
        assert_int_equal(ids[i], e->ids.data[i]);
        assert_int_equal(train[i], e->train.data[i]);
    }

    tr_batch batch;
    rec_batch_init(&batch, 1, 512);
    int rows = 0;
    bool epoch_end = false;
    assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end), FL_OK);
    assert_int_equal(rows, 1);
    assert_true(epoch_end);
    for (size_t j = 0; j < 512; j++) {
        int32_t target = j + 1 < length && e->train.data[j + 1] ? e->ids.data[j + 1]
                                                                 : TR_IGNORE_INDEX;
        assert_int_equal(batch.targets[j], target);
        assert_int_equal(batch.positions[j], j < length ? (int32_t)j : 0);
        assert_int_equal(batch.segments[j], j < length ? 0 : -1);
    }
    rec_batch_release(&batch);
    rec_dataset_destroy(&ds);
    assert_null(ds);
}

static void test_text_trains_everything(void **state)
{
    (void)state;
    expected e;
    expect_init(&e);
    expect_piece(&e, s_llama2, "Fever for three days.", 1, TOK_ADD_SPECIAL);
    check_single(s_llama2, CHAT_UNKNOWN, "text.jsonl", "{\"text\": \"Fever for three days.\"}\n",
                 REC_FORMAT_TEXT, &e);
    expect_release(&e);
}

static void test_alpaca_chatml_mask(void **state)
{
    (void)state;
    expected e;
    expect_init(&e);
    expect_piece(&e, s_qwen, "<|im_start|>user\nSummarise.\n\nCough, fever.<|im_end|>\n"
                             "<|im_start|>assistant\n", 0, 0);
    expect_piece(&e, s_qwen, "Likely bronchitis.<|im_end|>", 1, 0);
    expect_piece(&e, s_qwen, "\n", 0, 0);
    check_single(s_qwen, CHAT_CHATML, "alpaca.jsonl",
                 "{\"instruction\": \"Summarise.\", \"input\": \"Cough, fever.\", "
                 "\"output\": \"Likely bronchitis.\"}\n",
                 REC_FORMAT_ALPACA, &e);
    expect_release(&e);
}

static void test_alpaca_without_input(void **state)
{
    (void)state;
    expected e;
    expect_init(&e);
    expect_piece(&e, s_qwen, "<|im_start|>user\nName a vitamin.<|im_end|>\n"
                             "<|im_start|>assistant\n", 0, 0);
    expect_piece(&e, s_qwen, "Vitamin C.<|im_end|>", 1, 0);
    expect_piece(&e, s_qwen, "\n", 0, 0);
    check_single(s_qwen, CHAT_CHATML, "alpaca2.jsonl",
                 "{\"instruction\": \"Name a vitamin.\", \"input\": \"\", "
                 "\"output\": \"Vitamin C.\"}\n",
                 REC_FORMAT_ALPACA, &e);
    expect_release(&e);
}

static void test_prompt_completion_mask(void **state)
{
    (void)state;
    expected e;
    expect_init(&e);
    expect_piece(&e, s_qwen, "<|im_start|>user\nDose of paracetamol?<|im_end|>\n"
                             "<|im_start|>assistant\n", 0, 0);
    expect_piece(&e, s_qwen, "500 mg every 6 hours.<|im_end|>", 1, 0);
    expect_piece(&e, s_qwen, "\n", 0, 0);
    check_single(s_qwen, CHAT_CHATML, "prompt.jsonl",
                 "{\"prompt\": \"Dose of paracetamol?\", \"completion\": "
                 "\"500 mg every 6 hours.\"}\n",
                 REC_FORMAT_PROMPT, &e);
    expect_release(&e);
}

static const char MESSAGES_LINE[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"You are a doctor.\"}, "
    "{\"role\": \"user\", \"content\": \"Headache?\"}, "
    "{\"role\": \"assistant\", \"content\": \"Rest.\"}, "
    "{\"role\": \"user\", \"content\": \"And fever?\"}, "
    "{\"role\": \"assistant\", \"content\": \"See a doctor.\"}]}\n";

static void test_messages_chatml_mask(void **state)
{
    (void)state;
    expected e;
    expect_init(&e);
    expect_piece(&e, s_qwen, "<|im_start|>system\nYou are a doctor.<|im_end|>\n"
                             "<|im_start|>user\nHeadache?<|im_end|>\n<|im_start|>assistant\n",
                 0, 0);
    expect_piece(&e, s_qwen, "Rest.<|im_end|>", 1, 0);
    expect_piece(&e, s_qwen, "\n<|im_start|>user\nAnd fever?<|im_end|>\n<|im_start|>assistant\n",
                 0, 0);
    expect_piece(&e, s_qwen, "See a doctor.<|im_end|>", 1, 0);
    expect_piece(&e, s_qwen, "\n", 0, 0);
    check_single(s_qwen, CHAT_CHATML, "chatml.jsonl", MESSAGES_LINE, REC_FORMAT_MESSAGES, &e);
    expect_release(&e);
}

static void test_messages_llama3_mask(void **state)
{
    (void)state;
    expected e;
    expect_init(&e);
    expect_piece(&e, s_llama3,
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                 "You are a doctor.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                 "Headache?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                 0, 0);
    expect_piece(&e, s_llama3, "Rest.<|eot_id|>", 1, 0);
    expect_piece(&e, s_llama3,
                 "<|start_header_id|>user<|end_header_id|>\n\nAnd fever?<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n",
                 0, 0);
    expect_piece(&e, s_llama3, "See a doctor.<|eot_id|>", 1, 0);
    check_single(s_llama3, CHAT_LLAMA3, "llama3.jsonl", MESSAGES_LINE, REC_FORMAT_MESSAGES, &e);
    expect_release(&e);
}

static void test_messages_llama2_mask(void **state)
{
    (void)state;
    /* SentencePiece prepends U+2581 to each text run between special tokens,
       so the expected ids are assembled per run and the boundary token
       "▁Rest" (space plus reply) is trained */
    expected e;
    expect_init(&e);
    tok_ids_push(&e.ids, 1);
    tok_ids_push(&e.train, 0);
    expect_piece(&e, s_llama2,
                 "[INST] <<SYS>>\nYou are a doctor.\n<</SYS>>\n\nHeadache? [/INST]", 0, 0);
    expect_piece(&e, s_llama2, "Rest. </s>", 1, 0);
    tok_ids_push(&e.ids, 1);
    tok_ids_push(&e.train, 0);
    expect_piece(&e, s_llama2, "[INST] And fever? [/INST]", 0, 0);
    expect_piece(&e, s_llama2, "See a doctor. </s>", 1, 0);
    check_single(s_llama2, CHAT_LLAMA2, "llama2.jsonl", MESSAGES_LINE, REC_FORMAT_MESSAGES, &e);
    expect_release(&e);
}

/* A file of n text records "record 0" ... */
static void write_records(const char *name, int n, char *path, size_t size)
{
    char *text = calloc((size_t)n, 64);
    assert_non_null(text);
    for (int i = 0; i < n; i++)
        sprintf(text + strlen(text), "{\"text\": \"record %d\"}\n", i);
    write_file(name, text, path, size);
    free(text);
}

static void test_packing_layout(void **state)
{
    (void)state;
    char path[512];
    write_records("pack.jsonl", 3, path, sizeof(path));
    rec_options options;
    options_for(&options, CHAT_UNKNOWN, 10);
    options.pack = true;
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_llama2, &options, &ds, &err), FL_OK);

    /* "<s> ▁record ▁ 0" is 4 tokens: two records fit in a row of 10 */
    const int32_t *ids;
    const uint8_t *train;
    assert_int_equal(rec_dataset_record(ds, REC_TRAIN, 0, &ids, &train), 4);

    tr_batch batch;
    rec_batch_init(&batch, 2, 10);
    int rows = 0;
    bool epoch_end = false;
    assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end), FL_OK);
    assert_int_equal(rows, 2);
    assert_true(epoch_end);
    const int32_t positions[20] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0};
    const int32_t segments[20] = {0, 0, 0, 0, 1, 1, 1, 1, -1, -1,
                                  0, 0, 0, 0, -1, -1, -1, -1, -1, -1};
    for (int i = 0; i < 20; i++) {
        assert_int_equal(batch.positions[i], positions[i]);
        assert_int_equal(batch.segments[i], segments[i]);
    }
    /* the last token of each record predicts nothing, not the next record's BOS */
    assert_int_equal(batch.targets[3], TR_IGNORE_INDEX);
    assert_int_equal(batch.targets[4], batch.tokens[5]);
    assert_int_equal(batch.targets[7], TR_IGNORE_INDEX);
    assert_int_equal(batch.targets[8], TR_IGNORE_INDEX);

    /* the next call starts a new epoch */
    assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end), FL_OK);
    assert_int_equal(rows, 2);
    rec_batch_release(&batch);

    rec_batch_init(&batch, 1, 9);
    assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end),
                     FL_EINVAL);
    rec_batch_release(&batch);
    rec_dataset_destroy(&ds);
}

/*
 * Data side of packing equivalence: every record's tokens, targets and
 * positions in a packed row equal its own unpacked row, so a model that
 * honours positions and segments computes the same per-token loss.
 */
static void test_packed_equals_unpacked(void **state)
{
    (void)state;
    char path[512];
    write_file("equivalence.jsonl",
               "{\"prompt\": \"Fever?\", \"completion\": \"Rest and fluids.\"}\n"
               "{\"prompt\": \"Cough for three weeks, night sweats and weight loss?\", "
               "\"completion\": \"Test for tuberculosis.\"}\n"
               "{\"prompt\": \"Rash?\", \"completion\": \"Describe it.\"}\n"
               "{\"prompt\": \"Chest pain on exertion?\", \"completion\": "
               "\"Possible angina; see a cardiologist.\"}\n"
               "{\"prompt\": \"Headache\", \"completion\": \"Migraine is likely.\"}\n",
               path, sizeof(path));
    enum { T = 64, ROWS = 5 };
    tr_batch packed, alone;
    rec_batch_init(&packed, ROWS, T);
    rec_batch_init(&alone, ROWS, T);
    int packed_rows = 0, alone_rows = 0;
    bool epoch_end = false;
    fl_error err = {0};
    for (int pack = 0; pack < 2; pack++) {
        rec_options options;
        options_for(&options, CHAT_CHATML, T);
        options.pack = pack == 1;
        rec_dataset *ds = NULL;
        assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
        assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, pack ? &packed : &alone,
                                                pack ? &packed_rows : &alone_rows, &epoch_end),
                         FL_OK);
        assert_true(epoch_end);
        rec_dataset_destroy(&ds);
    }
    assert_int_equal(alone_rows, 5);
    assert_true(packed_rows < alone_rows);

    /* walk the packed rows segment by segment, in record order */
    int record = 0;
    for (int row = 0; row < packed_rows; row++) {
        int t = 0;
        while (t < T && packed.segments[row * T + t] >= 0) {
            int segment = packed.segments[row * T + t];
            int j = 0;
            for (; t < T && packed.segments[row * T + t] == segment; t++, j++) {
                assert_int_equal(packed.tokens[row * T + t], alone.tokens[record * T + j]);
                assert_int_equal(packed.targets[row * T + t], alone.targets[record * T + j]);
                assert_int_equal(packed.positions[row * T + t], j);
                assert_int_equal(alone.positions[record * T + j], j);
            }
            if (j < T)
                assert_int_equal(alone.segments[record * T + j], -1);
            record++;
        }
    }
    assert_int_equal(record, 5);
    rec_batch_release(&packed);
    rec_batch_release(&alone);
}

static void test_unpacked_one_per_row(void **state)
{
    (void)state;
    char path[512];
    write_records("unpacked.jsonl", 3, path, sizeof(path));
    rec_options options;
    options_for(&options, CHAT_UNKNOWN, 8);
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_llama2, &options, &ds, &err), FL_OK);
    tr_batch batch;
    rec_batch_init(&batch, 2, 8);
    int rows = 0;
    bool epoch_end = true;
    assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end), FL_OK);
    assert_int_equal(rows, 2);
    assert_false(epoch_end);
    assert_int_equal(batch.segments[3], 0);
    assert_int_equal(batch.segments[4], -1);
    assert_int_equal(batch.segments[8], 0);
    assert_int_equal(rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end), FL_OK);
    assert_int_equal(rows, 1);
    assert_true(epoch_end);
    assert_int_equal(batch.segments[8], -1);
    rec_batch_release(&batch);
    rec_dataset_destroy(&ds);
}

/* Returns the first tokens of the records in the train order, as one number per record. */
static void order_of(const char *path, uint64_t seed, double fraction, size_t *out, size_t n)
{
    rec_options options;
    options_for(&options, CHAT_UNKNOWN, 16);
    options.shuffle = true;
    options.seed = seed;
    options.val_fraction = fraction;
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
    assert_int_equal(rec_dataset_count(ds, REC_TRAIN), n);
    for (size_t i = 0; i < n; i++) {
        const int32_t *ids;
        const uint8_t *train;
        size_t length = rec_dataset_record(ds, REC_TRAIN, i, &ids, &train);
        out[i] = (size_t)ids[length - 1];
    }
    rec_dataset_destroy(&ds);
}

static void test_shuffle_is_seeded(void **state)
{
    (void)state;
    char path[512];
    write_records("shuffle.jsonl", 10, path, sizeof(path));
    size_t a[10], b[10], c[10];
    order_of(path, 7, 0, a, 10);
    order_of(path, 7, 0, b, 10);
    order_of(path, 8, 0, c, 10);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
}

static void test_validation_split(void **state)
{
    (void)state;
    char path[512], val[512];
    write_records("split.jsonl", 20, path, sizeof(path));
    rec_options options;
    options_for(&options, CHAT_UNKNOWN, 16);
    options.val_fraction = 0.25;
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
    assert_int_equal(rec_dataset_count(ds, REC_TRAIN), 15);
    assert_int_equal(rec_dataset_count(ds, REC_VALIDATION), 5);
    rec_dataset_destroy(&ds);

    write_records("val.jsonl", 4, val, sizeof(val));
    options.val_fraction = 0;
    options.val_path = val;
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
    assert_int_equal(rec_dataset_count(ds, REC_TRAIN), 20);
    assert_int_equal(rec_dataset_count(ds, REC_VALIDATION), 4);
    rec_dataset_destroy(&ds);

    options.val_fraction = 0.1;
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "not both"));
}

static void test_truncation_counted(void **state)
{
    (void)state;
    char path[512];
    write_file("long.jsonl",
               "{\"text\": \"one two three four five six seven eight nine ten\"}\n"
               "{\"text\": \"short\"}\n",
               path, sizeof(path));
    rec_options options;
    options_for(&options, CHAT_UNKNOWN, 4);
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
    const rec_stats *stats = rec_dataset_stats(ds);
    assert_int_equal(stats->records, 2);
    assert_int_equal(stats->truncated, 1);
    assert_int_equal(stats->truncated_tokens, 6);
    assert_int_equal(stats->tokens, 5);
    assert_int_equal(stats->trained_tokens, 3);
    rec_dataset_destroy(&ds);
}

/* Bad inputs: each error names the file and line (and what is wrong). */
typedef struct bad_case {
    const char *name;
    const char *content;
    chat_family chat;
    const char *expected[3];
} bad_case;

static const bad_case BAD_CASES[] = {
    {"invalid_json.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", CHAT_CHATML,
     {"invalid_json.jsonl:2:", "invalid JSON", NULL}},
    {"not_object.jsonl", "[1, 2]\n", CHAT_CHATML,
     {"not_object.jsonl:1:", "JSON object", NULL}},
    {"missing_output.jsonl",
     "{\"instruction\": \"a\", \"output\": \"b\"}\n\n{\"instruction\": \"c\"}\n", CHAT_CHATML,
     {"missing_output.jsonl:3:", "missing field 'output'", NULL}},
    {"empty_completion.jsonl",
     "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"c\", \"completion\": \"\"}\n",
     CHAT_CHATML, {"empty_completion.jsonl:2:", "'completion' is empty", NULL}},
    {"no_reply.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
     CHAT_CHATML, {"no_reply.jsonl:1:", "no assistant message", NULL}},
    {"bad_role.jsonl",
     "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"bot\", "
     "\"content\": \"x\"}]}\n",
     CHAT_CHATML, {"bad_role.jsonl:1:", "messages[1]", "'role'"}},
    {"empty_content.jsonl",
     "{\"messages\": [{\"role\": \"user\", \"content\": \"\"}, {\"role\": \"assistant\", "
     "\"content\": \"x\"}]}\n",
     CHAT_CHATML, {"empty_content.jsonl:1:", "messages[0]", "'content' is empty"}},
    {"unknown_format.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n", CHAT_CHATML,
     {"unknown_format.jsonl:1:", "cannot tell the record format", "--format"}},
    {"gb18030.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"\xBB\xBC\xD5\xDF\"}\n", CHAT_CHATML,
     {"gb18030.jsonl:2:", "byte 11 of the line", "iconv -f GB18030"}},
    {"no_chat.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n", CHAT_UNKNOWN,
     {"no_chat.jsonl:1:", "--chat-format", NULL}},
    {"llama2_order.jsonl",
     "{\"messages\": [{\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"user\", "
     "\"content\": \"b\"}]}\n",
     CHAT_LLAMA2, {"llama2_order.jsonl:1:", "message 0", "Llama 2"}},
    {"empty.jsonl", "\n\n", CHAT_CHATML, {"empty.jsonl", "no training records", NULL}},
};

static void test_bad_inputs_named(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(BAD_CASES) / sizeof(BAD_CASES[0]); c++) {
        const bad_case *bad = &BAD_CASES[c];
        char path[512];
        write_file(bad->name, bad->content, path, sizeof(path));
        rec_options options;
        options_for(&options, bad->chat, 64);
        rec_dataset *ds = NULL;
        fl_error err = {0};
        tok_tokenizer *tok = bad->chat == CHAT_LLAMA2 ? s_llama2 : s_qwen;
        int rc = rec_dataset_load(path, tok, &options, &ds, &err);
        fprintf(stderr, "%s -> %s\n", bad->name, err.msg);
        assert_int_not_equal(rc, FL_OK);
        assert_null(ds);
        for (int k = 0; k < 3 && bad->expected[k] != NULL; k++)
            assert_non_null(strstr(err.msg, bad->expected[k]));
    }
}

static void test_skip_invalid_lists_lines(void **state)
{
    (void)state;
    char path[512];
    write_file("skip.jsonl",
               "{\"text\": \"one\"}\n{broken\n{\"text\": \"two\"}\n{\"text\": \"\"}\n"
               "{\"text\": \"three\"}\n",
               path, sizeof(path));
    rec_options options;
    options_for(&options, CHAT_CHATML, 64);
    options.skip_invalid = true;
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
    const rec_stats *stats = rec_dataset_stats(ds);
    assert_int_equal(stats->records, 3);
    assert_int_equal(stats->lines, 5);
    assert_int_equal(stats->skipped, 2);
    assert_int_equal(stats->skipped_lines[0], 2);
    assert_int_equal(stats->skipped_lines[1], 4);
    rec_dataset_destroy(&ds);
}

static void test_format_override(void **state)
{
    (void)state;
    char path[512];
    write_file("override.jsonl", "{\"text\": \"a\", \"prompt\": \"p\", \"completion\": \"c\"}\n",
               path, sizeof(path));
    rec_options options;
    options_for(&options, CHAT_CHATML, 64);
    options.format = REC_FORMAT_TEXT;
    rec_dataset *ds = NULL;
    fl_error err = {0};
    assert_int_equal(rec_dataset_load(path, s_qwen, &options, &ds, &err), FL_OK);
    assert_int_equal(rec_dataset_stats(ds)->format, REC_FORMAT_TEXT);
    rec_dataset_destroy(&ds);

    rec_format format = REC_FORMAT_AUTO;
    assert_int_equal(rec_format_parse("alpaca", &format), FL_OK);
    assert_int_equal(format, REC_FORMAT_ALPACA);
    assert_int_equal(rec_format_parse("csv", &format), FL_EINVAL);
}

int main(void)
{
    if (!tok_test_models_present())
        return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_trains_everything),
        cmocka_unit_test(test_alpaca_chatml_mask),
        cmocka_unit_test(test_alpaca_without_input),
        cmocka_unit_test(test_prompt_completion_mask),
        cmocka_unit_test(test_messages_chatml_mask),
        cmocka_unit_test(test_messages_llama3_mask),
        cmocka_unit_test(test_messages_llama2_mask),
        cmocka_unit_test(test_packing_layout),
        cmocka_unit_test(test_packed_equals_unpacked),
        cmocka_unit_test(test_unpacked_one_per_row),
        cmocka_unit_test(test_shuffle_is_seeded),
        cmocka_unit_test(test_validation_split),
        cmocka_unit_test(test_truncation_counted),
        cmocka_unit_test(test_bad_inputs_named),
        cmocka_unit_test(test_skip_invalid_lists_lines),
        cmocka_unit_test(test_format_override),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
