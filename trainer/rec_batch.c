/*
 * rec_batch.c - rows of records for the trainer: packing, targets shifted by
 * one token, per-record positions and segments, and the seeded shuffle.
 */
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "rec_internal.h"

uint64_t rec_random_next(uint64_t *state)
{
    /* splitmix64: a full-period 64-bit generator, the same on every platform */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rec_shuffle(size_t *index, size_t count, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)(rec_random_next(&state) % i);
        size_t swap = index[i - 1];
        index[i - 1] = index[j];
        index[j] = swap;
    }
}

void rec_batch_init(tr_batch *batch, int B, int T)
{
    size_t n = (size_t)B * (size_t)T;
    batch->B = B;
    batch->T = T;
    batch->tokens = fl_xcalloc(n, sizeof(int32_t));
    batch->targets = fl_xcalloc(n, sizeof(int32_t));
    batch->positions = fl_xcalloc(n, sizeof(int32_t));
    batch->segments = fl_xcalloc(n, sizeof(int32_t));
}

void rec_batch_release(tr_batch *batch)
{
    free(batch->tokens);
    free(batch->targets);
    free(batch->positions);
    free(batch->segments);
    memset(batch, 0, sizeof(*batch));
}

static void pad_row(tr_batch *out, int row, int from)
{
    for (int t = from; t < out->T; t++) {
        size_t at = (size_t)row * (size_t)out->T + (size_t)t;
        out->tokens[at] = 0;
        out->targets[at] = TR_IGNORE_INDEX;
        out->positions[at] = 0;
        out->segments[at] = -1;
    }
}

/* Copies one record into row at position start as segment; the last token predicts nothing. */
static void place_record(const rec_dataset *ds, const rec_record *record, tr_batch *out, int row,
                         int start, int segment)
{
    const int32_t *ids = ds->ids + record->offset;
    const uint8_t *train = ds->train + record->offset;
    for (uint32_t j = 0; j < record->length; j++) {
        size_t at = (size_t)row * (size_t)out->T + (size_t)start + j;
        bool predicts = j + 1 < record->length && train[j + 1];
        out->tokens[at] = ids[j];
        out->targets[at] = predicts ? ids[j + 1] : TR_IGNORE_INDEX;
        out->positions[at] = (int32_t)j;
        out->segments[at] = segment;
    }
}

static void next_epoch(rec_dataset *ds, rec_split split)
{
    rec_order *order = &ds->order[split];
    order->cursor = 0;
    order->epoch++;
    if (split == REC_TRAIN && ds->options.shuffle)
        rec_shuffle(order->index, order->count,
                    ds->options.seed + order->epoch * 0x9E3779B97F4A7C15ull);
}

int rec_dataset_next_batch(rec_dataset *ds, rec_split split, tr_batch *out, int *rows,
                           bool *epoch_end)
{
    rec_order *order = &ds->order[split];
    *rows = 0;
    *epoch_end = false;
    if (out->T != ds->options.seq_len)
        return FL_EINVAL;
    if (order->count == 0)
        return FL_ENOTFOUND;

    bool epoch_ended = false;
    for (int row = 0; row < out->B; row++) {
        int used = 0, segment = 0;
        while (!epoch_ended && order->cursor < order->count) {
            const rec_record *record = &ds->records[order->index[order->cursor]];
            if (used + (int)record->length > out->T)
                break;
            place_record(ds, record, out, row, used, segment++);
            used += (int)record->length;
            order->cursor++;
            if (!ds->options.pack)
                break;
        }
        pad_row(out, row, used);
        if (used > 0)
            (*rows)++;
        if (order->cursor == order->count)
            epoch_ended = true;
    }
    if (epoch_ended)
        next_epoch(ds, split);
    *epoch_end = epoch_ended;
    return FL_OK;
}

void rec_dataset_rewind(rec_dataset *ds, rec_split split)
{
    ds->order[split].cursor = 0;
}
