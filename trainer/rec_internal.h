/*
 * rec_internal.h - the layout of rec_dataset, shared by the rec_*.c files.
 * Not part of the public API.
 */
#ifndef REC_INTERNAL_H
#define REC_INTERNAL_H

#include <jansson.h>

#include "rec_dataset.h"

typedef struct rec_record {
    size_t offset;   /* first id in ids/train */
    uint32_t length; /* ids, at most seq_len */
} rec_record;

typedef struct rec_order {
    size_t *index; /* record indices in visiting order */
    size_t count;
    size_t cursor;
    uint64_t epoch;
} rec_order;

struct rec_dataset {
    rec_options options;
    int32_t *ids;
    uint8_t *train;
    size_t used, capacity;
    rec_record *records;
    size_t record_count, record_capacity;
    rec_order order[2]; /* REC_TRAIN, REC_VALIDATION */
    rec_stats stats;
    size_t skipped_capacity;
};

/*
 * Decides the format of a record from its keys. Returns REC_FORMAT_AUTO when
 * none matches.
 */
rec_format rec_detect_format(const json_t *record);

/*
 * Tokenizes one record of the given format into ids and train flags
 * (appended). On bad content returns FL_EINVAL (or the tokenizer's code)
 * with err describing the field; the caller prefixes file and line.
 */
int rec_encode_record(tok_tokenizer *tok, const rec_options *options, rec_format format,
                      const json_t *record, tok_ids *ids, tok_ids *train, fl_error *err);

/* Returns the next value of a splitmix64 sequence kept in *state. */
uint64_t rec_random_next(uint64_t *state);

/* Shuffles index[0..count) in place with a generator seeded by seed. */
void rec_shuffle(size_t *index, size_t count, uint64_t seed);

#endif
