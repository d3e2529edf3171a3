/*
 * rec_dataset.c - reading JSONL files into tokenized records: UTF-8 check,
 * per-line JSON parsing, format detection, truncation, the validation split
 * and the statistics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_file.h"
#include "fl_mem.h"
#include "rec_internal.h"

/* Largest JSONL file read (it is held in memory while tokenizing). */
#define REC_MAX_FILE_BYTES ((size_t)4 << 30)

static const char *const FORMAT_NAMES[] = {"auto", "text", "alpaca", "messages", "prompt"};

const char *rec_format_name(rec_format format)
{
    if ((size_t)format < sizeof(FORMAT_NAMES) / sizeof(FORMAT_NAMES[0]))
        return FORMAT_NAMES[format];
    return "unknown";
}

int rec_format_parse(const char *name, rec_format *out)
{
    for (size_t i = 0; i < sizeof(FORMAT_NAMES) / sizeof(FORMAT_NAMES[0]); i++) {
        if (strcmp(name, FORMAT_NAMES[i]) == 0) {
            *out = (rec_format)i;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

void rec_options_init(rec_options *options)
{
    memset(options, 0, sizeof(*options));
    options->format = REC_FORMAT_AUTO;
    options->seq_len = 1024;
    options->shuffle = true;
}

static int not_utf8(const char *path, const char *text, size_t offset, fl_error *err)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    return fl_error_set(err, FL_EFORMAT,
                        "%s:%zu: not valid UTF-8 at byte %zu of the line (0x%02X), so the file "
                        "uses another encoding. Find out which with 'file -i %s' (Chinese "
                        "hospital systems often write GB18030, Western ones Windows-1252), then "
                        "convert it, for example: iconv -f GB18030 -t UTF-8 '%s' > "
                        "converted.jsonl",
                        path, line, offset - line_start + 1, (unsigned char)text[offset], path,
                        path);
}

/* Per-file reading state. */
typedef struct file_reader {
    rec_dataset *ds;
    tok_tokenizer *tok;
    const char *path;
    rec_format format;
    tok_ids ids, train;
} file_reader;

static void note_skipped(rec_dataset *ds, size_t line)
{
    if (ds->stats.skipped == ds->skipped_capacity) {
        ds->skipped_capacity = ds->skipped_capacity == 0 ? 64 : ds->skipped_capacity * 2;
        ds->stats.skipped_lines = fl_xrealloc(
            ds->stats.skipped_lines, ds->skipped_capacity * sizeof(*ds->stats.skipped_lines));
    }
    ds->stats.skipped_lines[ds->stats.skipped++] = line;
}

/* Stores the encoded record, cut to seq_len, and updates the counts. */
static void keep_record(rec_dataset *ds, const tok_ids *ids, const tok_ids *train)
{
    size_t length = ids->length;
    size_t limit = (size_t)ds->options.seq_len;
    if (length > limit) {
        ds->stats.truncated++;
        ds->stats.truncated_tokens += length - limit;
        length = limit;
    }
    if (ds->used + length > ds->capacity) {
        ds->capacity = (ds->used + length) * 2;
        ds->ids = fl_xrealloc(ds->ids, ds->capacity * sizeof(*ds->ids));
        ds->train = fl_xrealloc(ds->train, ds->capacity * sizeof(*ds->train));
    }
    for (size_t i = 0; i < length; i++) {
        ds->ids[ds->used + i] = ids->data[i];
        ds->train[ds->used + i] = (uint8_t)train->data[i];
        if (i > 0 && train->data[i])
            ds->stats.trained_tokens++;
    }
    if (ds->record_count == ds->record_capacity) {
        ds->record_capacity = ds->record_capacity == 0 ? 1024 : ds->record_capacity * 2;
        ds->records = fl_xrealloc(ds->records, ds->record_capacity * sizeof(*ds->records));
    }
    ds->records[ds->record_count++] = (rec_record){.offset = ds->used, .length = (uint32_t)length};
    ds->used += length;
    ds->stats.tokens += length;
    ds->stats.records++;
}

/* Handles one non-blank line. Returns FL_OK when it was kept or skipped. */
static int read_line(file_reader *reader, const char *line, size_t length, size_t number,
                     fl_error *err)
{
    rec_dataset *ds = reader->ds;
    json_error_t json_error;
    json_t *record = json_loadb(line, length, JSON_DECODE_INT_AS_REAL, &json_error);
    int rc = FL_OK;
    if (record == NULL || !json_is_object(record)) {
        if (record == NULL)
            rc = fl_error_set(err, FL_EFORMAT,
                              "%s:%zu:%d: invalid JSON: %s; fix the line ('fedlora data stats "
                              "--skip-invalid' lists every such line)",
                              reader->path, number, json_error.column, json_error.text);
        else
            rc = fl_error_set(err, FL_EFORMAT, "%s:%zu: expected a JSON object per line",
                              reader->path, number);
        goto done;
    }

    if (reader->format == REC_FORMAT_AUTO) {
        reader->format = rec_detect_format(record);
        if (reader->format == REC_FORMAT_AUTO) {
            rc = fl_error_set(err, FL_EFORMAT,
                              "%s:%zu: cannot tell the record format: expected \"messages\", "
                              "\"instruction\"+\"output\", \"prompt\"+\"completion\" or \"text\"; "
                              "choose one with --format",
                              reader->path, number);
            goto done;
        }
    }

    reader->ids.length = reader->train.length = 0;
    rc = rec_encode_record(reader->tok, &ds->options, reader->format, record, &reader->ids,
                           &reader->train, err);
    if (rc != FL_OK) {
        fl_error_prefix(err, "%s:%zu: ", reader->path, number);
        goto done;
    }
    keep_record(ds, &reader->ids, &reader->train);

done:
    json_decref(record);
    if (rc != FL_OK && ds->options.skip_invalid) {
        note_skipped(ds, number);
        fl_error_clear(err);
        rc = FL_OK;
    }
    return rc;
}

static bool is_blank(const char *line, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

/* Reads every record of path into ds and sets *format to the file's format. */
static int read_file(rec_dataset *ds, tok_tokenizer *tok, const char *path, rec_format *format,
                     fl_error *err)
{
    char *text = NULL;
    size_t length = 0;
    int rc = fl_file_read_all(path, REC_MAX_FILE_BYTES, &text, &length, err);
    if (rc != FL_OK)
        return rc;

    size_t start = 0;
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        start = 3; /* a UTF-8 byte order mark */
    size_t bad = tok_utf8_invalid_offset(text, length);
    if (bad != length) {
        rc = not_utf8(path, text, bad, err);
        free(text);
        return rc;
    }

    file_reader reader = {.ds = ds, .tok = tok, .path = path, .format = ds->options.format};
    tok_ids_init(&reader.ids);
    tok_ids_init(&reader.train);
    size_t number = 0;
    while (start < length && rc == FL_OK) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline != NULL ? (size_t)(newline - text) : length;
        number++;
        if (!is_blank(text + start, end - start))
            rc = read_line(&reader, text + start, end - start, number, err);
        start = end + 1;
    }
    ds->stats.lines += number;
    *format = reader.format;
    tok_ids_release(&reader.ids);
    tok_ids_release(&reader.train);
    free(text);
    return rc;
}

static void set_order(rec_order *order, size_t first, size_t count)
{
    order->index = fl_xcalloc(count > 0 ? count : 1, sizeof(*order->index));
    for (size_t i = 0; i < count; i++)
        order->index[i] = first + i;
    order->count = count;
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Holds out a seeded random val_fraction of the records; both splits keep file order. */
static void split_by_fraction(rec_dataset *ds, size_t count)
{
    size_t *all = fl_xcalloc(count > 0 ? count : 1, sizeof(*all));
    for (size_t i = 0; i < count; i++)
        all[i] = i;
    rec_shuffle(all, count, ds->options.seed ^ 0x5EED5EED5EED5EEDull);
    size_t held = (size_t)(ds->options.val_fraction * (double)count + 0.5);
    if (held >= count && count > 0)
        held = count - 1;

    qsort(all, held, sizeof(*all), compare_size);
    qsort(all + held, count - held, sizeof(*all), compare_size);
    ds->order[REC_VALIDATION].index = fl_xcalloc(held > 0 ? held : 1, sizeof(size_t));
    memcpy(ds->order[REC_VALIDATION].index, all, held * sizeof(size_t));
    ds->order[REC_VALIDATION].count = held;
    ds->order[REC_TRAIN].index = fl_xcalloc(count - held > 0 ? count - held : 1, sizeof(size_t));
    memcpy(ds->order[REC_TRAIN].index, all + held, (count - held) * sizeof(size_t));
    ds->order[REC_TRAIN].count = count - held;
    free(all);
}

static int check_options(const char *path, const rec_options *options, fl_error *err)
{
    if (options->seq_len < 2)
        return fl_error_set(err, FL_EINVAL, "%s: sequence length %d is too short; use >= 2",
                            path, options->seq_len);
    if (!(options->val_fraction >= 0.0 && options->val_fraction < 1.0))
        return fl_error_set(err, FL_EINVAL,
                            "%s: validation fraction %g is outside [0, 1)", path,
                            options->val_fraction);
    if (options->val_fraction > 0.0 && options->val_path != NULL)
        return fl_error_set(err, FL_EINVAL,
                            "%s: give a validation fraction or a validation file, not both",
                            path);
    return FL_OK;
}

int rec_dataset_load(const char *path, tok_tokenizer *tok, const rec_options *options,
                     rec_dataset **out, fl_error *err)
{
    *out = NULL;
    int rc = check_options(path, options, err);
    if (rc != FL_OK)
        return rc;

    rec_dataset *ds = fl_xcalloc(1, sizeof(*ds));
    ds->options = *options;
    rec_format format = REC_FORMAT_AUTO;
    rc = read_file(ds, tok, path, &format, err);
    if (rc != FL_OK)
        goto destroy;
    ds->stats.format = format;
    size_t train_count = ds->record_count;

    if (options->val_path != NULL) {
        rec_format val_format = REC_FORMAT_AUTO;
        rc = read_file(ds, tok, options->val_path, &val_format, err);
        if (rc != FL_OK)
            goto destroy;
        set_order(&ds->order[REC_TRAIN], 0, train_count);
        set_order(&ds->order[REC_VALIDATION], train_count, ds->record_count - train_count);
    } else {
        split_by_fraction(ds, train_count);
    }
    ds->stats.train_records = ds->order[REC_TRAIN].count;
    ds->stats.validation_records = ds->order[REC_VALIDATION].count;

    if (ds->order[REC_TRAIN].count == 0) {
        rc = fl_error_set(err, FL_EINVAL, "%s: no training records in the file", path);
        goto destroy;
    }
    if (options->shuffle)
        rec_shuffle(ds->order[REC_TRAIN].index, ds->order[REC_TRAIN].count, options->seed);
    *out = ds;
    return FL_OK;

destroy:
    rec_dataset_destroy(&ds);
    return rc;
}

void rec_dataset_destroy(rec_dataset **dsp)
{
    if (dsp == NULL || *dsp == NULL)
        return;
    rec_dataset *ds = *dsp;
    free(ds->ids);
    free(ds->train);
    free(ds->records);
    free(ds->order[0].index);
    free(ds->order[1].index);
    free(ds->stats.skipped_lines);
    free(ds);
    *dsp = NULL;
}

const rec_stats *rec_dataset_stats(const rec_dataset *ds)
{
    return &ds->stats;
}

size_t rec_dataset_count(const rec_dataset *ds, rec_split split)
{
    return ds->order[split].count;
}

size_t rec_dataset_record(const rec_dataset *ds, rec_split split, size_t i, const int32_t **ids,
                          const uint8_t **train)
{
    const rec_record *record = &ds->records[ds->order[split].index[i]];
    *ids = ds->ids + record->offset;
    *train = ds->train + record->offset;
    return record->length;
}
