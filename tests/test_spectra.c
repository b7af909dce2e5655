/* test_spectra.c - streaming per-class spectra against known answers and
 * against one-shot LAPACK SVDs of the full (centred) matrices; the rows
 * mode against the streaming mode and known answers (n_c < p and n_c >= p),
 * readout leakage from both kinds of result, and the underdetermined
 * (n < p + 1) affine fit of theory.c against a direct dgelsd. */
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

#include "spectra.h"
#include "theory.h"

#include "check.h"

static void assert_spectrum(const double *got, const double *want, int ns, double rtol,
                            const char *what)
{
    double s1 = ns > 0 ? fabs(want[0]) : 0;
    for (int k = 0; k < ns; k++) assert_close(got[k], want[k], rtol, s1, what, k);
}

/* Singular values (min(n, p), descending) of X (n x p row-major), centred on
 * its column means when centre != 0: the one-shot reference. */
static void ref_sv(const double *X, int n, int p, int centre, double *s)
{
    double *C = malloc((size_t)n * p * sizeof(double));
    assert_non_null(C);
    for (int j = 0; j < p; j++) {
        double mu = 0;
        if (centre) {
            for (int i = 0; i < n; i++) mu += X[(size_t)i * p + j];
            mu /= n;
        }
        for (int i = 0; i < n; i++) C[(size_t)j * n + i] = X[(size_t)i * p + j] - mu;
    }
    double u = 0, vt = 0;
    assert_int_equal(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', n, p, C, n, s, &u, 1, &vt, 1), 0);
    free(C);
}

/* Q (n x k, row-major) with orthonormal columns; orthogonal to the all-ones
 * vector as well when perp_ones (needs k < n). */
static void random_orthonormal(mg_rng *rng, int n, int k, int perp_ones, double *Q)
{
    int kk = k + (perp_ones ? 1 : 0);
    double *M = malloc((size_t)n * kk * sizeof(double)), tau[64];
    assert_true(kk <= 64 && kk <= n);
    for (int j = 0; j < kk; j++)
        for (int i = 0; i < n; i++)
            M[(size_t)j * n + i] = (perp_ones && j == 0) ? 1.0 : mg_rng_normal(rng);
    assert_int_equal(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, kk, M, n, tau), 0);
    assert_int_equal(LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, kk, kk, M, n, tau), 0);
    int off = perp_ones ? 1 : 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) Q[(size_t)i * k + j] = M[(size_t)(j + off) * n + i];
    free(M);
}

/* X = Q diag(s) V^T (n x p), Q n x p orthonormal (perp to 1 if asked), V p x p. */
static void make_known(mg_rng *rng, int n, int p, const double *s, int perp_ones, double *X)
{
    double *Q = malloc((size_t)n * p * sizeof(double)), *V = malloc((size_t)p * p * sizeof(double));
    random_orthonormal(rng, n, p, perp_ones, Q);
    random_orthonormal(rng, p, p, 0, V);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p; j++) {
            double v = 0;
            for (int k = 0; k < p; k++) v += Q[(size_t)i * p + k] * s[k] * V[(size_t)j * p + k];
            X[(size_t)i * p + j] = v;
        }
    free(Q);
    free(V);
}

/* The qr-stream kernel run_f64 asks for (mg_spectra_acc_use_reference). */
static int g_reference;

static mg_spectra_result *run_f64(int classes, int p, int block, const double *X, const int32_t *y,
                                  int n, int batch)
{
    mg_spectra_acc *acc;
    assert_int_equal(mg_spectra_acc_create(classes, p, block, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_use_reference(acc, g_reference), MG_OK);
    for (int i = 0; i < n; i += batch) {
        int m = n - i < batch ? n - i : batch;
        assert_int_equal(mg_spectra_acc_add_f64(acc, X + (size_t)i * p, y + i, m), MG_OK);
    }
    mg_spectra_result *r;
    assert_int_equal(mg_spectra_acc_finish(acc, &r), MG_OK);
    mg_spectra_acc_free(acc);
    return r;
}

/* ---------------------------------------------------------------- tests */

static void test_create_and_input_errors(void **state)
{
    (void)state;
    mg_spectra_acc *acc = NULL;
    assert_int_equal(mg_spectra_acc_create(0, 4, 0, &acc), MG_ERR_CONFIG);
    assert_null(acc);
    assert_int_equal(mg_spectra_acc_create(2, 0, 0, &acc), MG_ERR_CONFIG);
    assert_int_equal(mg_spectra_acc_create(2, 4, -1, &acc), MG_ERR_CONFIG);
    assert_int_equal(mg_spectra_acc_create(2, 3, 2, &acc), MG_OK);
    float X[6] = {1, 2, 3, 4, 5, 6};
    int32_t ybad[2] = {0, 2};
    assert_int_equal(mg_spectra_acc_add(acc, X, ybad, 2), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "label 2"));
    int32_t y[2] = {0, 1};
    X[4] = NAN;
    assert_int_equal(mg_spectra_acc_add(acc, X, y, 2), MG_ERR_NUMERIC);
    mg_spectra_result *r;
    assert_int_equal(mg_spectra_acc_finish(acc, &r), MG_OK);
    assert_int_equal((int)r->n, 0); /* nothing of the rejected batches went in */
    assert_int_equal(r->cls[0].ns, 0);
    assert_int_equal(r->ns_within, 0);
    mg_spectra_result_free(r);
    mg_spectra_acc_free(acc);
    assert_int_equal(mg_spectra_default_block_rows(512), 1024);
    assert_int_equal(mg_spectra_default_block_rows(2), 256);
}

/* Rows s_i e_i: uncentred singular values are the s_i themselves. */
static void test_diagonal(void **state)
{
    (void)state;
    enum { P = 6 };
    const double s[P] = {0.5, 4, 1, 5, 2, 3}; /* rows in scrambled order */
    const double want[P] = {5, 4, 3, 2, 1, 0.5};
    double X[P * P] = {0}, ref[P];
    int32_t y[P] = {0};
    for (int i = 0; i < P; i++) X[i * P + i] = s[i];
    for (int block = 1; block <= 7; block += 3) {
        mg_spectra_result *r = run_f64(1, P, block, X, y, P, 4);
        assert_int_equal(r->cls[0].ns, P);
        assert_spectrum(r->cls[0].s_uncentred, want, P, 1e-13, "diag uncentred");
        ref_sv(X, P, P, 1, ref);
        assert_spectrum(r->cls[0].s_centred, ref, P, 1e-12, "diag centred");
        assert_true(r->cls[0].s_centred[P - 1] < 1e-12); /* centred rank <= n - 1 */
        mg_spectra_result_free(r);
    }
}

/* Q diag(s) V^T with random orthogonal Q, V: known singular values to 1e-10. */
static void test_known_singular_values(void **state)
{
    (void)state;
    enum { N = 60, P = 9 };
    double s[P], X[N * P], Xo[N * P], ref[P];
    int32_t y[N] = {0};
    for (int k = 0; k < P; k++) s[k] = pow(10.0, -0.6 * k); /* 1 .. 1.6e-5 */
    mg_rng rng;
    mg_rng_seed(&rng, 11);
    /* Q orthogonal to 1: the data is already centred, both spectra are s. */
    make_known(&rng, N, P, s, 1, X);
    mg_spectra_result *r = run_f64(1, P, 7, X, y, N, 13);
    assert_spectrum(r->cls[0].s_centred, s, P, 1e-10, "known centred");
    assert_spectrum(r->cls[0].s_uncentred, s, P, 1e-10, "known uncentred");
    for (int k = 0; k < P; k++) assert_close(r->cls[0].s_centred[k], s[k], 1e-10, 0, "rel", k);
    mg_spectra_result_free(r);
    /* the same data moved by a large offset: centred spectrum unchanged */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < P; j++) Xo[i * P + j] = X[i * P + j] + 100.0 * (j + 1);
    r = run_f64(1, P, 8, Xo, y, N, 5);
    /* an absolute floor of 1e-9 x 1e-3 = 1e-12: centring entries of size
     * ~900 costs a few ulp(900) ~ 1e-13 (over 200 seeds both kernels stay
     * below 3.1e-13; this seed gives 6.7e-14 with the fast kernel) */
    for (int k = 0; k < P; k++)
        assert_close(r->cls[0].s_centred[k], s[k], 1e-9, 1e-3, "offset centred", k);
    ref_sv(Xo, N, P, 0, ref);
    assert_spectrum(r->cls[0].s_uncentred, ref, P, 1e-12, "offset uncentred");
    mg_spectra_result_free(r);
}

/* A rank-3 matrix plus an offset: centred numerical rank 3. */
static void test_rank_k(void **state)
{
    (void)state;
    enum { N = 40, P = 10, K = 3 };
    double U[N * K], V[P * K], X[N * P];
    int32_t y[N] = {0};
    mg_rng rng;
    mg_rng_seed(&rng, 5);
    for (int i = 0; i < N * K; i++) U[i] = mg_rng_normal(&rng);
    for (int i = 0; i < P * K; i++) V[i] = mg_rng_normal(&rng);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < P; j++) {
            double v = 3.0 * j - 7.0;
            for (int k = 0; k < K; k++) v += U[i * K + k] * V[j * K + k];
            X[i * P + j] = v;
        }
    mg_spectra_result *r = run_f64(1, P, 16, X, y, N, 9);
    mg_spectrum_summary sm;
    mg_spectrum_summarize(r->cls[0].s_centred, r->cls[0].ns, N, P, &sm);
    assert_int_equal(sm.rank_eps, K);
    assert_int_equal(sm.rank_1e3, K);
    assert_true(r->cls[0].s_centred[K] < 1e-12 * r->cls[0].s_centred[0]);
    /* uncentred: the offset adds one dimension */
    mg_spectrum_summarize(r->cls[0].s_uncentred, r->cls[0].ns, N, P, &sm);
    assert_int_equal(sm.rank_eps, K + 1);
    mg_spectra_result_free(r);
}

/* Many small blocks and batches of mixed classes == one-shot dgesdd of each
 * class's full (centred) matrix, for every block size; pooled spectra too. */
static void test_streaming_equals_oneshot(void **state)
{
    (void)state;
    enum { C = 3, P = 12 };
    const int cnt[C] = {37, 5, 100};
    int N = 0;
    for (int c = 0; c < C; c++) N += cnt[c];
    float *X = malloc((size_t)N * P * sizeof(float));
    int32_t *y = malloc((size_t)N * sizeof(int32_t));
    double *Xc = malloc((size_t)N * P * sizeof(double)),
           *Xall = malloc((size_t)N * P * sizeof(double));
    int *order = malloc((size_t)N * sizeof(int));
    mg_rng rng;
    mg_rng_seed(&rng, 21);
    /* class c: mean 10 (c+1) e_c-ish offsets, anisotropic spread */
    int i = 0;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < cnt[c]; t++, i++) {
            y[i] = c;
            for (int j = 0; j < P; j++)
                X[(size_t)i * P + j] = (float)((j == c ? 10.0 * (c + 1) : 1.0 + 0.1 * j) +
                                               mg_rng_normal(&rng) / (1.0 + j + c));
        }
    /* shuffle rows so batches mix classes */
    mg_rng_permutation(&rng, order, N);
    float *Xs = malloc((size_t)N * P * sizeof(float));
    int32_t *ys = malloc((size_t)N * sizeof(int32_t));
    for (int k = 0; k < N; k++) {
        memcpy(Xs + (size_t)k * P, X + (size_t)order[k] * P, P * sizeof(float));
        ys[k] = y[order[k]];
    }
    /* references: per class, from the float values in double */
    double refc[C][P], refu[C][P], refw[P], reft[P];
    int off = 0;
    for (int c = 0; c < C; c++) {
        double *Xk = Xc + (size_t)off * P;
        for (int k = 0; k < cnt[c] * P; k++) Xk[k] = X[(size_t)off * P + k];
        ref_sv(Xk, cnt[c], P, 1, refc[c]);
        ref_sv(Xk, cnt[c], P, 0, refu[c]);
        off += cnt[c];
    }
    /* pooled within: each class centred on its own mean, stacked */
    off = 0;
    for (int c = 0; c < C; c++) {
        for (int j = 0; j < P; j++) {
            double mu = 0;
            for (int t = 0; t < cnt[c]; t++) mu += Xc[(size_t)(off + t) * P + j];
            mu /= cnt[c];
            for (int t = 0; t < cnt[c]; t++)
                Xall[(size_t)(off + t) * P + j] = Xc[(size_t)(off + t) * P + j] - mu;
        }
        off += cnt[c];
    }
    ref_sv(Xall, N, P, 0, refw);
    ref_sv(Xc, N, P, 1, reft);

    const int blocks[4] = {1, 3, 16, 0};
    const int batches[4] = {7, 1, 50, 200};
    for (int b = 0; b < 4; b++) {
        mg_spectra_acc *acc;
        assert_int_equal(mg_spectra_acc_create(C, P, blocks[b], &acc), MG_OK);
        for (int k = 0; k < N; k += batches[b]) {
            int m = N - k < batches[b] ? N - k : batches[b];
            assert_int_equal(mg_spectra_acc_add(acc, Xs + (size_t)k * P, ys + k, m), MG_OK);
        }
        mg_spectra_result *r;
        assert_int_equal(mg_spectra_acc_finish(acc, &r), MG_OK);
        assert_int_equal((int)r->n, N);
        for (int c = 0; c < C; c++) {
            int ns = cnt[c] < P ? cnt[c] : P;
            assert_int_equal((int)r->cls[c].n, cnt[c]);
            assert_int_equal(r->cls[c].ns, ns);
            assert_spectrum(r->cls[c].s_centred, refc[c], ns, 1e-11, "stream centred");
            assert_spectrum(r->cls[c].s_uncentred, refu[c], ns, 1e-11, "stream uncentred");
        }
        assert_int_equal(r->ns_within, P);
        assert_spectrum(r->s_within, refw, P, 1e-11, "stream within");
        assert_spectrum(r->s_total, reft, P, 1e-11, "stream total");
        mg_spectra_result_free(r);
        mg_spectra_acc_free(acc);
    }
    free(X);
    free(y);
    free(Xc);
    free(Xall);
    free(order);
    free(Xs);
    free(ys);
}

/* X^T X = Xc^T Xc + n mu mu^T: sums of squares and interlacing. */
static void test_centred_uncentred_relation(void **state)
{
    (void)state;
    enum { N = 30, P = 7 };
    double X[N * P];
    int32_t y[N] = {0};
    mg_rng rng;
    mg_rng_seed(&rng, 8);
    for (int i = 0; i < N * P; i++)
        X[i] = mg_rng_normal(&rng) * (1 + i % P) + (i % P == 2 ? 4.0 : 0.5);
    mg_spectra_result *r = run_f64(1, P, 4, X, y, N, 6);
    const mg_class_spectrum *cs = &r->cls[0];
    double su = 0, sc = 0, mm = 0;
    for (int k = 0; k < P; k++) {
        su += cs->s_uncentred[k] * cs->s_uncentred[k];
        sc += cs->s_centred[k] * cs->s_centred[k];
        mm += cs->mean[k] * cs->mean[k];
    }
    assert_close(su, sc + N * mm, 1e-12, 0, "sum of squares", 0);
    for (int k = 0; k < P; k++) {
        assert_true(cs->s_uncentred[k] >= cs->s_centred[k] * (1 - 1e-12));
        if (k + 1 < P) assert_true(cs->s_centred[k] >= cs->s_uncentred[k + 1] * (1 - 1e-12));
    }
    /* the mean is the data's mean; R^T R is the centred scatter (trace) */
    double tr = 0;
    for (int k = 0; k < P * P; k++) tr += cs->R[k] * cs->R[k];
    assert_close(tr, sc, 1e-12, 0, "trace R^T R", 0);
    for (int j = 0; j < P; j++) {
        double mu = 0;
        for (int i = 0; i < N; i++) mu += X[i * P + j];
        assert_close(cs->mean[j], mu / N, 1e-13, 1, "mean", j);
    }
    mg_spectra_result_free(r);
}

/* Two classes of two points each with hand-computable spectra. */
static void test_pooled_known(void **state)
{
    (void)state;
    enum { P = 4 };
    const double a = 3, b = 2, c = 5;
    /* class 0: c e3 +- a e1; class 1: -c e3 +- b e2 (0-based: e0, e1, e2) */
    double X[4 * P] = {0};
    int32_t y[4] = {0, 1, 0, 1};
    X[0 * P + 0] = a, X[0 * P + 2] = c;
    X[2 * P + 0] = -a, X[2 * P + 2] = c;
    X[1 * P + 1] = b, X[1 * P + 2] = -c;
    X[3 * P + 1] = -b, X[3 * P + 2] = -c;
    mg_spectra_result *r = run_f64(2, P, 1, X, y, 4, 3);
    const double w0c[2] = {sqrt(2) * a, 0}, w0u[2] = {sqrt(2) * c, sqrt(2) * a};
    const double w1c[2] = {sqrt(2) * b, 0}, w1u[2] = {sqrt(2) * c, sqrt(2) * b};
    const double ww[P] = {sqrt(2) * a, sqrt(2) * b, 0, 0},
                 wt[P] = {2 * c, sqrt(2) * a, sqrt(2) * b, 0};
    assert_int_equal(r->cls[0].ns, 2);
    assert_spectrum(r->cls[0].s_centred, w0c, 2, 1e-13, "class 0 centred");
    assert_spectrum(r->cls[0].s_uncentred, w0u, 2, 1e-13, "class 0 uncentred");
    assert_spectrum(r->cls[1].s_centred, w1c, 2, 1e-13, "class 1 centred");
    assert_spectrum(r->cls[1].s_uncentred, w1u, 2, 1e-13, "class 1 uncentred");
    assert_spectrum(r->s_within, ww, P, 1e-13, "within");
    assert_spectrum(r->s_total, wt, P, 1e-13, "total");
    for (int j = 0; j < P; j++) assert_close(r->mean[j], 0.0, 1e-15, 1, "overall mean", j);
    assert_close(r->cls[0].mean[2], c, 1e-15, 1, "class mean", 2);
    mg_spectra_result_free(r);
}

/* n_c < p, n_c = 1 and n_c = 0. */
static void test_small_classes(void **state)
{
    (void)state;
    enum { P = 8 };
    double X[4 * P], ref[P];
    int32_t y[4] = {0, 0, 2, 0};
    mg_rng rng;
    mg_rng_seed(&rng, 3);
    for (int i = 0; i < 4 * P; i++) X[i] = mg_rng_normal(&rng);
    for (int block = 1; block <= 9; block += 8) {
        mg_spectra_result *r = run_f64(3, P, block, X, y, 4, 2);
        double X0[3 * P];
        memcpy(X0, X, 2 * P * sizeof(double));
        memcpy(X0 + 2 * P, X + 3 * P, P * sizeof(double));
        assert_int_equal(r->cls[0].ns, 3);
        ref_sv(X0, 3, P, 1, ref);
        assert_spectrum(r->cls[0].s_centred, ref, 3, 1e-12, "n<p centred");
        assert_true(r->cls[0].s_centred[2] < 1e-12 * r->cls[0].s_centred[0]);
        ref_sv(X0, 3, P, 0, ref);
        assert_spectrum(r->cls[0].s_uncentred, ref, 3, 1e-12, "n<p uncentred");
        assert_int_equal(r->cls[1].ns, 0);
        assert_int_equal((int)r->cls[1].n, 0);
        assert_int_equal(r->cls[2].ns, 1);
        double nrm = 0;
        for (int j = 0; j < P; j++) nrm += X[2 * P + j] * X[2 * P + j];
        assert_close(r->cls[2].s_uncentred[0], sqrt(nrm), 1e-13, 0, "single row", 0);
        assert_true(r->cls[2].s_centred[0] < 1e-14);
        assert_int_equal(r->ns_within, 4);
        mg_spectra_result_free(r);
    }
}

/* finish, add more, finish again == everything at once. */
static void test_finish_then_continue(void **state)
{
    (void)state;
    enum { N = 50, P = 5 };
    double X[N * P];
    int32_t y[N];
    mg_rng rng;
    mg_rng_seed(&rng, 4);
    for (int i = 0; i < N * P; i++) X[i] = mg_rng_normal(&rng) + (i % 3);
    for (int i = 0; i < N; i++) y[i] = i % 2;
    mg_spectra_acc *acc;
    assert_int_equal(mg_spectra_acc_create(2, P, 6, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_add_f64(acc, X, y, 17), MG_OK);
    mg_spectra_result *r1, *r2, *r3;
    assert_int_equal(mg_spectra_acc_finish(acc, &r1), MG_OK);
    assert_int_equal((int)r1->n, 17);
    assert_int_equal(mg_spectra_acc_add_f64(acc, X + 17 * P, y + 17, N - 17), MG_OK);
    assert_int_equal(mg_spectra_acc_finish(acc, &r2), MG_OK);
    r3 = run_f64(2, P, 100, X, y, N, N);
    for (int c = 0; c < 2; c++) {
        assert_spectrum(r2->cls[c].s_centred, r3->cls[c].s_centred, P, 1e-12, "continue centred");
        assert_spectrum(r2->cls[c].s_uncentred, r3->cls[c].s_uncentred, P, 1e-12,
                        "continue uncentred");
    }
    assert_spectrum(r2->s_total, r3->s_total, P, 1e-12, "continue total");
    mg_spectra_result_free(r1);
    mg_spectra_result_free(r2);
    mg_spectra_result_free(r3);
    mg_spectra_acc_free(acc);
}

/* ---------------------------------------------------------------- fast vs reference kernels */

/* The accumulator of run_kernel: classes x p float states (class mean +
 * rank-5 signal with scales 10 .. 1e-3 + noise 1e-4), fed in batches of 37
 * mixed rows with block rows `block`, by the fast (reference = 0) or the
 * reference kernel; drop_row >= 0 leaves that row out. */
static unsigned g_parts = MG_SPECTRA_ALL; /* run_kernel's mg_spectra_acc_set_parts */

static mg_spectra_result *run_kernel(int reference, int classes, int p, int block, int n,
                                     int drop_row)
{
    float *X = malloc(sizeof(float) * (size_t)n * p);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    assert_true(X && y);
    mg_rng rng;
    mg_rng_seed(&rng, 77);
    enum { K = 5 };
    double basis[K * 64];
    assert_true(p <= 64);
    for (int i = 0; i < K * p; i++) basis[i] = mg_rng_normal(&rng);
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)mg_rng_below(&rng, (uint32_t)classes);
        for (int j = 0; j < p; j++) {
            double v = 2.0 * y[i] + 0.1 * j + 1e-4 * mg_rng_normal(&rng);
            for (int k = 0; k < K; k++)
                v += pow(10.0, 1 - k) * mg_rng_normal(&rng) * basis[k * p + j] / 8;
            X[(size_t)i * p + j] = (float)v;
        }
    }
    int m = 0; /* drop a row: move the rest up */
    for (int i = 0; i < n; i++) {
        if (i == drop_row) continue;
        memmove(X + (size_t)m * p, X + (size_t)i * p, sizeof(float) * (size_t)p);
        y[m++] = y[i];
    }
    mg_spectra_acc *acc;
    assert_int_equal(mg_spectra_acc_create(classes, p, block, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_use_reference(acc, reference), MG_OK);
    assert_int_equal(mg_spectra_acc_set_parts(acc, g_parts), MG_OK);
    for (int i = 0; i < m; i += 37) {
        int b = m - i < 37 ? m - i : 37;
        assert_int_equal(mg_spectra_acc_add(acc, X + (size_t)i * p, y + i, b), MG_OK);
    }
    mg_spectra_result *r;
    assert_int_equal(mg_spectra_acc_finish(acc, &r), MG_OK);
    mg_spectra_acc_free(acc);
    free(X);
    free(y);
    return r;
}

/* Largest |a - b| / s_1 over every spectrum, |mean difference| / max |mean|
 * and the scatter R^T R (relative to s_1^2) of two results of the same shape. */
static double result_gap(const mg_spectra_result *a, const mg_spectra_result *b)
{
    double gap = 0;
    const int p = a->p;
    assert_int_equal(a->classes, b->classes);
    assert_int_equal((int)a->n, (int)b->n);
    for (int c = 0; c < a->classes + 2; c++) {
        const double *sa[2], *sb[2];
        int ns;
        if (c < a->classes) {
            assert_int_equal(a->cls[c].ns, b->cls[c].ns);
            ns = a->cls[c].ns;
            sa[0] = a->cls[c].s_centred, sb[0] = b->cls[c].s_centred;
            sa[1] = a->cls[c].s_uncentred, sb[1] = b->cls[c].s_uncentred;
        } else {
            ns = c == a->classes ? a->ns_within : a->ns_total;
            sa[0] = sa[1] = c == a->classes ? a->s_within : a->s_total;
            sb[0] = sb[1] = c == a->classes ? b->s_within : b->s_total;
        }
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < ns; k++) gap = fmax(gap, fabs(sa[t][k] - sb[t][k]) / sb[t][0]);
        if (c >= a->classes || a->cls[c].n == 0) continue;
        double mmax = 0, s1 = a->cls[c].s_centred[0];
        for (int j = 0; j < p; j++) mmax = fmax(mmax, fabs(b->cls[c].mean[j]));
        for (int j = 0; j < p; j++)
            gap = fmax(gap, fabs(a->cls[c].mean[j] - b->cls[c].mean[j]) / mmax);
        for (int i = 0; i < p; i++) /* R^T R: the rows' signs may differ */
            for (int j = 0; j < p; j++) {
                double ga = 0, gb = 0;
                for (int k = 0; k < p; k++) {
                    ga += a->cls[c].R[(size_t)k * p + i] * a->cls[c].R[(size_t)k * p + j];
                    gb += b->cls[c].R[(size_t)k * p + i] * b->cls[c].R[(size_t)k * p + j];
                }
                gap = fmax(gap, fabs(ga - gb) / (s1 * s1));
            }
    }
    return gap;
}

/* The fast kernel (two streams, dtpqrt updates, stream merge, tree merge,
 * SVDs on two workers) agrees with the reference to rounding for several
 * block sizes, with 1 and 2 threads; and the comparison can fail: one row
 * fewer is caught. */
static void test_fast_equals_reference(void **state)
{
    (void)state;
    const int blocks[3] = {7, 16, 64};
    for (int t = 1; t <= 2; t++) {
        mg_set_threads(t);
        for (int b = 0; b < 3; b++) {
            mg_spectra_result *ref = run_kernel(1, 3, 24, blocks[b], 900, -1);
            mg_spectra_result *fast = run_kernel(0, 3, 24, blocks[b], 900, -1);
            double gap = result_gap(fast, ref);
            if (!(gap <= 1e-12)) print_error("block %d threads %d: gap %.3g\n", blocks[b], t, gap);
            assert_true(gap <= 1e-12);
            mg_spectra_result_free(fast);
            mg_spectra_result_free(ref);
        }
    }
    mg_set_threads(1);
    /* the check can fail: the same data without row 500 */
    mg_spectra_result *ref = run_kernel(1, 3, 24, 16, 900, -1);
    mg_spectra_result *fast = run_kernel(0, 3, 24, 16, 900, 500);
    assert_int_equal((int)fast->n, 899);
    fast->n = ref->n; /* compare the values, not the count */
    assert_true(result_gap(fast, ref) > 1e-6);
    mg_spectra_result_free(fast);
    mg_spectra_result_free(ref);
}

static int same_bits(const mg_spectra_result *a, const mg_spectra_result *b)
{
    const int p = a->p;
    int same = memcmp(a->s_within, b->s_within, sizeof(double) * (size_t)a->ns_within) == 0 &&
               memcmp(a->s_total, b->s_total, sizeof(double) * (size_t)a->ns_total) == 0 &&
               memcmp(a->mean, b->mean, sizeof(double) * (size_t)p) == 0;
    for (int c = 0; c < a->classes; c++) {
        const mg_class_spectrum *x = &a->cls[c], *z = &b->cls[c];
        same = same && x->ns == z->ns &&
               memcmp(x->s_centred, z->s_centred, sizeof(double) * (size_t)x->ns) == 0 &&
               memcmp(x->s_uncentred, z->s_uncentred, sizeof(double) * (size_t)x->ns) == 0 &&
               memcmp(x->R, z->R, sizeof(double) * (size_t)p * p) == 0 &&
               memcmp(x->mean, z->mean, sizeof(double) * (size_t)p) == 0;
    }
    return same;
}

/* Bit-identical: the fast kernel run to run and with 1 or 2 threads (the
 * split of the work never depends on either); and with data that never
 * fills a block, the fast kernel is the reference to the bit (what keeps
 * the small-data fixtures of tests/regress). */
static void test_fast_bit_identical(void **state)
{
    (void)state;
    mg_set_threads(2);
    mg_spectra_result *a = run_kernel(0, 4, 20, 32, 700, -1);
    mg_spectra_result *b = run_kernel(0, 4, 20, 32, 700, -1);
    mg_set_threads(1);
    mg_spectra_result *c = run_kernel(0, 4, 20, 32, 700, -1);
    assert_true(same_bits(a, b));
    assert_true(same_bits(a, c));
    mg_spectra_result *d = run_kernel(1, 4, 20, 32, 700, -1);
    assert_false(same_bits(a, d)); /* the kernels differ in rounding here */
    mg_spectra_result_free(a);
    mg_spectra_result_free(b);
    mg_spectra_result_free(c);
    mg_spectra_result_free(d);
    /* 4 classes x < 256 rows, block 256: no block fills */
    a = run_kernel(0, 4, 20, 256, 700, -1);
    b = run_kernel(1, 4, 20, 256, 700, -1);
    assert_true(same_bits(a, b));
    mg_spectra_result_free(a);
    mg_spectra_result_free(b);
    /* the kernel is chosen before the first row only */
    mg_spectra_acc *acc;
    float x[20] = {0};
    int32_t y = 0;
    assert_int_equal(mg_spectra_acc_create(1, 20, 0, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_add(acc, x, &y, 1), MG_OK);
    assert_int_equal(mg_spectra_acc_use_reference(acc, 1), MG_ERR_CONFIG);
    mg_spectra_acc_free(acc);
}

static int all_nan(const double *v, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += isnan(v[i]) != 0;
    return n > 0 && k == n;
}

/* Parts: what is asked for is bit-identical to the full finish, the rest is
 * NaN, with the fast kernel (blocks filled) and the reference (they don't). */
static void test_parts(void **state)
{
    (void)state;
    mg_set_threads(2);
    const unsigned masks[] = {MG_SPECTRA_CENTRED, MG_SPECTRA_UNCENTRED, MG_SPECTRA_POOLED,
                              MG_SPECTRA_CENTRED | MG_SPECTRA_POOLED};
    for (int ref = 0; ref < 2; ref++) {
        for (int block = 32; block <= 256; block += 224) {
            g_parts = MG_SPECTRA_ALL;
            mg_spectra_result *full = run_kernel(ref, 4, 20, block, 700, -1);
            for (size_t k = 0; k < sizeof masks / sizeof *masks; k++) {
                g_parts = masks[k];
                mg_spectra_result *r = run_kernel(ref, 4, 20, block, 700, -1);
                for (int c = 0; c < 4; c++) {
                    const mg_class_spectrum *a = &r->cls[c], *b = &full->cls[c];
                    assert_int_equal(a->ns, b->ns);
                    assert_true(a->ns > 0);
                    assert_memory_equal(a->R, b->R, sizeof(double) * 20 * 20);
                    assert_memory_equal(a->mean, b->mean, sizeof(double) * 20);
                    if (masks[k] & MG_SPECTRA_CENTRED)
                        assert_memory_equal(a->s_centred, b->s_centred, sizeof(double) * a->ns);
                    else
                        assert_true(all_nan(a->s_centred, a->ns));
                    if (masks[k] & MG_SPECTRA_UNCENTRED)
                        assert_memory_equal(a->s_uncentred, b->s_uncentred, sizeof(double) * a->ns);
                    else
                        assert_true(all_nan(a->s_uncentred, a->ns));
                }
                if (masks[k] & MG_SPECTRA_POOLED) {
                    assert_memory_equal(r->s_within, full->s_within, sizeof(double) * r->ns_within);
                    assert_memory_equal(r->s_total, full->s_total, sizeof(double) * r->ns_total);
                } else {
                    assert_true(all_nan(r->s_within, r->ns_within));
                    assert_true(all_nan(r->s_total, r->ns_total));
                }
                mg_spectra_result_free(r);
            }
            mg_spectra_result_free(full);
        }
    }
    g_parts = MG_SPECTRA_ALL;
    mg_spectra_acc *acc;
    assert_int_equal(mg_spectra_acc_create(2, 4, 0, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_set_parts(acc, 0), MG_ERR_CONFIG);
    assert_int_equal(mg_spectra_acc_set_parts(acc, 8), MG_ERR_CONFIG);
    assert_int_equal(mg_spectra_acc_set_parts(acc, MG_SPECTRA_ALL), MG_OK);
    mg_spectra_acc_free(acc);
}

static void test_summary_hand(void **state)
{
    (void)state;
    mg_spectrum_summary sm;
    const double s2[2] = {4, 3};
    mg_spectrum_summarize(s2, 2, 10, 2, &sm);
    assert_close(sm.s1, 4, 1e-15, 0, "s1", 0);
    assert_close(sm.rest, 3, 1e-15, 0, "rest", 0);
    assert_close(sm.sum_sq, 25, 1e-15, 0, "sum_sq", 0);
    double q0 = 4.0 / 7, q1 = 3.0 / 7;
    assert_close(sm.effective_rank, exp(-(q0 * log(q0) + q1 * log(q1))), 1e-14, 0, "erank", 0);
    assert_close(sm.participation_ratio, 625.0 / 337.0, 1e-14, 0, "pr", 0);
    assert_close(sm.stable_rank, 25.0 / 16.0, 1e-14, 0, "stable", 0);
    assert_close(sm.s1_per_sqrt_n, 4 / sqrt(10), 1e-14, 0, "s1/sqrt(n)", 0);
    assert_int_equal(sm.k90, 2); /* 16/25 = 0.64 < 0.9 */
    assert_int_equal(sm.k99, 2);
    assert_int_equal(sm.rank_eps, 2);

    const double s9[3] = {9, 3, 1}; /* s^2: 81, 9, 1 of 91: 0.890, 0.989, 1 */
    mg_spectrum_summarize(s9, 3, 3, 3, &sm);
    assert_int_equal(sm.k90, 2);
    assert_int_equal(sm.k95, 2);
    assert_int_equal(sm.k99, 3);

    double eq[10];
    for (int k = 0; k < 10; k++) eq[k] = 2.5;
    mg_spectrum_summarize(eq, 10, 100, 10, &sm);
    assert_close(sm.effective_rank, 10, 1e-13, 0, "equal erank", 0);
    assert_close(sm.participation_ratio, 10, 1e-13, 0, "equal pr", 0);
    assert_close(sm.stable_rank, 10, 1e-13, 0, "equal stable", 0);
    assert_int_equal(sm.k90, 9); /* exactly 90% at k = 9 (rounding absorbed) */
    assert_int_equal(sm.k95, 10);
    assert_int_equal(sm.rank_1e2, 10);

    /* ranks: tol = 1 * max(10, 10) * FLT_EPSILON = 1.19e-6 */
    const double sr[5] = {1, 1e-1, pow(10, -2.5), 1e-4, 1e-9};
    mg_spectrum_summarize(sr, 5, 10, 10, &sm);
    assert_close(sm.tol, 10 * 1.1920928955078125e-07, 1e-15, 0, "tol", 0);
    assert_int_equal(sm.rank_eps, 4);
    assert_int_equal(sm.rank_1e2, 2);
    assert_int_equal(sm.rank_1e3, 3);

    const double z[3] = {0, 0, 0};
    mg_spectrum_summarize(z, 3, 5, 3, &sm);
    assert_int_equal(sm.rank_eps, 0);
    assert_true(sm.effective_rank == 0 && sm.stable_rank == 0 && sm.k90 == 0);
    mg_spectrum_summarize(NULL, 0, 0, 3, &sm);
    assert_int_equal(sm.ns, 0);

    double rel[2], psn[2];
    mg_spectrum_normalize(s2, 2, 4, rel, psn);
    assert_close(rel[1], 0.75, 1e-15, 0, "rel", 1);
    assert_close(psn[0], 2.0, 1e-15, 0, "per sqrt n", 0);
    mg_spectrum_normalize(s2, 2, 4, NULL, psn); /* NULL allowed */
}

/* ---------------------------------------------------------------- rows mode */

static mg_spectra_result *run_mode(mg_spectra_mode mode, int classes, int p, int cap,
                                   const float *X, const int32_t *y, int n, int batch)
{
    mg_spectra_config cfg = mg_spectra_config_default();
    cfg.mode = mode;
    cfg.max_rows_per_class = cap;
    mg_spectra_acc *acc;
    assert_int_equal(mg_spectra_acc_create_cfg(classes, p, &cfg, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_mode(acc), mode);
    for (int i = 0; i < n; i += batch) {
        int m = n - i < batch ? n - i : batch;
        assert_int_equal(mg_spectra_acc_add(acc, X + (size_t)i * p, y + i, m), MG_OK);
    }
    mg_spectra_result *r;
    assert_int_equal(mg_spectra_acc_finish(acc, &r), MG_OK);
    mg_spectra_acc_free(acc);
    assert_int_equal(r->mode, mode);
    return r;
}

static void test_rows_mode_choice(void **state)
{
    (void)state;
    mg_spectra_config cfg = mg_spectra_config_default();
    /* classes * p^2 * 8 bytes against 512 MiB */
    assert_int_equal(mg_spectra_choose_mode(10, 12544, &cfg), MG_SPECTRA_ROWS);
    assert_int_equal(mg_spectra_choose_mode(10, 3136, &cfg), MG_SPECTRA_ROWS);
    assert_int_equal(mg_spectra_choose_mode(10, 2048, NULL), MG_SPECTRA_QR_STREAM);
    assert_int_equal(mg_spectra_choose_mode(10, 784, &cfg), MG_SPECTRA_QR_STREAM);
    cfg.budget_bytes = 2304; /* = 2 * 12^2 * 8: rows only above it */
    assert_int_equal(mg_spectra_choose_mode(2, 12, &cfg), MG_SPECTRA_QR_STREAM);
    assert_int_equal(mg_spectra_choose_mode(2, 13, &cfg), MG_SPECTRA_ROWS);
    cfg.budget_bytes = 2303;
    assert_int_equal(mg_spectra_choose_mode(2, 12, &cfg), MG_SPECTRA_ROWS);
    /* capped rows: fewer rows in all than dimensions */
    cfg = mg_spectra_config_default();
    cfg.max_rows_per_class = 50;
    assert_int_equal(mg_spectra_choose_mode(10, 1024, &cfg), MG_SPECTRA_ROWS);
    cfg.max_rows_per_class = 200;
    assert_int_equal(mg_spectra_choose_mode(10, 1024, &cfg), MG_SPECTRA_QR_STREAM);
    cfg.mode = MG_SPECTRA_ROWS;
    assert_int_equal(mg_spectra_choose_mode(10, 4, &cfg), MG_SPECTRA_ROWS);
    cfg.mode = MG_SPECTRA_QR_STREAM;
    assert_int_equal(mg_spectra_choose_mode(10, 20000, &cfg), MG_SPECTRA_QR_STREAM);
    assert_string_equal(mg_spectra_mode_name(MG_SPECTRA_ROWS), "rows");
    assert_string_equal(mg_spectra_mode_name(MG_SPECTRA_QR_STREAM), "qr-stream");
    assert_string_equal(mg_spectra_mode_name(MG_SPECTRA_AUTO), "auto");

    mg_spectra_acc *acc = NULL;
    cfg = mg_spectra_config_default();
    cfg.max_rows_per_class = -1;
    assert_int_equal(mg_spectra_acc_create_cfg(2, 4, &cfg, &acc), MG_ERR_CONFIG);
    assert_null(acc);
    cfg.max_rows_per_class = 0;
    cfg.block_rows = -2;
    assert_int_equal(mg_spectra_acc_create_cfg(2, 4, &cfg, &acc), MG_ERR_CONFIG);
    cfg.block_rows = 0;
    cfg.mode = (mg_spectra_mode)7;
    assert_int_equal(mg_spectra_acc_create_cfg(2, 4, &cfg, &acc), MG_ERR_CONFIG);
    assert_int_equal(mg_spectra_acc_create_cfg(0, 4, NULL, &acc), MG_ERR_CONFIG);
    assert_int_equal(mg_spectra_acc_create_cfg(2, 4, NULL, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_mode(acc), MG_SPECTRA_QR_STREAM);
    mg_spectra_acc_free(acc);
    /* the wide layer of a convolutional stage: rows, and nothing big allocated */
    assert_int_equal(mg_spectra_acc_create_cfg(10, 12544, NULL, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_mode(acc), MG_SPECTRA_ROWS);
    mg_spectra_acc_free(acc);
}

/* Anisotropic float data with class offsets; rows shuffled across classes. */
static void make_classes(mg_rng *rng, int C, const int *cnt, int P, float **Xout, int32_t **yout,
                         int *Nout)
{
    int N = 0;
    for (int c = 0; c < C; c++) N += cnt[c];
    float *X = malloc((size_t)N * P * sizeof(float) + 1);
    int32_t *y = malloc((size_t)N * sizeof(int32_t) + 1);
    int *order = malloc((size_t)N * sizeof(int) + 1);
    assert_true(X && y && order);
    mg_rng_permutation(rng, order, N);
    int i = 0;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < cnt[c]; t++, i++) {
            int k = order[i];
            y[k] = c;
            for (int j = 0; j < P; j++)
                X[(size_t)k * P + j] = (float)((j % (c + 2) == 0 ? 3.0 * (c + 1) : 0.5) +
                                               mg_rng_normal(rng) * 2.0 / (1.0 + 0.05 * j));
        }
    free(order);
    *Xout = X;
    *yout = y;
    *Nout = N;
}

/* The rows of class c (in arrival order) as a double matrix. */
static double *class_rows(const float *X, const int32_t *y, int N, int P, int c, int *nc)
{
    int m = 0;
    for (int i = 0; i < N; i++) m += y[i] == c;
    double *A = malloc((size_t)(m ? m : 1) * P * sizeof(double));
    assert_non_null(A);
    m = 0;
    for (int i = 0; i < N; i++)
        if (y[i] == c) {
            for (int j = 0; j < P; j++) A[(size_t)m * P + j] = X[(size_t)i * P + j];
            m++;
        }
    *nc = m;
    return A;
}

static void compare_results(const mg_spectra_result *a, const mg_spectra_result *b, double rtol)
{
    assert_int_equal(a->classes, b->classes);
    assert_int_equal((int)a->n, (int)b->n);
    for (int c = 0; c < a->classes; c++) {
        const mg_class_spectrum *x = &a->cls[c], *z = &b->cls[c];
        assert_int_equal((int)x->n, (int)z->n);
        assert_int_equal(x->ns, z->ns);
        assert_spectrum(x->s_centred, z->s_centred, x->ns, rtol, "modes centred");
        assert_spectrum(x->s_uncentred, z->s_uncentred, x->ns, rtol, "modes uncentred");
        for (int j = 0; j < a->p; j++)
            assert_close(x->mean[j], z->mean[j], 1e-12, 1, "modes class mean", j);
    }
    assert_int_equal(a->ns_within, b->ns_within);
    assert_int_equal(a->ns_total, b->ns_total);
    assert_spectrum(a->s_within, b->s_within, a->ns_within, rtol, "modes within");
    assert_spectrum(a->s_total, b->s_total, a->ns_total, rtol, "modes total");
    for (int j = 0; j < a->p; j++) assert_close(a->mean[j], b->mean[j], 1e-12, 1, "modes mean", j);
}

/* p = 300: rows mode == qr-stream mode, for classes with n_c < p and
 * n_c >= p and pooled spectra through the streamed row-space QR (N > p),
 * then for small classes whose pooled matrix is decomposed as one
 * p x (N + C') transpose (N + C' <= p), against one-shot SVDs too.  The
 * readout leakage of both kinds of result agrees. */
static void test_rows_equals_stream(void **state)
{
    (void)state;
    enum { P = 300 };
    mg_rng rng;
    mg_rng_seed(&rng, 77);
    const int cnt_a[3] = {180, 260, 330}, cnt_b[4] = {40, 60, 0, 25};
    const int *cnts[2] = {cnt_a, cnt_b};
    const int Cs[2] = {3, 4};
    double W[4 * P];
    for (int k = 0; k < 4 * P; k++) W[k] = mg_rng_normal(&rng);
    for (int t = 0; t < 2; t++) {
        const int C = Cs[t];
        float *X;
        int32_t *y;
        int N;
        make_classes(&rng, C, cnts[t], P, &X, &y, &N);
        mg_spectra_result *rs = run_mode(MG_SPECTRA_QR_STREAM, C, P, 0, X, y, N, 97);
        mg_spectra_result *rr = run_mode(MG_SPECTRA_ROWS, C, P, 0, X, y, N, 53);
        compare_results(rr, rs, 1e-10);
        for (int c = 0; c < C; c++) {
            assert_non_null(rs->cls[c].R);
            assert_null(rs->cls[c].rows);
            assert_null(rr->cls[c].R);
            assert_true(rr->cls[c].n == 0 || rr->cls[c].rows != NULL);
            assert_int_equal((int)rr->cls[c].n_skipped, 0);
        }
        /* against one-shot SVDs of every class and of the pooled matrices */
        double *ref = malloc(sizeof(double) * P);
        double *Xw = malloc(sizeof(double) * (size_t)N * P),
               *Xt = malloc(sizeof(double) * (size_t)N * P);
        assert_true(ref && Xw && Xt);
        int off = 0;
        for (int c = 0; c < C; c++) {
            int nc;
            double *A = class_rows(X, y, N, P, c, &nc);
            if (nc > 0) {
                ref_sv(A, nc, P, 1, ref);
                assert_spectrum(rr->cls[c].s_centred, ref, rr->cls[c].ns, 1e-10, "rows centred");
                ref_sv(A, nc, P, 0, ref);
                assert_spectrum(rr->cls[c].s_uncentred, ref, rr->cls[c].ns, 1e-10,
                                "rows uncentred");
                for (int i = 0; i < nc; i++)
                    for (int j = 0; j < P; j++) {
                        Xw[(size_t)(off + i) * P + j] = A[(size_t)i * P + j] - rr->cls[c].mean[j];
                        Xt[(size_t)(off + i) * P + j] = A[(size_t)i * P + j];
                    }
            }
            off += nc;
            free(A);
        }
        ref_sv(Xw, N, P, 0, ref);
        assert_spectrum(rr->s_within, ref, rr->ns_within, 1e-10, "rows within");
        ref_sv(Xt, N, P, 1, ref);
        assert_spectrum(rr->s_total, ref, rr->ns_total, 1e-10, "rows total");
        /* leakage: ||W E^T||^2 / ||E||^2 from R (stream) and from rows */
        double per_s[4], per_r[4], ls, lr;
        assert_int_equal(mg_readout_leakage(rs, W, 4, per_s, &ls), MG_OK);
        assert_int_equal(mg_readout_leakage(rr, W, 4, per_r, &lr), MG_OK);
        assert_true(ls > 0 && isfinite(ls));
        assert_close(lr, ls, 1e-10, 0, "leakage", t);
        for (int c = 0; c < C; c++) {
            if (rr->cls[c].n < 2) {
                assert_true(isnan(per_r[c]) && isnan(per_s[c]));
                continue;
            }
            assert_close(per_r[c], per_s[c], 1e-10, 0, "leakage per class", c);
        }
        free(ref);
        free(Xw);
        free(Xt);
        mg_spectra_result_free(rs);
        mg_spectra_result_free(rr);
        free(X);
        free(y);
    }
}

/* Rows mode with n_c < p, known answers: rows s_i e_{3i} (uncentred
 * singular values exactly the s_i), and X = U diag(s) V^T + offset with U
 * orthogonal to 1 (centred singular values s, then zeros). */
static void test_rows_known_wide(void **state)
{
    (void)state;
    enum { P = 64, N0 = 6, N1 = 12, K = 5 };
    const float s0[N0] = {0.5f, 4, 1, 5, 2, 3};
    const double want0[N0] = {5, 4, 3, 2, 1, 0.5};
    const double s1[K] = {8, 4, 2, 1, 1e-3};
    double U[N1 * K], V[P * K], X1[N1 * P], ref[P];
    float X[(N0 + N1) * P];
    int32_t y[N0 + N1];
    memset(X, 0, sizeof X);
    for (int i = 0; i < N0; i++) {
        X[(size_t)i * P + 3 * i] = s0[i];
        y[i] = 0;
    }
    mg_rng rng;
    mg_rng_seed(&rng, 5);
    random_orthonormal(&rng, N1, K, 1, U);
    random_orthonormal(&rng, P, K, 0, V);
    for (int i = 0; i < N1; i++) {
        y[N0 + i] = 2;
        for (int j = 0; j < P; j++) {
            double v = 0.25 * j - 3.0;
            for (int k = 0; k < K; k++) v += U[i * K + k] * s1[k] * V[j * K + k];
            X[(size_t)(N0 + i) * P + j] = (float)v;
            X1[i * P + j] = (float)v; /* the float values, as stored */
        }
    }
    mg_spectra_result *r = run_mode(MG_SPECTRA_ROWS, 3, P, 0, X, y, N0 + N1, 5);
    assert_int_equal(r->cls[0].ns, N0);
    assert_spectrum(r->cls[0].s_uncentred, want0, N0, 1e-14, "rows diag uncentred");
    assert_true(r->cls[0].s_centred[N0 - 1] < 1e-13); /* centred rank <= n - 1 */
    assert_int_equal(r->cls[1].ns, 0);
    assert_int_equal(r->cls[2].ns, N1);
    /* float rounding of the stored rows limits the known answer to ~1e-6 */
    for (int k = 0; k < K; k++)
        assert_close(r->cls[2].s_centred[k], s1[k], 1e-6, s1[0], "known", k);
    for (int k = K; k < N1; k++) assert_true(r->cls[2].s_centred[k] < 1e-5);
    ref_sv(X1, N1, P, 1, ref); /* exact against the stored values */
    assert_spectrum(r->cls[2].s_centred, ref, N1, 1e-11, "rows known centred");
    ref_sv(X1, N1, P, 0, ref);
    assert_spectrum(r->cls[2].s_uncentred, ref, N1, 1e-12, "rows known uncentred");
    assert_int_equal(r->ns_within, N0 + N1);
    mg_spectrum_summary sm;
    mg_spectrum_summarize(r->cls[2].s_centred, r->cls[2].ns, N1, P, &sm);
    assert_int_equal(sm.rank_1e2, 4); /* 1e-3 is below 1e-2 s1 */
    assert_int_equal(sm.rank_eps, K);
    mg_spectra_result_free(r);
}

/* The per-class cap, input errors (nothing added), finish-then-continue. */
static void test_rows_cap_and_errors(void **state)
{
    (void)state;
    enum { P = 7, N = 40 };
    float X[N * P];
    int32_t y[N];
    mg_rng rng;
    mg_rng_seed(&rng, 9);
    for (int i = 0; i < N * P; i++) X[i] = (float)(mg_rng_normal(&rng) + (i % P));
    for (int i = 0; i < N; i++) y[i] = (i % 5 == 0) ? 1 : 0; /* class 1: 8 rows */
    mg_spectra_config cfg = mg_spectra_config_default();
    cfg.mode = MG_SPECTRA_ROWS;
    cfg.max_rows_per_class = 10;
    mg_spectra_acc *acc;
    assert_int_equal(mg_spectra_acc_create_cfg(2, P, &cfg, &acc), MG_OK);
    int32_t ybad[2] = {0, 2};
    assert_int_equal(mg_spectra_acc_add(acc, X, ybad, 2), MG_ERR_CONFIG);
    float Xn[2 * P];
    memcpy(Xn, X, sizeof Xn);
    Xn[P + 3] = INFINITY;
    assert_int_equal(mg_spectra_acc_add(acc, Xn, y, 2), MG_ERR_NUMERIC);
    double big[P] = {0, 1e300};
    assert_int_equal(mg_spectra_acc_add_f64(acc, big, y, 1), MG_ERR_NUMERIC);
    assert_non_null(strstr(mg_errmsg(), "float"));
    mg_spectra_result *r1, *r2;
    assert_int_equal(mg_spectra_acc_finish(acc, &r1), MG_OK);
    assert_int_equal((int)r1->n, 0);
    assert_int_equal(r1->ns_within, 0);
    mg_spectra_result_free(r1);
    /* 17 rows now (class 0: 13 of which 10 kept), the rest after a finish */
    assert_int_equal(mg_spectra_acc_add(acc, X, y, 17), MG_OK);
    assert_int_equal(mg_spectra_acc_finish(acc, &r1), MG_OK);
    assert_int_equal((int)r1->cls[0].n, 10);
    assert_int_equal((int)r1->cls[0].n_skipped, 3);
    assert_int_equal((int)r1->cls[1].n, 4);
    assert_int_equal(mg_spectra_acc_add(acc, X + 17 * P, y + 17, N - 17), MG_OK);
    assert_int_equal(mg_spectra_acc_finish(acc, &r2), MG_OK);
    assert_int_equal((int)r2->cls[0].n, 10);
    assert_int_equal((int)r2->cls[0].n_skipped, 32 - 10);
    assert_int_equal((int)r2->cls[1].n, 8);
    assert_int_equal((int)r2->n, 18);
    /* == the first 10 rows of class 0 and all of class 1 in qr-stream mode */
    float Xk[18 * P];
    int32_t yk[18];
    int m = 0, n0 = 0;
    for (int i = 0; i < N; i++) {
        if (y[i] == 0 && n0++ >= 10) continue;
        memcpy(Xk + m * P, X + i * P, P * sizeof(float));
        yk[m++] = y[i];
    }
    assert_int_equal(m, 18);
    mg_spectra_result *r3 = run_mode(MG_SPECTRA_QR_STREAM, 2, P, 0, Xk, yk, m, 4);
    compare_results(r2, r3, 1e-12);
    int nc;
    double *A0 = class_rows(Xk, yk, m, P, 0, &nc); /* the rows kept, in order */
    assert_int_equal(nc, 10);
    for (int k = 0; k < 10 * P; k++) assert_true(r2->cls[0].rows[k] == (float)A0[k]);
    free(A0);
    mg_spectra_result_free(r1);
    mg_spectra_result_free(r2);
    mg_spectra_result_free(r3);
    mg_spectra_acc_free(acc);
}

/* n < p + 1: the QR-of-the-transpose path of mg_affine_fit against dgelsd
 * on [h 1] itself (minimum-norm B, same rank and residual); a duplicated
 * state with two labels gives the known residual 1. */
static void test_affine_fit_underdetermined(void **state)
{
    (void)state;
    enum { N = 12, P = 30, D = 3, P1 = P + 1 };
    double h[N * P], A[N * P1], Bref[P1 * D], B[P1 * D], sv[N];
    int32_t y[N];
    mg_rng rng;
    mg_rng_seed(&rng, 13);
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < N * P; i++) h[i] = mg_rng_normal(&rng) + 0.3 * (i % P);
        for (int i = 0; i < N; i++) y[i] = i % D;
        if (t == 1) { /* rows 0 and 1 identical, labels 0 and 1 */
            memcpy(h + P, h, P * sizeof(double));
            y[0] = 0;
            y[1] = 1;
        }
        /* reference: dgelsd on the column-major N x P1 matrix [h 1] */
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < P; j++) A[(size_t)j * N + i] = h[i * P + j];
            A[(size_t)P * N + i] = 1.0;
        }
        memset(Bref, 0, sizeof Bref);
        for (int k = 0; k < D; k++)
            for (int i = 0; i < N; i++) Bref[(size_t)k * P1 + i] = (y[i] == k);
        lapack_int rank = 0;
        double rcond = 1e-10;
        assert_int_equal(
            LAPACKE_dgelsd(LAPACK_COL_MAJOR, N, P1, D, A, N, Bref, P1, sv, rcond, &rank), 0);
        mg_affine_fit_info info;
        assert_int_equal(mg_affine_fit_f64(h, N, P, y, D, rcond, B, &info), MG_OK);
        assert_int_equal(info.underdetermined, 1);
        assert_int_equal(info.rank, (int)rank);
        assert_int_equal(info.rank, t == 0 ? N : N - 1);
        double bmax = 0;
        for (int k = 0; k < P1 * D; k++) bmax = fmax(bmax, fabs(Bref[k]));
        assert_true(bmax > 0.01); /* a non-trivial solution */
        for (int j = 0; j < P1; j++)
            for (int k = 0; k < D; k++)
                assert_close(B[j * D + k], Bref[(size_t)k * P1 + j], 1e-9, bmax, "min-norm B",
                             j * D + k);
        if (t == 0)
            assert_true(info.resid < 1e-10);
        else
            assert_close(info.resid, 1.0, 1e-10, 0, "duplicate residual", 0);
    }
    /* float states take the same path */
    float hf[N * P];
    for (int i = 0; i < N * P; i++) hf[i] = (float)h[i];
    mg_affine_fit_info info;
    assert_int_equal(mg_affine_fit_f32(hf, N, P, y, D, -1.0, B, &info), MG_OK);
    assert_int_equal(info.underdetermined, 1);
    assert_int_equal(info.n, N);
    assert_int_equal(info.p, P);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_input_errors),
        cmocka_unit_test(test_diagonal),
        cmocka_unit_test(test_known_singular_values),
        cmocka_unit_test(test_rank_k),
        cmocka_unit_test(test_streaming_equals_oneshot),
        cmocka_unit_test(test_centred_uncentred_relation),
        cmocka_unit_test(test_pooled_known),
        cmocka_unit_test(test_small_classes),
        cmocka_unit_test(test_finish_then_continue),
        cmocka_unit_test(test_fast_equals_reference),
        cmocka_unit_test(test_fast_bit_identical),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_summary_hand),
        cmocka_unit_test(test_rows_mode_choice),
        cmocka_unit_test(test_rows_equals_stream),
        cmocka_unit_test(test_rows_known_wide),
        cmocka_unit_test(test_rows_cap_and_errors),
        cmocka_unit_test(test_affine_fit_underdetermined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
