/* test_compare.c - CKA, TwoNN and the adaptive ECE (analysis/compare.h):
 * known answers.
 *  - CKA(X, X Q) = 1 for an orthogonal Q, CKA(X, c X + 1 m^T) = 1 (scale and
 *    shift), linear and debiased, feature and Gram forms;
 *  - the Gram form, the feature form in one pass and in many column blocks
 *    (a tiny budget) give the same numbers, and they equal a direct double
 *    computation of Kornblith's formulas (compare.h);
 *  - debiased CKA of independent Gaussian matrices: |value| < 0.02 at n =
 *    2000 (linear CKA is biased upwards there: ~0.03);
 *  - TwoNN of points uniform in a d-dimensional subspace of R^50: d within 10%
 *    for d = 2, 5, 10 on a sphere, and in a cube for d = 2, 5 (20% for d = 10:
 *    the cube's boundary biases the estimator); duplicates dropped and
 *    counted; the fit's convention on hand-made ratios;
 *  - adaptive ECE: equal-mass bins (sizes differ by at most one), 0 for a
 *    perfectly calibrated sample in the limit (< 0.01 at n = 200000), the
 *    value of a hand-made example; bad sizes are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "check.h"
#include "compare.h"

/* close to b within rtol relative (absolute below 1) */
#define near(a, b, rtol) assert_close((a), (b), (rtol), 1.0, #a, __LINE__)

static float *gauss(mg_rng *r, int n, int p)
{
    float *x = malloc(sizeof(float) * (size_t)n * p);
    assert_non_null(x);
    for (size_t i = 0; i < (size_t)n * p; i++) x[i] = (float)mg_rng_normal(r);
    return x;
}

/* Kornblith's formulas directly, in double. */
static void reference(const float *X, int p, const float *Y, int q, int n, double *cka,
                      double *dcka)
{
    double *xc = malloc(sizeof(double) * (size_t)n * p), *yc = malloc(sizeof(double) * (size_t)n * q);
    assert_non_null(xc);
    assert_non_null(yc);
    for (int j = 0; j < p; j++) {
        double m = 0;
        for (int i = 0; i < n; i++) m += X[(size_t)i * p + j];
        for (int i = 0; i < n; i++) xc[(size_t)i * p + j] = X[(size_t)i * p + j] - m / n;
    }
    for (int j = 0; j < q; j++) {
        double m = 0;
        for (int i = 0; i < n; i++) m += Y[(size_t)i * q + j];
        for (int i = 0; i < n; i++) yc[(size_t)i * q + j] = Y[(size_t)i * q + j] - m / n;
    }
    const double *A[2] = {xc, yc};
    int w[2] = {p, q};
    double f[2][2], rr[2][2], nn[2];
    for (int a = 0; a < 2; a++) {
        nn[a] = 0;
        for (size_t e = 0; e < (size_t)n * w[a]; e++) nn[a] += A[a][e] * A[a][e];
    }
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            double s = 0;
            for (int j = 0; j < w[a]; j++)
                for (int k = 0; k < w[b]; k++) {
                    double g = 0;
                    for (int i = 0; i < n; i++)
                        g += A[a][(size_t)i * w[a] + j] * A[b][(size_t)i * w[b] + k];
                    s += g * g;
                }
            f[a][b] = s;
            double r = 0;
            for (int i = 0; i < n; i++) {
                double sa = 0, sb = 0;
                for (int j = 0; j < w[a]; j++) sa += A[a][(size_t)i * w[a] + j] * A[a][(size_t)i * w[a] + j];
                for (int j = 0; j < w[b]; j++) sb += A[b][(size_t)i * w[b] + j] * A[b][(size_t)i * w[b] + j];
                r += sa * sb;
            }
            rr[a][b] = r;
        }
    *cka = f[0][1] / sqrt(f[0][0] * f[1][1]);
    double u[2][2];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            u[a][b] = f[a][b] - (double)n / (n - 2) * rr[a][b] + nn[a] * nn[b] / ((n - 1.0) * (n - 2.0));
    *dcka = u[0][1] / sqrt(u[0][0] * u[1][1]);
    free(xc);
    free(yc);
}

static void test_cka_forms_agree(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 3);
    const int n = 60, p = 7, q = 5;
    float *X = gauss(&r, n, p), *Y = gauss(&r, n, q);
    for (int i = 0; i < n; i++) /* some shared signal */
        for (int j = 0; j < q; j++) Y[(size_t)i * q + j] += 0.7f * X[(size_t)i * p + j] + 3.0f;
    double c, dc;
    reference(X, p, Y, q, n, &c, &dc);
    mg_cka_result a, b, g;
    assert_int_equal(mg_cka_f32(X, p, Y, q, n, 0, &a), MG_OK);
    assert_int_equal(a.gram, 0);
    assert_int_equal(a.passes, 2);
    near(a.cka, c, 1e-12);
    near(a.cka_debiased, dc, 1e-12);
    /* many column blocks: 4 doubles of accumulators per feature row... */
    assert_int_equal(mg_cka_f32(X, p, Y, q, n, 2 * 8 * (p + q) * 3, &b), MG_OK);
    assert_true(b.passes > 3);
    near(b.cka, c, 1e-12);
    near(b.cka_debiased, dc, 1e-12);
    /* fewer examples than features: the Gram form */
    const int n2 = 9, p2 = 12, q2 = 20;
    float *X2 = gauss(&r, n2, p2), *Y2 = gauss(&r, n2, q2);
    for (int i = 0; i < n2; i++)
        for (int j = 0; j < p2; j++) Y2[(size_t)i * q2 + j] += X2[(size_t)i * p2 + j];
    reference(X2, p2, Y2, q2, n2, &c, &dc);
    assert_int_equal(mg_cka_f32(X2, p2, Y2, q2, n2, 0, &g), MG_OK);
    assert_int_equal(g.gram, 1);
    near(g.cka, c, 1e-12);
    near(g.cka_debiased, dc, 1e-11);
    /* the Gram form in column blocks (a budget just above the Gram matrices) */
    assert_int_equal(mg_cka_f32(X2, p2, Y2, q2, n2, 2 * 8 * n2 * n2 + 8 * n2 * 3, &g), MG_OK);
    assert_int_equal(g.gram, 1);
    assert_true(g.passes > 3);
    near(g.cka, c, 1e-12);
    free(X);
    free(Y);
    free(X2);
    free(Y2);
}

static void test_cka_invariances(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 5);
    const int n = 200, p = 16;
    float *X = gauss(&r, n, p), *Y = malloc(sizeof(float) * n * p), *Z = malloc(sizeof(float) * n * p);
    assert_non_null(Y);
    assert_non_null(Z);
    /* an orthogonal Q: a product of Givens rotations */
    double *Q = calloc((size_t)p * p, sizeof(double));
    assert_non_null(Q);
    for (int i = 0; i < p; i++) Q[i * p + i] = 1;
    for (int k = 0; k < 40; k++) {
        int a = (int)mg_rng_below(&r, p), b = (int)mg_rng_below(&r, p);
        if (a == b) continue;
        double t = mg_rng_uniform(&r) * 6.283, cs = cos(t), sn = sin(t);
        for (int i = 0; i < p; i++) {
            double u = Q[i * p + a], v = Q[i * p + b];
            Q[i * p + a] = cs * u - sn * v;
            Q[i * p + b] = sn * u + cs * v;
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p; j++) {
            double s = 0;
            for (int k = 0; k < p; k++) s += X[(size_t)i * p + k] * Q[k * p + j];
            Y[(size_t)i * p + j] = (float)s;
            Z[(size_t)i * p + j] = 2.5f * X[(size_t)i * p + j] + (float)(j - 4);
        }
    mg_cka_result a;
    assert_int_equal(mg_cka_f32(X, p, Y, p, n, 0, &a), MG_OK);
    near(a.cka, 1.0, 1e-6);
    near(a.cka_debiased, 1.0, 1e-6);
    assert_int_equal(mg_cka_f32(X, p, Z, p, n, 0, &a), MG_OK);
    near(a.cka, 1.0, 1e-6);
    near(a.cka_debiased, 1.0, 1e-6);
    assert_int_equal(mg_cka_f32(X, p, X, p, n, 0, &a), MG_OK);
    near(a.cka, 1.0, 1e-12);
    free(X);
    free(Y);
    free(Z);
    free(Q);
}

static void test_cka_independent(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 11);
    const int n = 2000, p = 64, q = 48;
    float *X = gauss(&r, n, p), *Y = gauss(&r, n, q);
    mg_cka_result a;
    assert_int_equal(mg_cka_f32(X, p, Y, q, n, 0, &a), MG_OK);
    assert_true(fabs(a.cka_debiased) < 0.02);
    assert_true(a.cka > 0.01); /* the bias the debiased form removes (~sqrt(p q) / n) */
    free(X);
    free(Y);
}

static void test_cka_errors(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, NAN, 5, 6}, y[6] = {1, 2, 3, 4, 5, 6};
    mg_cka_result a;
    assert_int_equal(mg_cka_f32(x, 1, y, 1, 1, 0, &a), MG_ERR_CONFIG);
    assert_int_equal(mg_cka_f32(x, 2, y, 2, 3, 0, &a), MG_ERR_FORMAT);
    assert_non_null(strstr(mg_errmsg(), "row 1"));
    assert_int_equal(mg_cka_f32(y, 2, y, 2, 3, 8, &a), MG_ERR_NOMEM);
}

/* n points in a d-dimensional subspace of R^50 (a random basis B, d x 50):
 * uniform in the unit cube of the subspace (sphere = 0), or uniform on the
 * unit sphere S^d of a (d+1)-dimensional subspace (sphere = 1). */
static float *subspace_points(mg_rng *r, int n, int d, int sphere)
{
    const int p = 50, k = d + sphere;
    float *B = gauss(r, k, p), *X = malloc(sizeof(float) * (size_t)n * p);
    assert_non_null(X);
    for (int i = 0; i < n; i++) {
        double u[16], nu = 0;
        for (int j = 0; j < k; j++) {
            u[j] = sphere ? mg_rng_normal(r) : mg_rng_uniform(r);
            nu += u[j] * u[j];
        }
        for (int j = 0; j < k && sphere; j++) u[j] /= sqrt(nu);
        for (int j = 0; j < p; j++) {
            double s = 0;
            for (int t = 0; t < k; t++) s += u[t] * B[(size_t)t * p + j];
            X[(size_t)i * p + j] = (float)s;
        }
    }
    free(B);
    return X;
}

/* The known answer: d within 10% for d = 2, 5, 10.  On the sphere
 * (no boundary) that holds; in a cube the boundary biases TwoNN downwards as
 * d grows (numpy's implementation of the same estimator gives 8.56 for d = 10
 * at n = 2000): within 10% for d = 2 and 5, 20% for d = 10. */
static void test_twonn_subspace(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 7);
    const int n = 2000, p = 50;
    const int dims[3] = {2, 5, 10};
    for (int sphere = 0; sphere < 2; sphere++)
        for (int t = 0; t < 3; t++) {
            int d = dims[t];
            float *X = subspace_points(&r, n, d, sphere);
            mg_twonn_result tr;
            assert_int_equal(mg_twonn_f32(X, n, p, 0.1, &tr, NULL), MG_OK);
            assert_int_equal(tr.n, n);
            assert_int_equal(tr.n_duplicate, 0);
            assert_int_equal(tr.n_fit, (int)floor(n * 0.9));
            double tol = sphere || d < 10 ? 0.1 : 0.2;
            if (!(fabs(tr.d - d) <= tol * d))
                print_error("TwoNN %s d = %d: %.4f\n", sphere ? "sphere" : "cube", d, tr.d);
            assert_true(fabs(tr.d - d) <= tol * d);
            free(X);
        }
}

static void test_twonn_fit_convention(void **state)
{
    (void)state;
    /* mu_(i) = (1 - i/N)^(-1/d) is exactly the ECDF's quantile: the fit
     * through the origin returns d whatever the discarded fraction */
    const int N = 100;
    double mu[100];
    for (int i = 0; i < N; i++) mu[i] = pow(1.0 - (double)(i + 1) / N, -1.0 / 3.0);
    mu[N - 1] = 1e300; /* the last one is never in the fit */
    mg_twonn_result tr;
    assert_int_equal(mg_twonn_fit(mu, N, 0.0, &tr), MG_OK);
    assert_int_equal(tr.n_fit, N - 1);
    near(tr.d, 3.0, 1e-12);
    assert_int_equal(mg_twonn_fit(mu, N, 0.5, &tr), MG_OK);
    assert_int_equal(tr.n_fit, 50);
    near(tr.d, 3.0, 1e-12);
    assert_int_equal(mg_twonn_fit(mu, N, 1.0, &tr), MG_ERR_CONFIG);
    /* duplicates: r1 = 0 points are dropped and counted */
    float X[5 * 2] = {0, 0, 0, 0, 1, 0, 0, 2, 3, 3};
    double m[5];
    assert_int_equal(mg_twonn_f32(X, 5, 2, 0.0, &tr, m), MG_OK);
    assert_int_equal(tr.n_duplicate, 2);
    assert_true(isnan(m[0]) && isnan(m[1]));
    /* (1,0): both nearest are the duplicated origin, r2 / r1 = 1; (3,3): r1 =
     * |(3,3)-(1,0)| = sqrt(13), r2 = |(3,3)-(0,2)| = sqrt(10) < sqrt(13)... */
    near(m[2], 1.0, 1e-12);
    near(m[4], sqrt(13.0) / sqrt(10.0), 1e-12);
}

static void test_adaptive_ece(void **state)
{
    (void)state;
    /* hand-made: 4 examples, 2 bins of 2 */
    double conf[4] = {0.9, 0.6, 0.8, 0.7};
    unsigned char ok[4] = {1, 0, 1, 1};
    mg_reliability_bin rel[2];
    double ece, mce;
    assert_int_equal(mg_adaptive_ece(conf, ok, 4, 2, &ece, &mce, rel), MG_OK);
    /* bin 0: 0.6, 0.7 -> conf 0.65, acc 0.5; bin 1: 0.8, 0.9 -> 0.85, 1 */
    near(rel[0].conf, 0.65, 1e-15);
    near(rel[0].acc, 0.5, 1e-15);
    near(rel[1].conf, 0.85, 1e-15);
    near(ece, 0.5 * 0.15 + 0.5 * 0.15, 1e-15);
    near(mce, 0.15, 1e-15);
    /* equal mass: 10 examples in 3 bins -> 3, 3, 4 */
    double c10[10];
    unsigned char o10[10] = {0};
    for (int i = 0; i < 10; i++) c10[i] = 0.5 + 0.01 * i;
    mg_reliability_bin r3[3];
    assert_int_equal(mg_adaptive_ece(c10, o10, 10, 3, &ece, NULL, r3), MG_OK);
    assert_int_equal(r3[0].count, 3);
    assert_int_equal(r3[1].count, 3);
    assert_int_equal(r3[2].count, 4);
    /* perfectly calibrated: correct with probability conf */
    mg_rng r;
    mg_rng_seed(&r, 2);
    const int n = 200000;
    double *c = malloc(sizeof(double) * n);
    unsigned char *k = malloc((size_t)n);
    assert_non_null(c);
    assert_non_null(k);
    for (int i = 0; i < n; i++) {
        c[i] = 0.5 + 0.5 * mg_rng_uniform(&r);
        k[i] = mg_rng_uniform(&r) < c[i];
    }
    assert_int_equal(mg_adaptive_ece(c, k, n, 15, &ece, NULL, NULL), MG_OK);
    assert_true(ece < 0.01);
    free(c);
    free(k);
    assert_int_equal(mg_adaptive_ece(conf, ok, 0, 2, &ece, NULL, NULL), MG_ERR_CONFIG);
    assert_int_equal(mg_adaptive_ece(conf, ok, 4, 0, &ece, NULL, NULL), MG_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cka_forms_agree),    cmocka_unit_test(test_cka_invariances),
        cmocka_unit_test(test_cka_independent),    cmocka_unit_test(test_cka_errors),
        cmocka_unit_test(test_twonn_subspace),     cmocka_unit_test(test_twonn_fit_convention),
        cmocka_unit_test(test_adaptive_ece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
