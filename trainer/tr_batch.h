/*
 * tr_batch.h - one batch of token sequences, the contract between the data
 * pipeline (tokenizer and record reader) and the model.
 *
 * A row may hold several packed records. Each position carries its own
 * position id (restarting at 0 for every record) and the index of the record
 * it belongs to, so attention stays within a record and the loss of a packed
 * batch equals the loss of its records run alone.
 */
#ifndef TR_BATCH_H
#define TR_BATCH_H

#include <stdint.h>

#define TR_IGNORE_INDEX (-100)

typedef struct tr_batch {
    int B;              /* rows */
    int T;              /* positions per row */
    int32_t *tokens;    /* [B*T] input token ids; padding uses any valid id */
    int32_t *targets;   /* [B*T] id to predict at each position (the next token),
                           TR_IGNORE_INDEX where no loss is taken (prompt, padding) */
    int32_t *positions; /* [B*T] position ids for RoPE, 0 at the start of each record */
    int32_t *segments;  /* [B*T] record index within the row; a position attends only to
                           earlier positions with the same segment; -1 marks padding */
} tr_batch;

#endif
