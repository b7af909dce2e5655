/* blas.c - the one GEMM wrapper (OpenBLAS cblas_sgemm, row-major), its
 * plain-loop reference twin for the tests, and the thread-count control. */
#include "mixgeo.h"

#include <cblas.h>

/* cblas.h of OpenBLAS declares these; repeated here (compatible declarations)
 * so that a cblas.h without the OpenBLAS extensions still compiles. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

/* The count last asked for through mg_set_threads (0 = never set). */
static int g_threads_requested;

/* Leading dimensions as cblas checks them for row-major storage: a matrix
 * stored rows x cols needs ld >= max(1, cols). */
static void check_dims(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc)
{
    MG_ASSERT(m >= 0 && n >= 0 && k >= 0);
    int a_cols = ta ? m : k; /* A is stored k x m when transposed, else m x k */
    int b_cols = tb ? k : n; /* B is stored n x k when transposed, else k x n */
    MG_ASSERT(lda >= (a_cols > 1 ? a_cols : 1));
    MG_ASSERT(ldb >= (b_cols > 1 ? b_cols : 1));
    MG_ASSERT(ldc >= (n > 1 ? n : 1));
}

void mg_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    check_dims(ta, tb, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void mg_sgemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    check_dims(ta, tb, m, n, k, lda, ldb, ldc);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            /* beta == 0 overwrites whatever C held (NaN included) and
             * alpha == 0 ignores A and B, as the reference BLAS does. */
            double old = beta == 0.0f ? 0.0 : (double)beta * (double)*c;
            double prod = alpha == 0.0f ? 0.0 : (double)alpha * acc;
            *c = (float)(prod + old);
        }
    }
}

void mg_set_threads(int n)
{
    if (n < 1) n = 1;
    g_threads_requested = n;
    openblas_set_num_threads(n);
}

int mg_get_threads(void)
{
    int n = openblas_get_num_threads();
    return n > 0 ? n : (g_threads_requested > 0 ? g_threads_requested : 1);
}

int mg_blas_threads_swap(int n)
{
    int old = openblas_get_num_threads();
    if (old < 1) old = 1;
    if (n < 1) n = 1;
    if (n != old) openblas_set_num_threads(n);
    return old;
}
