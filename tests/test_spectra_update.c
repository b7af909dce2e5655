/* test_spectra_update.c - the O(p^2) uncentred update of spectra_update.c
 * (white box: analysis/spectra_internal.h) against one-shot dgesdd of the
 * stacked matrices: [diag(s); w^T] for diagonals that are random, graded,
 * repeated or rank-deficient and rows that are random, sparse, zero or
 * dominant; then mg_sp_svd_class on triangles against dgesdd of T and of
 * [T; v^T]; NaN input fails with MG_ERR_NUMERIC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectra_internal.h"

#include "check.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ull;

static double urand(void) /* [0, 1) */
{
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (double)(g_state >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Singular values of A (rows x p column-major, ld rows; copied) by dgesdd. */
static void ref_values(const double *A, int rows, int p, double *s)
{
    double *W = malloc((size_t)rows * p * sizeof(double));
    assert_non_null(W);
    memcpy(W, A, (size_t)rows * p * sizeof(double));
    double du = 0, dv = 0;
    assert_int_equal(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', rows, p, W, rows, s, &du, 1, &dv, 1), 0);
    free(W);
}

static void expect_values(const double *got, const double *want, int p, double tol,
                          const char *what)
{
    double s1 = want[0] > 0 ? want[0] : 1.0;
    for (int k = 0; k < p; k++) {
        if (k + 1 < p) assert_true(got[k] >= got[k + 1]); /* decreasing */
        assert_true(got[k] >= 0.0);
        assert_close(got[k], want[k], tol, s1, what, k);
    }
}

enum { DIAG_RANDOM, DIAG_GRADED, DIAG_REPEATED, DIAG_RANKDEF, N_DIAG };
enum { ROW_RANDOM, ROW_SPARSE, ROW_ZERO, ROW_DOMINANT, ROW_ONE, N_ROW };

static void make_case(int p, int dk, int rk, double *s, double *w)
{
    for (int i = 0; i < p; i++) {
        switch (dk) {
        case DIAG_RANDOM: s[i] = fabs(nrand()); break;
        case DIAG_GRADED: s[i] = pow(10.0, -8.0 + 11.0 * urand()); break;
        case DIAG_REPEATED: s[i] = (double)(1 + i % 3); break;
        default: s[i] = i % 2 ? 0.0 : 1.0 + urand(); break;
        }
        switch (rk) {
        case ROW_RANDOM: w[i] = nrand(); break;
        case ROW_SPARSE: w[i] = urand() < 0.3 ? nrand() : 0.0; break;
        case ROW_ZERO: w[i] = 0.0; break;
        case ROW_DOMINANT: w[i] = 1e4 * nrand(); break;
        default: w[i] = i == p / 2 ? 3.0 : 0.0; break;
        }
    }
}

static void test_append_row_against_dgesdd(void **state)
{
    (void)state;
    const int ps[] = {1, 2, 3, 5, 17, 64, 150};
    for (size_t pi = 0; pi < sizeof ps / sizeof ps[0]; pi++) {
        const int p = ps[pi];
        double *s = malloc(p * sizeof *s), *w = malloc(p * sizeof *w);
        double *M = malloc((size_t)(p + 1) * p * sizeof *M), *ref = malloc(p * sizeof *ref);
        double *work = malloc(3 * (size_t)p * sizeof *work);
        assert_true(s && w && M && ref && work);
        for (int dk = 0; dk < N_DIAG; dk++)
            for (int rk = 0; rk < N_ROW; rk++) {
                make_case(p, dk, rk, s, w);
                memset(M, 0, (size_t)(p + 1) * p * sizeof *M);
                for (int j = 0; j < p; j++) {
                    M[(size_t)j * (p + 1) + j] = s[j];
                    M[(size_t)j * (p + 1) + p] = w[j];
                }
                ref_values(M, p + 1, p, ref);
                assert_int_equal(mg_sp_svd_append_row(p, s, w, work), 0);
                expect_values(s, ref, p, 4e-15 * sqrt((double)p) + 1e-15, "append row");
            }
        free(s), free(w), free(M), free(ref), free(work);
    }
}

/* [diag(s); w^T] with w = 0 keeps s (sorted); one non-zero w_k lifts s_k to
 * hypot(s_k, w_k) and leaves the rest: exact answers. */
static void test_append_row_known(void **state)
{
    (void)state;
    double s[4] = {1, 4, 2, 3}, w[4] = {0, 0, 0, 0}, work[12];
    assert_int_equal(mg_sp_svd_append_row(4, s, w, work), 0);
    const double want0[4] = {4, 3, 2, 1};
    for (int k = 0; k < 4; k++) assert_close(s[k], want0[k], 1e-15, 1.0, "w = 0", k);
    double s2[4] = {1, 4, 2, 3}, w2[4] = {0, 0, 0, 12};
    assert_int_equal(mg_sp_svd_append_row(4, s2, w2, work), 0);
    const double want2[4] = {sqrt(9.0 + 144.0), 4, 2, 1};
    for (int k = 0; k < 4; k++) assert_close(s2[k], want2[k], 1e-14, 1.0, "one w", k);
}

static void test_class_against_dgesdd(void **state)
{
    (void)state;
    const int ps[] = {1, 2, 7, 40, 129};
    for (size_t pi = 0; pi < sizeof ps / sizeof ps[0]; pi++) {
        const int p = ps[pi];
        for (int rankdef = 0; rankdef < 2; rankdef++) {
            double *T = calloc((size_t)p * p, sizeof *T), *v = malloc(p * sizeof *v);
            double *S = malloc((size_t)(p + 1) * p * sizeof *S), *sc = malloc(p * sizeof *sc);
            double *su = malloc(p * sizeof *su), *rc = malloc(p * sizeof *rc);
            double *ru = malloc(p * sizeof *ru),
                   *work = malloc(MG_SP_SVD_CLASS_WORK(p) * sizeof(double));
            double *sc2 = malloc(p * sizeof *sc2);
            assert_true(T && v && S && sc && su && rc && ru && work && sc2);
            /* upper triangle; rank-deficient: the last rows zero, as for a
             * class with fewer states than dimensions */
            int rows = rankdef ? (p + 1) / 2 : p;
            for (int j = 0; j < p; j++) {
                for (int i = 0; i <= j && i < rows; i++) T[(size_t)j * p + i] = nrand();
                v[j] = 30.0 * nrand();
            }
            for (int j = 0; j < p; j++) {
                memcpy(S + (size_t)j * (p + 1), T + (size_t)j * p, p * sizeof *T);
                S[(size_t)j * (p + 1) + p] = v[j];
            }
            ref_values(T, p, p, rc);
            ref_values(S, p + 1, p, ru);
            double *T2 = malloc((size_t)p * p * sizeof *T2);
            assert_non_null(T2);
            memcpy(T2, T, (size_t)p * p * sizeof *T);
            assert_int_equal(mg_sp_svd_class(p, T, v, 1, sc, su, work, 0), MG_OK);
            expect_values(sc, rc, p, 1e-14, "class centred");
            expect_values(su, ru, p, 1e-14, "class uncentred");
            /* the centred values do not depend on whether the uncentred are asked */
            assert_int_equal(mg_sp_svd_class(p, T2, v, 0, sc2, NULL, work, 0), MG_OK);
            assert_memory_equal(sc, sc2, p * sizeof *sc);
            free(T), free(T2), free(v), free(S), free(sc), free(su), free(rc), free(ru);
            free(work), free(sc2);
        }
    }
}

static void test_nan_input(void **state)
{
    (void)state;
    enum { P = 6 };
    double s[P] = {1, 2, 3, 4, 5, 6}, w[P] = {1, 1, NAN, 1, 1, 1}, work[3 * P];
    assert_int_not_equal(mg_sp_svd_append_row(P, s, w, work), 0);
    double T[P * P] = {0}, v[P] = {0}, sc[P], su[P], cw[9 * P];
    for (int j = 0; j < P; j++) T[j * P + j] = 1.0;
    T[2 * P + 1] = NAN;
    assert_int_equal(mg_sp_svd_class(P, T, v, 1, sc, su, cw, 3), MG_ERR_NUMERIC);
    assert_non_null(strstr(mg_errmsg(), "class 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_row_known),
        cmocka_unit_test(test_append_row_against_dgesdd),
        cmocka_unit_test(test_class_against_dgesdd),
        cmocka_unit_test(test_nan_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
