/*
 * rec_dataset.h - training records from JSONL files, as batches for the
 * trainer (tr_batch.h).
 *
 * One JSON object per line, in one of four formats, detected from the first
 * record of each file unless the caller fixes it:
 *   REC_FORMAT_TEXT       {"text": "..."}                 trains on every token
 *   REC_FORMAT_ALPACA     {"instruction", "input" (optional), "output"}
 *   REC_FORMAT_MESSAGES   {"messages": [{"role", "content"}, ...]}
 *   REC_FORMAT_PROMPT     {"prompt", "completion"}
 * Alpaca and prompt/completion records become a user message (instruction,
 * then a blank line and the input when there is one; or the prompt) and an
 * assistant message (output; or completion). Every format but text goes
 * through the chat template of rec_options.chat (chat_format.h), so the loss
 * falls on assistant replies and their end-of-turn token only. Text records
 * get the tokenizer's post-processor tokens (BOS for Llama 2) and no EOS.
 *
 * Records longer than seq_len tokens are cut to seq_len and counted. With
 * packing, several records share a row: positions restart at 0 and segments
 * number the records of the row, so attention and loss stay per record.
 * Without packing, each row holds one record. Rows are padded with token 0,
 * target TR_IGNORE_INDEX, position 0 and segment -1.
 *
 * Bad input stops loading with an fl_error naming the file and line: invalid
 * JSON (with the column), a record without the format's fields or with an
 * empty one, or a file that is not UTF-8 (with the byte offset and an iconv
 * command). With skip_invalid, bad lines are skipped instead, counted, and
 * their numbers kept in rec_stats.
 *
 * A rec_dataset is not thread-safe; the tokenizer passed to rec_dataset_load
 * is only used during the call.
 */
#ifndef REC_DATASET_H
#define REC_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat_format.h"
#include "fl_error.h"
#include "tok_tokenizer.h"
#include "tr_batch.h"

typedef enum rec_format {
    REC_FORMAT_AUTO = 0, /* detect per file from its first record */
    REC_FORMAT_TEXT,
    REC_FORMAT_ALPACA,
    REC_FORMAT_MESSAGES,
    REC_FORMAT_PROMPT,
} rec_format;

typedef enum rec_split {
    REC_TRAIN = 0,
    REC_VALIDATION = 1,
} rec_split;

typedef struct rec_options {
    rec_format format;       /* REC_FORMAT_AUTO to detect */
    chat_family chat;        /* template for all formats but text; see chat_detect */
    int seq_len;             /* T: positions per row, >= 2 */
    bool pack;               /* several records per row */
    bool skip_invalid;       /* skip and count bad lines instead of failing */
    bool shuffle;            /* reshuffle the training records every epoch */
    uint64_t seed;           /* seeds the shuffle and the validation split */
    double val_fraction;     /* share of records held out, in [0, 1); 0 for none */
    const char *val_path;    /* a separate validation file, or NULL */
} rec_options;

/* Sets the defaults: auto format, seq_len 1024, no packing, shuffle with seed 0, no split. */
void rec_options_init(rec_options *options);

typedef struct rec_stats {
    rec_format format;        /* detected (or given) format of the training file */
    size_t lines;             /* lines read, blank ones included */
    size_t records;           /* records kept, both splits */
    size_t train_records, validation_records;
    size_t tokens;            /* tokens kept after truncation, both splits */
    size_t trained_tokens;    /* tokens that are a target of the loss, both splits */
    size_t truncated;         /* records cut to seq_len */
    size_t truncated_tokens;  /* tokens dropped by the cuts */
    size_t skipped;           /* lines skipped with skip_invalid */
    size_t *skipped_lines;    /* [skipped] their 1-based line numbers (first file, then val_path) */
} rec_stats;

typedef struct rec_dataset rec_dataset;

/* Returns "text", "alpaca", "messages", "prompt" or "auto". */
const char *rec_format_name(rec_format format);

/* Parses a name as rec_format_name writes it. Returns FL_EINVAL for other text. */
int rec_format_parse(const char *name, rec_format *out) FL_WARN_UNUSED;

/*
 * Reads and tokenizes path (and options->val_path) into a dataset. The
 * validation records are val_path's, or else a seeded random
 * options->val_fraction of path's. On failure err names the file and line.
 * Caller owns *out; free it with rec_dataset_destroy.
 */
int rec_dataset_load(const char *path, tok_tokenizer *tok, const rec_options *options,
                     rec_dataset **out, fl_error *err) FL_WARN_UNUSED;

/* Frees ds and clears the caller's pointer. NULL-safe. */
void rec_dataset_destroy(rec_dataset **ds);

/* Returns the counts gathered while loading. Owned by ds. */
const rec_stats *rec_dataset_stats(const rec_dataset *ds);

/*
 * Returns the length of record i in split's current order and points *ids
 * and *train (1 where the loss predicts the token) at its data, owned by ds.
 */
size_t rec_dataset_record(const rec_dataset *ds, rec_split split, size_t i, const int32_t **ids,
                          const uint8_t **train);

/* Returns the number of records in split. */
size_t rec_dataset_count(const rec_dataset *ds, rec_split split);

/*
 * Allocates a batch of B rows of T positions. Free it with rec_batch_release.
 */
void rec_batch_init(tr_batch *batch, int B, int T);
void rec_batch_release(tr_batch *batch);

/*
 * Fills out (allocated with T == seq_len) with the next rows of split and
 * sets *rows to the number of rows that hold records; the rows after them
 * are padding. *epoch_end is set when this batch took the last records of
 * the epoch, and the next call starts the next epoch (reshuffled when
 * options.shuffle, for REC_TRAIN). A batch never spans two epochs. Returns
 * FL_EINVAL when out->T differs from seq_len and FL_ENOTFOUND when split has
 * no records.
 */
int rec_dataset_next_batch(rec_dataset *ds, rec_split split, tr_batch *out, int *rows,
                           bool *epoch_end) FL_WARN_UNUSED;

/* Rewinds split to the start of the current order. */
void rec_dataset_rewind(rec_dataset *ds, rec_split split);

#endif
