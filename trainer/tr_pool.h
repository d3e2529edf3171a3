/*
 * tr_pool.h - the worker threads that run the trainer's element-wise loops.
 *
 * Idle workers sleep on a condition variable instead of spinning, so they
 * leave the cores to OpenBLAS's own threads between loops (OpenMP's default
 * spin-wait measurably slowed the sgemm calls that alternate with them).
 */
#ifndef TR_POOL_H
#define TR_POOL_H

#include <stddef.h>

#define TR_POOL_MAX_THREADS 64

/* Body of a parallel loop: handles items [begin, end) as part number `part`. */
typedef void (*tr_range_fn)(void *context, int part, size_t begin, size_t end);

/* Sets the number of threads (the caller included), 1..TR_POOL_MAX_THREADS. */
void tr_pool_set_threads(int threads);

/* Returns the number of parts tr_parallel_for splits work into (the thread count). */
int tr_pool_threads(void);

/*
 * Splits [0, count) into tr_pool_threads() contiguous parts and runs fn on
 * each, the caller taking part 0; returns when all parts are done. Calls
 * from several threads are serialised. Small counts run on the caller.
 */
void tr_parallel_for(size_t count, tr_range_fn fn, void *context);

#endif
