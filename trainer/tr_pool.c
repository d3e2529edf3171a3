/* A fixed pool of sleeping worker threads for tr_parallel_for. */
#include "tr_pool.h"

#include <pthread.h>
#include <stdbool.h>

/* Below this many items a loop is not worth waking workers for. */
#define TR_POOL_MIN_ITEMS 64

static struct {
    pthread_mutex_t call_lock; /* serialises tr_parallel_for callers */
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
    int threads;  /* parts per loop, caller included */
    int started;  /* worker threads running */
    unsigned long generation;
    int pending;  /* parts not finished in this generation */
    tr_range_fn fn;
    void *context;
    size_t count;
} s_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
            PTHREAD_COND_INITIALIZER, 1, 0, 0, 0, NULL, NULL, 0};

static void run_part(int part, int parts, tr_range_fn fn, void *context, size_t count)
{
    size_t begin = count * (size_t)part / (size_t)parts;
    size_t end = count * (size_t)(part + 1) / (size_t)parts;
    if (begin < end)
        fn(context, part, begin, end);
}

/* Generation current when each worker was created; it waits for the next one. */
static unsigned long s_start_generation[TR_POOL_MAX_THREADS];

static void *worker(void *argument)
{
    int part = (int)(size_t)argument;
    pthread_mutex_lock(&s_pool.lock);
    unsigned long seen = s_start_generation[part];
    for (;;) {
        while (s_pool.generation == seen)
            pthread_cond_wait(&s_pool.work, &s_pool.lock);
        seen = s_pool.generation;
        if (part >= s_pool.threads)
            continue;
        tr_range_fn fn = s_pool.fn;
        void *context = s_pool.context;
        size_t count = s_pool.count;
        int parts = s_pool.threads;
        pthread_mutex_unlock(&s_pool.lock);

        run_part(part, parts, fn, context, count);

        pthread_mutex_lock(&s_pool.lock);
        if (--s_pool.pending == 0)
            pthread_cond_signal(&s_pool.done);
    }
    return NULL;
}

void tr_pool_set_threads(int threads)
{
    if (threads < 1)
        threads = 1;
    if (threads > TR_POOL_MAX_THREADS)
        threads = TR_POOL_MAX_THREADS;
    pthread_mutex_lock(&s_pool.call_lock);
    pthread_mutex_lock(&s_pool.lock);
    /* Workers live for the whole process; only missing ones are started. */
    while (s_pool.started < threads - 1) {
        pthread_t thread;
        int part = s_pool.started + 1;
        s_start_generation[part] = s_pool.generation;
        if (pthread_create(&thread, NULL, worker, (void *)(size_t)part) != 0)
            break;
        pthread_detach(thread);
        s_pool.started++;
    }
    s_pool.threads = s_pool.started + 1 < threads ? s_pool.started + 1 : threads;
    pthread_mutex_unlock(&s_pool.lock);
    pthread_mutex_unlock(&s_pool.call_lock);
}

int tr_pool_threads(void)
{
    pthread_mutex_lock(&s_pool.lock);
    int threads = s_pool.threads;
    pthread_mutex_unlock(&s_pool.lock);
    return threads;
}

void tr_parallel_for(size_t count, tr_range_fn fn, void *context)
{
    pthread_mutex_lock(&s_pool.call_lock);
    int parts = s_pool.threads;
    if (parts == 1 || count < TR_POOL_MIN_ITEMS) {
        /* Still split into `parts` pieces so per-part reductions see every part. */
        for (int part = 0; part < parts; part++)
            run_part(part, parts, fn, context, count);
        pthread_mutex_unlock(&s_pool.call_lock);
        return;
    }

    pthread_mutex_lock(&s_pool.lock);
    s_pool.fn = fn;
    s_pool.context = context;
    s_pool.count = count;
    s_pool.pending = parts - 1;
    s_pool.generation++;
    pthread_cond_broadcast(&s_pool.work);
    pthread_mutex_unlock(&s_pool.lock);

    run_part(0, parts, fn, context, count);

    pthread_mutex_lock(&s_pool.lock);
    while (s_pool.pending > 0)
        pthread_cond_wait(&s_pool.done, &s_pool.lock);
    pthread_mutex_unlock(&s_pool.lock);
    pthread_mutex_unlock(&s_pool.call_lock);
}
