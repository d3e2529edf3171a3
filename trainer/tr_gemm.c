/* Matrix products with a narrow output, split across the pool (contract in tr_ops.h). */
#include "tr_ops.h"

#include <cblas.h>

#include "tr_pool.h"

typedef struct narrow_args {
    CBLAS_TRANSPOSE trans_a, trans_b;
    int n, k;
    float alpha;
    const float *a;
    int lda;
    const float *b;
    int ldb;
    float beta;
    float *c;
    int ldc;
} narrow_args;

static void narrow_rows(void *context, int part, size_t begin, size_t end)
{
    const narrow_args *g = context;
    (void)part;
    const float *a = g->trans_a == CblasNoTrans ? g->a + begin * (size_t)g->lda : g->a + begin;
    cblas_sgemm(CblasRowMajor, g->trans_a, g->trans_b, (int)(end - begin), g->n, g->k, g->alpha,
                a, g->lda, g->b, g->ldb, g->beta, g->c + begin * (size_t)g->ldc, g->ldc);
}

void tr_sgemm_narrow(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc)
{
    int threads = openblas_get_num_threads();
    if (tr_pool_threads() == 1 || threads == 1) {
        cblas_sgemm(CblasRowMajor, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
        return;
    }

    // step: one single-threaded sgemm per block of rows, on the pool's threads
    narrow_args args = {trans_a, trans_b, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
    openblas_set_num_threads(1);
    tr_parallel_for((size_t)m, narrow_rows, &args);
    openblas_set_num_threads(threads);
}
