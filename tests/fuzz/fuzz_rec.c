/*
 * libFuzzer target for the inputs a site's user controls: a JSONL training
 * file (rec_dataset_load with format detection, skip_invalid off and on)
 * and raw text (tok_encode, tok_decode), with the small byte-level BPE
 * tokenizer committed in tests/fuzz/data (made by `fedlora tokenizer train`).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rec_dataset.h"
#include "tok_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tok_tokenizer *s_tok;
static char s_path[64];

static void setup(void)
{
    fl_error err = {0};
    if (tok_load(FL_SOURCE_DIR "/tests/fuzz/data/tokenizer.json", &s_tok, &err) != FL_OK) {
        fprintf(stderr, "fuzz_rec: %s\n", err.msg);
        abort();
    }
    snprintf(s_path, sizeof(s_path), "/tmp/fuzz_rec.XXXXXX");
    int fd = mkstemp(s_path);
    if (fd < 0)
        abort();
    close(fd);
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    tok_ids ids;
    tok_ids_init(&ids);
    fl_error err = {0};
    if (tok_encode(s_tok, (const char *)data, size, TOK_ADD_SPECIAL, &ids, &err) == FL_OK) {
        char *text = NULL;
        if (tok_decode(s_tok, ids.data, ids.length, false, &text, NULL, &err) == FL_OK)
            free(text);
    }
    tok_ids_release(&ids);
}

static void fuzz_file(const uint8_t *data, size_t size, bool skip_invalid)
{
    FILE *file = fopen(s_path, "wb");
    if (file == NULL)
        abort();
    fwrite(data, 1, size, file);
    fclose(file);

    rec_options options;
    rec_options_init(&options);
    options.chat = CHAT_CHATML;
    options.seq_len = 64;
    options.pack = true;
    options.skip_invalid = skip_invalid;
    options.val_fraction = 0.2;
    rec_dataset *ds = NULL;
    fl_error err = {0};
    if (rec_dataset_load(s_path, s_tok, &options, &ds, &err) != FL_OK)
        return;
    tr_batch batch;
    rec_batch_init(&batch, 2, 64);
    int rows = 0;
    bool epoch_end = false;
    while (!epoch_end && rec_dataset_next_batch(ds, REC_TRAIN, &batch, &rows, &epoch_end) == FL_OK)
        ;
    rec_batch_release(&batch);
    rec_dataset_destroy(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (s_tok == NULL)
        setup();
    fuzz_text(data, size);
    fuzz_file(data, size, false);
    fuzz_file(data, size, true);
    return 0;
}
