/* test_blas.c - mg_sgemm (OpenBLAS) against mg_sgemm_ref (plain loops), and
 * mg_sgemm_ref against hand-computed products: every transpose combination,
 * odd sizes, padded leading dimensions, alpha/beta, beta = 0 over NaN. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixgeo.h"

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *,
                        int, float, float *, int);

static float *alloc_random(size_t n, mg_rng *r)
{
    float *p = malloc((n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * mg_rng_uniform(r) - 1.0);
    return p;
}

static void test_ref_known_answer(void **state)
{
    (void)state;
    /* A = [1 2 3; 4 5 6] (2x3), B = [7 8; 9 10; 11 12] (3x2):
     * A B = [58 64; 139 154]. */
    const float A[] = {1, 2, 3, 4, 5, 6};
    const float At[] = {1, 4, 2, 5, 3, 6}; /* A^T stored 3x2 */
    const float B[] = {7, 8, 9, 10, 11, 12};
    const float Bt[] = {7, 9, 11, 8, 10, 12}; /* B^T stored 2x3 */
    const float want[] = {58, 64, 139, 154};
    gemm_fn fns[2] = {mg_sgemm_ref, mg_sgemm};
    for (int f = 0; f < 2; f++) {
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                float C[4] = {1, 1, 1, 1};
                fns[f](ta, tb, 2, 2, 3, 1.0f, ta ? At : A, ta ? 2 : 3, tb ? Bt : B, tb ? 3 : 2,
                       0.0f, C, 2);
                for (int i = 0; i < 4; i++) assert_true(C[i] == want[i]);
                /* alpha = 2, beta = -1 on C = 1: 2 AB - 1. */
                float D[4] = {1, 1, 1, 1};
                fns[f](ta, tb, 2, 2, 3, 2.0f, ta ? At : A, ta ? 2 : 3, tb ? Bt : B, tb ? 3 : 2,
                       -1.0f, D, 2);
                for (int i = 0; i < 4; i++) assert_true(D[i] == 2 * want[i] - 1);
            }
        }
    }
}

/* One comparison of mg_sgemm with the reference on random padded matrices.
 * Tolerance per element: 1e-5 * (|alpha| sum_p |a_ip b_pj| + |beta c_ij|),
 * a bound on float rounding for these k, and 0 difference is not required. */
static void compare_case(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad,
                         mg_rng *r)
{
    int a_rows = ta ? k : m, a_cols = ta ? m : k;
    int b_rows = tb ? n : k, b_cols = tb ? k : n;
    int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    if (ldc < 1) ldc = 1;
    float *A = alloc_random((size_t)a_rows * lda, r);
    float *B = alloc_random((size_t)b_rows * ldb, r);
    float *C0 = alloc_random((size_t)m * ldc, r);
    float *C1 = malloc(((size_t)m * ldc + 1) * sizeof *C1);
    float *C2 = malloc(((size_t)m * ldc + 1) * sizeof *C2);
    assert_non_null(C1);
    assert_non_null(C2);
    /* Padding columns hold a sentinel that must survive. */
    const float sentinel = 12345.0f;
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++) C0[(size_t)i * ldc + j] = sentinel;
    memcpy(C1, C0, (size_t)m * ldc * sizeof *C0);
    memcpy(C2, C0, (size_t)m * ldc * sizeof *C0);
    mg_sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C1, ldc);
    mg_sgemm_ref(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C2, ldc);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
            size_t idx = (size_t)i * ldc + j;
            if (j >= n) {
                assert_true(C1[idx] == sentinel && C2[idx] == sentinel);
                continue;
            }
            double mag = 0.0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                mag += fabs(a * b);
            }
            double tol = 1e-5 * (fabs(alpha) * mag + fabs(beta * C0[idx])) + 1e-30;
            if (!(fabs((double)C1[idx] - (double)C2[idx]) <= tol)) {
                print_error("ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d: C[%d][%d] "
                            "blas %.9g ref %.9g\n",
                            ta, tb, m, n, k, alpha, beta, pad, i, j, C1[idx], C2[idx]);
                fail();
            }
        }
    }
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C2);
}

static void test_vs_reference(void **state)
{
    (void)state;
    const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 33, 129}, {5, 1, 17}, {1, 9, 3},
                            {33, 64, 1}};
    const float ab[][2] = {{1.0f, 0.0f}, {0.5f, -1.5f}, {-2.0f, 1.0f}, {0.0f, 0.75f}};
    mg_rng r;
    mg_rng_seed(&r, 11);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (size_t a = 0; a < sizeof ab / sizeof ab[0]; a++)
                    for (int pad = 0; pad <= 3; pad += 3)
                        compare_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], ab[a][0],
                                     ab[a][1], pad, &r);
}

static void test_beta_zero_overwrites_nan(void **state)
{
    (void)state;
    const float A[] = {1, 2, 3, 4}; /* 2x2 */
    const float B[] = {1, 0, 0, 1}; /* identity */
    gemm_fn fns[2] = {mg_sgemm_ref, mg_sgemm};
    for (int f = 0; f < 2; f++) {
        float C[4] = {NAN, INFINITY, -NAN, NAN};
        fns[f](0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
        for (int i = 0; i < 4; i++) assert_true(C[i] == A[i]);
    }
    /* With beta != 0 a NaN in C propagates (no hiding). */
    float C[4] = {NAN, 0, 0, 0};
    mg_sgemm_ref(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 1.0f, C, 2);
    assert_true(isnan(C[0]));
    assert_true(C[3] == 4.0f);
}

static void test_empty_dims(void **state)
{
    (void)state;
    /* k = 0: C = beta C.  m = 0 or n = 0: nothing touched. */
    const float A[1] = {5}, B[1] = {7};
    gemm_fn fns[2] = {mg_sgemm_ref, mg_sgemm};
    for (int f = 0; f < 2; f++) {
        float C[6] = {1, 2, 3, 4, 5, 6};
        fns[f](0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 2.0f, C, 3);
        for (int i = 0; i < 6; i++) assert_true(C[i] == 2.0f * (float)(i + 1));
        fns[f](0, 0, 0, 3, 2, 1.0f, A, 2, B, 3, 0.0f, C, 3);
        fns[f](0, 0, 2, 0, 2, 1.0f, A, 2, B, 1, 0.0f, C, 1);
        for (int i = 0; i < 6; i++) assert_true(C[i] == 2.0f * (float)(i + 1));
    }
}

static void test_threads(void **state)
{
    (void)state;
    mg_set_threads(1);
    assert_int_equal(mg_get_threads(), 1);
    mg_set_threads(0); /* clamped to 1 */
    assert_int_equal(mg_get_threads(), 1);
    /* Results do not depend on the thread count (for this size). */
    mg_rng r;
    mg_rng_seed(&r, 3);
    compare_case(0, 1, 70, 50, 90, 1.0f, 0.0f, 1, &r);
    mg_set_threads(2);
    assert_true(mg_get_threads() >= 1);
    compare_case(0, 1, 70, 50, 90, 1.0f, 0.0f, 1, &r);
    mg_set_threads(1);
}

/* The kernel families: names, what the CPU runs, the errors. */
static void test_kernel_choice(void **state)
{
    (void)state;
    const char *core = "x", *isa = "x";
    assert_true(strlen(mg_blas_core()) > 0);
    assert_int_equal(mg_blas_core_choose("native", &core, &isa), MG_OK);
    assert_null(core);
    assert_null(isa);
    assert_int_equal(mg_blas_core_runs("native"), -1);
    assert_int_equal(mg_blas_core_runs("nosuch"), -1);
    assert_int_equal(mg_blas_core_choose("nosuch", &core, &isa), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "unknown BLAS kernel family 'nosuch'"));
#if defined(__x86_64__)
    static const char *const fam[] = {"Prescott", "Nehalem", "Sandybridge", "Haswell", "SkylakeX"};
    static const char *const cap[] = {"SSE41", "SSE41", "AVX", "AVX2", "AVX512_CORE"};
    int runs_prev = 1;
    for (int i = 0; i < 5; i++) {
        int r = mg_blas_core_runs(fam[i]);
        assert_true(r == 0 || r == 1);
        assert_true(r <= runs_prev); /* each family needs the ones before it */
        runs_prev = r;
        mg_status st = mg_blas_core_choose(fam[i], &core, &isa);
        if (r) {
            assert_int_equal(st, MG_OK);
            assert_string_equal(core, fam[i]);
            assert_string_equal(isa, cap[i]);
        } else {
            assert_int_equal(st, MG_ERR_CONFIG);
            assert_non_null(strstr(mg_errmsg(), "which this CPU lacks"));
        }
    }
    assert_int_equal(mg_blas_core_runs("prescott"), 1); /* case-insensitive; SSE3: every x86-64 */
    /* portable: Haswell where it runs, else the libraries' own */
    assert_int_equal(mg_blas_core_choose(NULL, &core, &isa), MG_OK);
    if (mg_blas_core_runs("Haswell")) assert_string_equal(core, "Haswell");
    else assert_null(core);
    assert_int_equal(mg_blas_core_choose("PORTABLE", &core, &isa), MG_OK);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_known_answer),
        cmocka_unit_test(test_vs_reference),
        cmocka_unit_test(test_beta_zero_overwrites_nan),
        cmocka_unit_test(test_empty_dims),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_kernel_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
