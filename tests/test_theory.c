/* test_theory.c - Theorem 1 / Corollary 1: affine label fits, mixup error,
 * leakage, affine dimension, the proof construction, and the idealised
 * minimisation of J (closed form vs quadrature, finite-difference gradients,
 * known optimum values). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "theory.h"

#include "check.h"

static void test_corollary_dims(void **state)
{
    (void)state;
    assert_int_equal(mg_corollary1_dim(2, 2), 1); /* 2-D bottleneck, 2 classes: a line */
    assert_int_equal(mg_corollary1_dim(12, 10), 3);
    assert_int_equal(mg_corollary1_dim(30, 10), 21);
    assert_int_equal(mg_corollary1_dim(9, 10), 0); /* dim = d - 1: a point */
    assert_int_equal(mg_corollary1_dim(3, 10), 0);
    assert_true(mg_theorem1_applies(9, 10));
    assert_false(mg_theorem1_applies(8, 10));
}

/* A^T H + b 1^T = I for dim >= d-1; best residual sqrt(d-1-dim) below. */
static void test_construction(void **state)
{
    (void)state;
    for (int d = 2; d <= 7; d++)
        for (int dim = 1; dim <= 9; dim++) {
            double A[9 * 7], H[9 * 7], b[7], rmax, rfro, svd;
            assert_int_equal(mg_theory_construct(d, dim, A, H, b, &rmax, &rfro), MG_OK);
            /* recompute from the returned matrices */
            double mx = 0, fro = 0;
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) {
                    double v = b[i] - (i == j);
                    for (int a = 0; a < dim; a++) v += A[a * d + i] * H[a * d + j];
                    mx = fmax(mx, fabs(v));
                    fro += v * v;
                }
            assert_close(sqrt(fro), rfro, 1e-12, 1, "fro", dim);
            assert_close(mx, rmax, 1e-12, 1, "max", dim);
            double want = mg_theory_best_residual(d, dim);
            assert_close(want, sqrt(fmax(0, d - 1 - dim)), 1e-15, 0, "closed form", dim);
            assert_int_equal(mg_theory_best_residual_svd(d, dim, &svd), MG_OK);
            assert_close(svd, want, 1e-12, 1, "svd bound", dim);
            if (dim >= d - 1)
                assert_true(rmax < 1e-12);
            else
                assert_close(rfro, want, 1e-12, 0, "attains bound", dim);
        }
    double rm;
    assert_int_equal(mg_theory_construct(1, 3, NULL, NULL, NULL, &rm, NULL), MG_ERR_CONFIG);
}

/* Separable data built like the proof: class c at vertex e_c (c < d-1) or 0,
 * plus arbitrary values in extra (null-space) coordinates: exact fit. */
static void test_affine_fit_exact(void **state)
{
    (void)state;
    enum { D = 4, P = 6, N = 40 };
    float hf[N * P];
    double hd[N * P], B[(P + 1) * D];
    int32_t y[N];
    mg_rng rng;
    mg_rng_seed(&rng, 9);
    for (int i = 0; i < N; i++) {
        y[i] = (int32_t)((i * 7) % D);
        for (int j = 0; j < P; j++) {
            double v = j < D - 1 ? (double)(y[i] == j) : (float)mg_rng_normal(&rng);
            hf[i * P + j] = (float)v;
            hd[i * P + j] = v;
        }
    }
    mg_affine_fit_info info;
    assert_int_equal(mg_affine_fit_f32(hf, N, P, y, D, -1.0, B, &info), MG_OK);
    assert_true(info.resid_rel < 1e-12);
    assert_int_equal(info.rank, P + 1);
    /* f(h) = y on every point (checked independently of the fit's residual) */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) {
            double z = B[P * D + k];
            for (int j = 0; j < P; j++) z += hd[i * P + j] * B[j * D + k];
            assert_close(z, (double)(y[i] == k), 1e-10, 1, "f(h)", i);
        }
    assert_int_equal(mg_affine_fit_f64(hd, N, P, y, D, -1.0, B, &info), MG_OK);
    assert_true(info.resid_rel < 1e-12);
    const double lams[5] = {0, 0.25, 0.5, 0.8, 1};
    double per[5], mean;
    assert_int_equal(mg_affine_mixup_error_f32(hf, N, P, y, D, B, lams, 5, 500, &rng, per, &mean),
                     MG_OK);
    assert_true(mean < 1e-20);
    assert_int_equal(mg_affine_mixup_error_f64(hd, N, P, y, D, B, lams, 5, 500, &rng, NULL, &mean),
                     MG_OK);
    assert_true(mean < 1e-20);
    int32_t ybad[N];
    memcpy(ybad, y, sizeof y);
    ybad[3] = D;
    assert_int_equal(mg_affine_fit_f64(hd, N, P, ybad, D, -1.0, B, &info), MG_ERR_CONFIG);
}

/* d = 3 classes on a line (h = 0, 1, 2): best residual sqrt(1/3) of ||Y||;
 * the mixup error of that map matches its closed form. */
static void test_affine_fit_known_residual(void **state)
{
    (void)state;
    enum { D = 3, M = 10, N = D * M };
    double h[N], B[2 * D];
    int32_t y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % D;
        h[i] = y[i];
    }
    mg_affine_fit_info info;
    /* many blocks: n larger than the 512-row QR block */
    assert_int_equal(mg_affine_fit_f64(h, N, 1, y, D, -1.0, B, &info), MG_OK);
    assert_close(info.resid_rel, sqrt(1.0 / 3.0), 1e-12, 0, "resid", 0);
    assert_close(B[0], -0.5, 1e-12, 1, "slope 0", 0); /* column 0: 1/3 - (h - 1)/2 */
    assert_close(B[D + 0], 5.0 / 6.0, 1e-12, 1, "bias 0", 0);
    assert_close(B[1], 0.0, 1e-12, 1, "slope 1", 0);
    /* E over i != j of |lam r_i + (1-lam) r_j|^2 with sum r = 0 and Q/n = 1/3:
     * (lam^2 + (1-lam)^2) / 3 - 2 lam (1-lam) / (3 (n-1)) */
    const double lams[3] = {0, 0.5, 1};
    double per[3], mean;
    mg_rng rng;
    mg_rng_seed(&rng, 77);
    assert_int_equal(mg_affine_mixup_error_f64(h, N, 1, y, D, B, lams, 3, 60000, &rng, per, &mean),
                     MG_OK);
    for (int g = 0; g < 3; g++) {
        double l = lams[g];
        double want = (l * l + (1 - l) * (1 - l)) / 3.0 - 2 * l * (1 - l) / (3.0 * (N - 1));
        assert_close(per[g], want, 0.03, 0, "mixup error", g);
    }
    assert_close(mean, (per[0] + per[1] + per[2]) / 3, 1e-12, 0, "mean", 0);

    /* a big n: streaming QR over several blocks agrees with the small one */
    enum { NB = 1500 };
    double *hb = malloc(NB * sizeof(double));
    int32_t *yb = malloc(NB * sizeof(int32_t));
    for (int i = 0; i < NB; i++) {
        yb[i] = i % D;
        hb[i] = yb[i];
    }
    assert_int_equal(mg_affine_fit_f64(hb, NB, 1, yb, D, -1.0, B, &info), MG_OK);
    assert_close(info.resid_rel, sqrt(1.0 / 3.0), 1e-12, 0, "resid big", 0);
    free(hb);
    free(yb);
}

static mg_spectra_result *spectra_of(const double *X, const int32_t *y, int n, int p, int classes)
{
    mg_spectra_acc *acc;
    mg_spectra_result *r;
    assert_int_equal(mg_spectra_acc_create(classes, p, 3, &acc), MG_OK);
    assert_int_equal(mg_spectra_acc_add_f64(acc, X, y, n), MG_OK);
    assert_int_equal(mg_spectra_acc_finish(acc, &r), MG_OK);
    mg_spectra_acc_free(acc);
    return r;
}

static void test_leakage(void **state)
{
    (void)state;
    enum { C = 3, P = 5, N = 30 };
    double X[N * P];
    int32_t y[N];
    mg_rng rng;
    mg_rng_seed(&rng, 12);
    /* within-class variation only in coordinates 2..4; means use 0..1 */
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        X[i * P + 0] = 0.5 * y[i];
        X[i * P + 1] = y[i] == 1 ? 3.0 : -1.0;
        for (int j = 2; j < P; j++) X[i * P + j] = mg_rng_normal(&rng) * (j - 1);
    }
    mg_spectra_result *r = spectra_of(X, y, N, P, C);
    double W[2 * P] = {1, 2, 0, 0, 0, -3, 0.5, 0, 0, 0}, leak, per[C];
    assert_int_equal(mg_readout_leakage(r, W, 2, per, &leak), MG_OK);
    assert_true(leak < 1e-28);
    for (int c = 0; c < C; c++) assert_true(per[c] < 1e-28);
    double I[P * P] = {0};
    for (int j = 0; j < P; j++) I[j * P + j] = 1;
    assert_int_equal(mg_readout_leakage(r, I, P, NULL, &leak), MG_OK);
    assert_close(leak, 1.0, 1e-13, 0, "identity", 0);
    /* W = e_3^T: the fraction of within-class variance in coordinate 3 */
    double E3[P] = {0, 0, 0, 1, 0}, num = 0, den = 0;
    for (int c = 0; c < C; c++) {
        double mu[P] = {0};
        int cnt = 0;
        for (int i = 0; i < N; i++)
            if (y[i] == c) {
                cnt++;
                for (int j = 0; j < P; j++) mu[j] += X[i * P + j];
            }
        for (int j = 0; j < P; j++) mu[j] /= cnt;
        for (int i = 0; i < N; i++)
            if (y[i] == c)
                for (int j = 0; j < P; j++) {
                    double e = X[i * P + j] - mu[j];
                    den += e * e;
                    if (j == 3) num += e * e;
                }
    }
    assert_int_equal(mg_readout_leakage(r, E3, 1, NULL, &leak), MG_OK);
    assert_close(leak, num / den, 1e-12, 0, "e3 fraction", 0);

    /* affine dimension of the three class means (non-collinear): 2 */
    mg_spectrum_summary sm;
    double s[C];
    assert_int_equal(mg_class_means_affine_dim(r, s, &sm), MG_OK);
    assert_int_equal(sm.rank_eps, 2);
    mg_spectra_result_free(r);
}

static void test_affine_dim(void **state)
{
    (void)state;
    /* four points on a line in R^5: affine dimension 1 */
    double L[4 * 5], S[4 * 5] = {0}, s[4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) L[i * 5 + j] = 1.0 + j + 0.7 * i * (j - 2);
    mg_spectrum_summary sm;
    assert_int_equal(mg_affine_dim(L, 4, 5, s, &sm), MG_OK);
    assert_int_equal(sm.rank_eps, 1);
    assert_int_equal(sm.rank_1e3, 1);
    /* simplex vertices e_0..e_3 in R^5: affine dimension 3, equal values */
    for (int i = 0; i < 4; i++) S[i * 5 + i] = 1;
    assert_int_equal(mg_affine_dim(S, 4, 5, s, &sm), MG_OK);
    assert_int_equal(sm.rank_eps, 3);
    assert_close(s[0], 1.0, 1e-14, 0, "simplex s", 0);
    assert_close(s[2], 1.0, 1e-14, 0, "simplex s", 2);
    assert_true(s[3] < 1e-15);
}

/* Gauss-Legendre, 5 points on [0, 1]: exact for polynomials of degree <= 9. */
static const double GL_X[5] = {0.046910077030668, 0.230765344947158, 0.5, 0.769234655052842,
                               0.953089922969332};
static const double GL_W[5] = {0.118463442528095, 0.239314335249683, 0.284444444444444,
                               0.239314335249683, 0.118463442528095};

static void random_params(mg_rng *rng, int n, int dim, int d, double *h, double *A, double *b)
{
    for (int k = 0; k < n * dim; k++) h[k] = mg_rng_normal(rng);
    for (int k = 0; k < dim * d; k++) A[k] = mg_rng_normal(rng);
    for (int k = 0; k < d; k++) b[k] = 0.3 * mg_rng_normal(rng);
}

/* The closed-form lambda integral of the squared loss against quadrature of
 * the definition, over all pairs, for Beta(alpha, alpha) with integer alpha. */
static void test_objective_closed_form(void **state)
{
    (void)state;
    enum { N = 6, D = 3, DIM = 2 };
    double h[N * DIM], A[DIM * D], b[D];
    mg_rng rng;
    mg_rng_seed(&rng, 31);
    random_params(&rng, N, DIM, D, h, A, b);
    mg_theory_config c = mg_theory_config_default();
    c.d = D;
    c.n = N;
    for (int alpha = 1; alpha <= 3; alpha++) {
        c.alpha = alpha;
        double J;
        assert_int_equal(mg_theory_objective(&c, DIM, h, A, b, &J, NULL, NULL, NULL), MG_OK);
        /* density lam^(a-1) (1-lam)^(a-1) / B(a, a), B(1,1) = 1, B(2,2) = 1/6, B(3,3) = 1/30 */
        const double invB[4] = {0, 1, 6, 30};
        double ref = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                if (i == j) continue;
                for (int g = 0; g < 5; g++) {
                    double l = GL_X[g], wgt = GL_W[g] * invB[alpha] * pow(l * (1 - l), alpha - 1);
                    double e2 = 0;
                    for (int k = 0; k < D; k++) {
                        double z = b[k];
                        for (int a = 0; a < DIM; a++)
                            z += (l * h[i * DIM + a] + (1 - l) * h[j * DIM + a]) * A[a * D + k];
                        double t = l * (mg_theory_label(i, D) == k) +
                                   (1 - l) * (mg_theory_label(j, D) == k);
                        e2 += (z - t) * (z - t);
                    }
                    ref += wgt * e2;
                }
            }
        ref /= (double)N * (N - 1);
        assert_close(J, ref, 1e-12, 0, "closed form vs quadrature", alpha);
    }
    double m2, m11;
    mg_beta_sym_moments(1.0, &m2, &m11);
    assert_close(m2, 1.0 / 3.0, 1e-15, 0, "E lam^2", 0);
    assert_close(m11, 1.0 / 6.0, 1e-15, 0, "E lam(1-lam)", 0);
}

static void check_gradients(mg_theory_loss loss)
{
    enum { N = 6, D = 3, DIM = 2 };
    const int np = N * DIM + DIM * D + D;
    double th[N * DIM + DIM * D + D], gr[N * DIM + DIM * D + D];
    mg_rng rng;
    mg_rng_seed(&rng, 41 + (int)loss);
    double *h = th, *A = th + N * DIM, *b = A + DIM * D;
    random_params(&rng, N, DIM, D, h, A, b);
    mg_theory_config c = mg_theory_config_default();
    c.d = D;
    c.n = N;
    c.loss = loss;
    c.quad_points = 8;
    double J;
    assert_int_equal(
        mg_theory_objective(&c, DIM, h, A, b, &J, gr, gr + N * DIM, gr + N * DIM + DIM * D), MG_OK);
    double gnorm = 0;
    for (int k = 0; k < np; k++) gnorm += gr[k] * gr[k];
    assert_true(sqrt(gnorm) > 1e-3); /* guard: not an all-zero gradient */
    for (int k = 0; k < np; k++) {
        double keep = th[k], eps = 1e-6, jp, jm;
        th[k] = keep + eps;
        assert_int_equal(mg_theory_objective(&c, DIM, h, A, b, &jp, NULL, NULL, NULL), MG_OK);
        th[k] = keep - eps;
        assert_int_equal(mg_theory_objective(&c, DIM, h, A, b, &jm, NULL, NULL, NULL), MG_OK);
        th[k] = keep;
        double fd = (jp - jm) / (2 * eps);
        assert_close(gr[k], fd, 1e-6, 1e-3 * sqrt(gnorm),
                     loss == MG_THEORY_KL ? "kl grad" : "sq grad", k);
    }
}

static void test_objective_gradients(void **state)
{
    (void)state;
    check_gradients(MG_THEORY_SQUARED);
    check_gradients(MG_THEORY_KL);
}

/* Theorem 1 numerically: J ~ 0 exactly when dim >= d-1, and below that
 * J / J_const = (d-1-dim)/(d-1) (best affine rank-dim fit of the simplex);
 * per-class rank <= dim - d + 1. */
static void test_optimize_squared(void **state)
{
    (void)state;
    for (int d = 3; d <= 4; d++) {
        mg_theory_config c = mg_theory_config_default();
        c.d = d;
        c.n = 4 * d;
        c.dim_min = 1;
        c.dim_max = d + 1;
        c.iters = 6000;
        mg_theory_result r[8];
        assert_int_equal(mg_theory_run(&c, r), MG_OK);
        for (int k = 0; k <= c.dim_max - c.dim_min; k++) {
            int dim = r[k].dim;
            assert_int_equal(dim, c.dim_min + k);
            assert_int_equal(r[k].rank_pred, mg_corollary1_dim(dim, d));
            assert_true(r[k].rank_max <= r[k].rank_pred);
            if (dim >= d - 1) {
                assert_true(r[k].J_rel < 1e-6);
                assert_true(r[k].fit_resid_rel < 1e-3);
                assert_true(r[k].construct_max < 1e-12);
            } else {
                assert_true(r[k].J_rel > 0.01);
                assert_close(r[k].J_rel, (double)(d - 1 - dim) / (d - 1), 1e-6, 0,
                             "J_rel below d-1", dim);
                assert_close(r[k].construct_fro, r[k].bound_fro, 1e-12, 0, "construct", dim);
            }
            /* constant readout: Q = n (1 - 1/d), S = 0; alpha 2: m2 = 3/10, m11 = 2/10 */
            assert_close(r[k].J_const, 2 * (1 - 1.0 / d) * (0.3 - 0.2 / (c.n - 1)), 1e-12, 0,
                         "J_const", dim);
        }
    }
}

/* KL readout: decreasing to a positive floor (never 0) from dim = d-1 on. */
static void test_optimize_kl(void **state)
{
    (void)state;
    mg_theory_config c = mg_theory_config_default();
    c.d = 3;
    c.n = 9;
    c.dim_min = 1;
    c.dim_max = 3;
    c.loss = MG_THEORY_KL;
    c.iters = 3000;
    c.quad_points = 8;
    mg_theory_result r[3];
    assert_int_equal(mg_theory_run(&c, r), MG_OK);
    assert_true(r[0].J > r[1].J * 1.5);
    assert_true(r[1].J_rel > 0.01);                    /* the floor */
    assert_close(r[2].J, r[1].J, 1e-3, 0, "floor", 2); /* no gain past d-1 */
    assert_true(r[2].rank_max <= r[2].rank_pred);
}

static void test_config_check(void **state)
{
    (void)state;
    char msg[512];
    mg_theory_config c = mg_theory_config_default();
    assert_int_equal(mg_theory_config_check(&c, msg, sizeof msg), MG_OK);
    c.n = 41;
    c.alpha = 0;
    c.dim_max = 0;
    assert_int_equal(mg_theory_config_check(&c, msg, sizeof msg), MG_ERR_CONFIG);
    assert_non_null(strstr(msg, "n:"));
    assert_non_null(strstr(msg, "alpha:"));
    assert_non_null(strstr(msg, "dim_max:"));
    mg_theory_result r;
    assert_int_equal(mg_theory_optimize(&c, 2, &r, NULL, NULL, NULL), MG_ERR_CONFIG);
}

static void test_write_tsv(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/mg_theory_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/theory.tsv", dir);
    mg_theory_config c = mg_theory_config_default();
    c.d = 3;
    c.n = 6;
    c.dim_min = 1;
    c.dim_max = 2;
    c.iters = 50;
    mg_theory_result r[2];
    assert_int_equal(mg_theory_run(&c, r), MG_OK);
    r[0].J_rel = NAN;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(mg_theory_write_tsv(f, "# mixgeo test", &c, r, 2), MG_OK);
    fclose(f);
    f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int rows = 0, cols_named = 0;
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "# mixgeo test\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "# theory: loss=squared d=3 n=6"));
    assert_non_null(fgets(line, sizeof line, f));
    assert_int_equal(strncmp(line, "# columns: dim d n", 18), 0);
    for (char *t = strtok(line + 10, " \n"); t; t = strtok(NULL, " \n")) cols_named++;
    while (fgets(line, sizeof line, f)) {
        int fields = 1;
        for (char *q = line; *q; q++) fields += *q == '\t';
        assert_int_equal(fields, cols_named);
        assert_int_equal(atoi(line), rows + 1); /* dim column */
        if (rows == 0) assert_non_null(strstr(line, "\tnan\t"));
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 2);
    assert_int_equal(remove(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corollary_dims),
        cmocka_unit_test(test_construction),
        cmocka_unit_test(test_affine_fit_exact),
        cmocka_unit_test(test_affine_fit_known_residual),
        cmocka_unit_test(test_leakage),
        cmocka_unit_test(test_affine_dim),
        cmocka_unit_test(test_objective_closed_form),
        cmocka_unit_test(test_objective_gradients),
        cmocka_unit_test(test_optimize_squared),
        cmocka_unit_test(test_optimize_kl),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_write_tsv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
