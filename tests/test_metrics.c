/* test_metrics.c - known answers for analysis/metrics.c and analysis/npy.c. */
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

#include "metrics.h"
#include "npy.h"

/* |a - b| <= tol * max(1, |b|); NaN never matches. */
static void assert_close(double a, double b, double tol, int line)
{
    double scale = fabs(b) > 1.0 ? fabs(b) : 1.0;
    if (!(fabs(a - b) <= tol * scale)) fail_msg("line %d: got %.17g, expected %.17g", line, a, b);
}
#define CLOSE(a, b, tol) assert_close((a), (b), (tol), __LINE__)

/* ---------------------------------------------------------------- calibration */

/* Two occupied bins whose accuracy equals their confidence: ECE = MCE = OE = 0. */
static void test_calibration_perfect(void **state)
{
    (void)state;
    enum { N = 24 };
    double p[N * 2];
    int32_t y[N];
    for (int i = 0; i < 4; i++) { /* conf 0.75 (class 0), 3 of 4 correct */
        p[2 * i] = 0.75;
        p[2 * i + 1] = 0.25;
        y[i] = i < 3 ? 0 : 1;
    }
    for (int i = 4; i < N; i++) { /* conf 0.55 (class 1), 11 of 20 correct */
        p[2 * i] = 0.45;
        p[2 * i + 1] = 0.55;
        y[i] = i - 4 < 11 ? 1 : 0;
    }
    mg_calibration c;
    mg_reliability_bin rel[10];
    assert_int_equal(mg_calibration_f64(p, N, 2, y, 10, &c, rel), MG_OK);
    CLOSE(c.ece, 0.0, 1e-12);
    CLOSE(c.mce, 0.0, 1e-12);
    CLOSE(c.oe, 0.0, 1e-12);
    CLOSE(c.accuracy, 14.0 / 24.0, 1e-12);
    assert_int_equal(c.bins, 10);
    assert_int_equal(rel[7].count, 4);
    CLOSE(rel[7].conf, 0.75, 1e-12);
    CLOSE(rel[7].acc, 0.75, 1e-12);
    CLOSE(rel[7].lo, 0.7, 1e-12);
    CLOSE(rel[7].hi, 0.8, 1e-12);
    assert_int_equal(rel[5].count, 20);
    CLOSE(rel[5].acc, 0.55, 1e-12);
    assert_int_equal(rel[0].count, 0);
    assert_true(isnan(rel[0].conf) && isnan(rel[0].acc));
    /* the same in float32 */
    float pf[N * 2];
    for (int i = 0; i < 2 * N; i++) pf[i] = (float)p[i];
    assert_int_equal(mg_calibration_f32(pf, N, 2, y, 10, &c, NULL), MG_OK);
    CLOSE(c.ece, 0.0, 1e-7);
}

/* Four examples, 15 bins, every number worked out by hand. */
static void test_calibration_hand(void **state)
{
    (void)state;
    const double p[4 * 3] = {0.9, 0.05, 0.05,  /* y 0: right, bin 13 */
                             0.9, 0.05, 0.05,  /* y 1: wrong, bin 13 */
                             0.2, 0.5,  0.3,   /* y 1: right, bin 7  */
                             0.62, 0.28, 0.10}; /* y 2: wrong, bin 9 */
    const int32_t y[4] = {0, 1, 1, 2};
    mg_calibration c;
    mg_reliability_bin rel[MG_ECE_BINS_DEFAULT];
    assert_int_equal(mg_calibration_f64(p, 4, 3, y, MG_ECE_BINS_DEFAULT, &c, rel), MG_OK);
    /* bin 13: 2/4 |0.5 - 0.9| = 0.2; bin 7: 1/4 |1 - 0.5| = 0.125;
     * bin 9 = (0.6, 0.667]: 1/4 |0 - 0.62| = 0.155 */
    CLOSE(c.ece, 0.48, 1e-12);
    CLOSE(c.mce, 0.62, 1e-12);
    /* OE: 0.5*0.9*0.4 + 0.25*0.62*0.62 */
    CLOSE(c.oe, 0.18 + 0.0961, 1e-12);
    CLOSE(c.nll, -(log(0.9) + log(0.05) + log(0.5) + log(0.10)) / 4, 1e-12);
    /* Brier: 0.015 + 1.715 + 0.38 + 1.2728 */
    CLOSE(c.brier, 3.3828 / 4, 1e-12);
    CLOSE(c.accuracy, 0.5, 1e-12);
    CLOSE(c.mean_conf, (0.9 + 0.9 + 0.5 + 0.62) / 4, 1e-12);
    assert_int_equal(c.nll_floored, 0);
    assert_int_equal(rel[13].count, 2);
    assert_int_equal(rel[7].count, 1);
    assert_int_equal(rel[9].count, 1);
    int64_t total = 0;
    for (int b = 0; b < MG_ECE_BINS_DEFAULT; b++) total += rel[b].count;
    assert_int_equal(total, 4);
}

static void test_calibration_floor_and_errors(void **state)
{
    (void)state;
    const double p[2 * 2] = {1.0, 0.0, 0.5, 0.5};
    int32_t y[2] = {1, 0};
    mg_calibration c;
    assert_int_equal(mg_calibration_f64(p, 2, 2, y, 15, &c, NULL), MG_OK);
    CLOSE(c.nll, (-log(MG_NLL_PROB_FLOOR) + log(2.0)) / 2, 1e-12);
    assert_int_equal(c.nll_floored, 1);
    CLOSE(c.brier, (2.0 + 0.5) / 2, 1e-12);

    y[1] = 2;
    assert_int_equal(mg_calibration_f64(p, 2, 2, y, 15, &c, NULL), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "example 1"));
    y[1] = 0;
    assert_int_equal(mg_calibration_f64(p, 2, 2, y, 0, &c, NULL), MG_ERR_CONFIG);
    const double q[2 * 2] = {NAN, 1.0, 0.5, 0.5};
    assert_int_equal(mg_calibration_f64(q, 2, 2, y, 15, &c, NULL), MG_ERR_NUMERIC);
}

/* ---------------------------------------------------------------- confidence */

static void test_confidence(void **state)
{
    (void)state;
    const float p[3 * 4] = {0.25f, 0.25f, 0.25f, 0.25f, 0, 1, 0, 0, 0.5f, 0.5f, 0, 0};
    double mp[3], en[3];
    mg_confidence_f32(p, 3, 4, mp, en);
    CLOSE(mp[0], 0.25, 1e-12);
    CLOSE(en[0], 1.0, 1e-7);
    CLOSE(mp[1], 1.0, 1e-12);
    CLOSE(en[1], 0.0, 1e-12);
    CLOSE(en[2], 0.5, 1e-7); /* ln 2 / ln 4 */

    const float z[2 * 2] = {1000.0f, 0.0f, 0.0f, (float)log(3.0)};
    double q[4];
    mg_softmax_f64(z, 2, 2, q);
    CLOSE(q[0], 1.0, 1e-15);
    assert_true(q[1] >= 0.0 && q[1] < 1e-300);
    CLOSE(q[2], 0.25, 1e-7);
    CLOSE(q[3], 0.75, 1e-7);
}

static void test_auroc(void **state)
{
    (void)state;
    const double pos[3] = {0.9, 0.8, 0.7}, neg[3] = {0.1, 0.2, 0.3};
    double a;
    assert_int_equal(mg_auroc(pos, 3, neg, 3, &a), MG_OK);
    CLOSE(a, 1.0, 1e-15);
    assert_int_equal(mg_auroc(neg, 3, pos, 3, &a), MG_OK);
    CLOSE(a, 0.0, 1e-15);
    const double t[4] = {0.5, 0.5, 0.5, 0.5};
    assert_int_equal(mg_auroc(t, 2, t + 2, 2, &a), MG_OK);
    CLOSE(a, 0.5, 1e-15);
    /* 0.9 beats all three (3); 0.4 loses to 0.5, ties 0.4, beats 0.1 (1.5) */
    const double p2[2] = {0.9, 0.4}, n2[3] = {0.5, 0.4, 0.1};
    assert_int_equal(mg_auroc(p2, 2, n2, 3, &a), MG_OK);
    CLOSE(a, 4.5 / 6.0, 1e-15);

    /* Against the O(n^2) definition on random scores with many ties. */
    mg_rng rng;
    mg_rng_seed(&rng, 7);
    enum { NP = 300, NN = 200 };
    double *ps = malloc(sizeof(double) * NP), *ns = malloc(sizeof(double) * NN);
    for (int i = 0; i < NP; i++) ps[i] = (double)mg_rng_below(&rng, 20) + 1.0;
    for (int i = 0; i < NN; i++) ns[i] = (double)mg_rng_below(&rng, 20);
    double ref = 0.0;
    for (int i = 0; i < NP; i++)
        for (int j = 0; j < NN; j++) ref += ps[i] > ns[j] ? 1.0 : (ps[i] == ns[j] ? 0.5 : 0.0);
    ref /= (double)NP * NN;
    assert_int_equal(mg_auroc(ps, NP, ns, NN, &a), MG_OK);
    CLOSE(a, ref, 1e-13);
    assert_true(a > 0.5 && a < 1.0);
    ns[3] = NAN;
    assert_int_equal(mg_auroc(ps, NP, ns, NN, &a), MG_ERR_NUMERIC);
    assert_int_equal(mg_auroc(ps, 0, ns, NN, &a), MG_ERR_CONFIG);
    free(ps);
    free(ns);
}

/* ---------------------------------------------------------------- margins */

static void test_logit_margins(void **state)
{
    (void)state;
    const float z[2 * 3] = {2, 5, 1, 2, 5, 1};
    const int32_t y[2] = {1, 0};
    double m[2];
    mg_logit_margins(z, 2, 3, y, m);
    CLOSE(m[0], 3.0, 1e-15);
    CLOSE(m[1], -3.0, 1e-15);
}

static void test_penultimate_margins(void **state)
{
    (void)state;
    /* w0 = (1,0), w1 = (0,1), w2 = (-1,0).  h = (2,1): the 0|1 boundary is the
     * line x = y, at distance 1/sqrt(2); the 0|2 boundary x = 0 at distance 2. */
    const float W[3 * 2] = {1, 0, 0, 1, -1, 0};
    const float h[2 * 2] = {2, 1, 2, 1};
    const int32_t y[2] = {0, 1};
    double m[2];
    assert_int_equal(mg_penultimate_margins(h, 2, 2, W, NULL, 3, y, m), MG_OK);
    CLOSE(m[0], 1.0 / sqrt(2.0), 1e-15);
    CLOSE(m[1], -1.0 / sqrt(2.0), 1e-15); /* misclassified: negative */
    /* b1 = 0.5 moves the 0|1 boundary to x - y = 0.5 */
    const float b[3] = {0, 0.5f, 0};
    assert_int_equal(mg_penultimate_margins(h, 2, 2, W, b, 3, y, m), MG_OK);
    CLOSE(m[0], 0.5 / sqrt(2.0), 1e-15);

    /* Geometric check on random data: stepping the margin (times 1 -+ 1e-6)
     * towards the nearest boundary keeps / flips the class. */
    mg_rng rng;
    mg_rng_seed(&rng, 3);
    enum { C = 5, P = 7 };
    float Wr[C * P], br[C], hr[P];
    for (int i = 0; i < C * P; i++) Wr[i] = (float)mg_rng_normal(&rng);
    for (int i = 0; i < C; i++) br[i] = (float)mg_rng_normal(&rng);
    for (int t = 0; t < 20; t++) {
        for (int f = 0; f < P; f++) hr[f] = (float)(3.0 * mg_rng_normal(&rng));
        double z[C];
        int yp = 0;
        for (int c = 0; c < C; c++) {
            z[c] = br[c];
            for (int f = 0; f < P; f++) z[c] += (double)Wr[c * P + f] * hr[f];
            if (z[c] > z[yp]) yp = c;
        }
        int32_t yy = yp;
        double mm;
        assert_int_equal(mg_penultimate_margins(hr, 1, P, Wr, br, C, &yy, &mm), MG_OK);
        assert_true(mm > 0.0);
        /* the nearest boundary j and its unit normal (w_y - w_j)/||.|| */
        int jb = -1;
        double best = INFINITY, nrm = 0.0;
        for (int j = 0; j < C; j++) {
            if (j == yp) continue;
            double s = 0.0;
            for (int f = 0; f < P; f++) {
                double d = (double)Wr[yp * P + f] - Wr[j * P + f];
                s += d * d;
            }
            double r = (z[yp] - z[j]) / sqrt(s);
            if (r < best) {
                best = r;
                jb = j;
                nrm = sqrt(s);
            }
        }
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            double step = mm * (1.0 + sgn * 1e-6);
            double hz[P], zy = br[yp], zj = br[jb];
            for (int f = 0; f < P; f++) {
                hz[f] = hr[f] - step * ((double)Wr[yp * P + f] - Wr[jb * P + f]) / nrm;
                zy += (double)Wr[yp * P + f] * hz[f];
                zj += (double)Wr[jb * P + f] * hz[f];
            }
            assert_true(sgn < 0 ? zy > zj : zy < zj);
        }
    }

    /* identical rows: +inf / -inf depending on the bias order */
    const float Wd[2 * 2] = {1, 1, 1, 1}, bd[2] = {1, 0};
    int32_t yd[2] = {0, 1};
    const float hd2[4] = {3, -1, 3, -1};
    double md[2];
    assert_int_equal(mg_penultimate_margins(hd2, 2, 2, Wd, bd, 2, yd, md), MG_OK);
    assert_true(isinf(md[0]) && md[0] > 0);
    assert_true(isinf(md[1]) && md[1] < 0);
}

static void test_quantiles_histograms(void **state)
{
    (void)state;
    const double v[6] = {5, 1, 10, 3, 2, 4};
    const int32_t y[6] = {0, 0, 1, 0, 0, 0};
    double q[3 * MG_N_QUANTILE_LEVELS];
    assert_int_equal(mg_class_quantiles(v, y, 6, 3, mg_quantile_levels_default,
                                        MG_N_QUANTILE_LEVELS, q),
                     MG_OK);
    const double want0[MG_N_QUANTILE_LEVELS] = {1, 1.2, 2, 3, 4, 4.8, 5};
    for (int i = 0; i < MG_N_QUANTILE_LEVELS; i++) {
        CLOSE(q[i], want0[i], 1e-13);
        CLOSE(q[MG_N_QUANTILE_LEVELS + i], 10.0, 1e-15);
        assert_true(isnan(q[2 * MG_N_QUANTILE_LEVELS + i]));
    }
    /* pooled */
    const double lev[1] = {0.5};
    double med;
    assert_int_equal(mg_class_quantiles(v, NULL, 6, 1, lev, 1, &med), MG_OK);
    CLOSE(med, 3.5, 1e-15);
    const double vn[2] = {1, NAN};
    assert_int_equal(mg_class_quantiles(vn, NULL, 2, 1, lev, 1, &med), MG_ERR_NUMERIC);

    const double h[6] = {0, 1, 2, 3, 4, INFINITY};
    const int32_t yh[6] = {0, 1, 0, 1, 0, 0};
    int64_t cnt[2 * 4], bad;
    double lo, hi;
    assert_int_equal(mg_class_histograms(h, yh, 6, 2, 4, &lo, &hi, cnt, &bad), MG_OK);
    CLOSE(lo, 0.0, 0);
    CLOSE(hi, 4.0, 0);
    assert_int_equal(bad, 1);
    /* class 0: 0, 2, 4 -> bins 0, 2, 3; class 1: 1, 3 -> bins 1, 3 */
    const int64_t want[8] = {1, 0, 1, 1, 0, 1, 0, 1};
    for (int i = 0; i < 8; i++) assert_int_equal(cnt[i], want[i]);
    const double same[2] = {2, 2};
    assert_int_equal(mg_class_histograms(same, NULL, 2, 1, 2, &lo, &hi, cnt, NULL), MG_OK);
    CLOSE(lo, 1.5, 0);
    CLOSE(hi, 2.5, 0);
    assert_int_equal(cnt[0], 0);
    assert_int_equal(cnt[1], 2);
}

/* ---------------------------------------------------------------- neural collapse */

enum { ETF_C = 4, ETF_P = 6, ETF_PER = 5, ETF_N = ETF_C * ETF_PER };

/* Simplex ETF M_c = e_c - 1/4 (first four coordinates), global mean g. */
static void etf_setup(float *h, int32_t *y, float *W, float *z, float wscale)
{
    const float g[ETF_P] = {0.5f, 0.5f, 0.5f, 0.5f, 1.0f, -2.0f};
    float M[ETF_C * ETF_P] = {0};
    for (int c = 0; c < ETF_C; c++)
        for (int f = 0; f < ETF_C; f++) M[c * ETF_P + f] = (c == f ? 1.0f : 0.0f) - 0.25f;
    for (int i = 0; i < ETF_N; i++) {
        int c = i % ETF_C;
        y[i] = c;
        for (int f = 0; f < ETF_P; f++) h[i * ETF_P + f] = M[c * ETF_P + f] + g[f];
    }
    for (int i = 0; i < ETF_C * ETF_P; i++) W[i] = wscale * M[i];
    for (int i = 0; i < ETF_N; i++)
        for (int c = 0; c < ETF_C; c++) {
            double s = 0.0;
            for (int f = 0; f < ETF_P; f++) s += (double)W[c * ETF_P + f] * h[i * ETF_P + f];
            z[i * ETF_C + c] = (float)s;
        }
}

static void test_nc_simplex_etf(void **state)
{
    (void)state;
    float h[ETF_N * ETF_P], W[ETF_C * ETF_P], z[ETF_N * ETF_C];
    int32_t y[ETF_N];
    etf_setup(h, y, W, z, 3.0f);
    mg_collapse nc;
    assert_int_equal(mg_neural_collapse(h, ETF_N, ETF_P, y, ETF_C, W, z, &nc), MG_OK);
    assert_int_equal(nc.sb_rank, ETF_C - 1);
    CLOSE(nc.tr_sw, 0.0, 1e-14);
    CLOSE(nc.nc1, 0.0, 1e-12);
    /* S_B = M^T M / C: trace = sum ||M_c||^2 / C = 3/4 */
    CLOSE(nc.tr_sb, 0.75, 1e-12);
    CLOSE(nc.equinorm_means, 0.0, 1e-12);
    CLOSE(nc.equinorm_w, 0.0, 1e-12);
    CLOSE(nc.equiangle_means, 0.0, 1e-12);
    CLOSE(nc.equiangle_w, 0.0, 1e-12);
    CLOSE(nc.equiangle_means_max, 0.0, 1e-12);
    CLOSE(nc.nc3, 0.0, 1e-12);
    CLOSE(nc.nc4, 1.0, 0);
    CLOSE(nc.ncc_accuracy, 1.0, 0);

    /* Perturbed: within-class spread and a tilted classifier. */
    mg_rng rng;
    mg_rng_seed(&rng, 11);
    for (int i = 0; i < ETF_N * ETF_P; i++) h[i] += (float)(0.1 * mg_rng_normal(&rng));
    for (int i = 0; i < ETF_C * ETF_P; i++) W[i] += (float)(0.3 * mg_rng_normal(&rng));
    assert_int_equal(mg_neural_collapse(h, ETF_N, ETF_P, y, ETF_C, W, NULL, &nc), MG_OK);
    assert_true(nc.nc1 > 1e-3);
    assert_true(nc.tr_sw > 1e-3);
    assert_true(nc.nc3 > 1e-3);
    assert_true(nc.equiangle_w > 1e-3);
    assert_true(nc.equinorm_w > 1e-3);
    assert_true(isnan(nc.nc4));

    /* an empty class is an error */
    for (int i = 0; i < ETF_N; i++)
        if (y[i] == 2) y[i] = 1;
    assert_int_equal(mg_neural_collapse(h, ETF_N, ETF_P, y, ETF_C, W, NULL, &nc), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "class 2"));
}

/* NC1 against an independent computation: class means in span(e1, e2), so
 * S_B^+ is the inverse of S_B's top-left 2 x 2 block; within-class
 * deviations +-d (class means exact) fill all four coordinates. */
static void test_nc1_known(void **state)
{
    (void)state;
    enum { C = 3, P = 4, PER = 6, N = C * PER };
    const double mu[C][P] = {{1, 0, 0, 0}, {0, 2, 0, 0}, {-1, -1.5, 0, 0}};
    float h[N * P];
    int32_t y[N];
    mg_rng rng;
    mg_rng_seed(&rng, 5);
    for (int c = 0; c < C; c++)
        for (int k = 0; k < PER; k += 2) {
            double d[P];
            for (int f = 0; f < P; f++) d[f] = 0.0625 * (double)mg_rng_below(&rng, 9) - 0.25;
            for (int s = 0; s < 2; s++) {
                int i = c * PER + k + s;
                y[i] = c;
                for (int f = 0; f < P; f++) h[i * P + f] = (float)(mu[c][f] + (s ? -d[f] : d[f]));
            }
        }
    /* reference */
    double g[P] = {0}, SW[P][P] = {{0}}, SB[2][2] = {{0}}, trsb = 0.0;
    for (int c = 0; c < C; c++)
        for (int f = 0; f < P; f++) g[f] += mu[c][f] / C;
    for (int i = 0; i < N; i++)
        for (int a = 0; a < P; a++)
            for (int b = 0; b < P; b++)
                SW[a][b] += (h[i * P + a] - mu[y[i]][a]) * (h[i * P + b] - mu[y[i]][b]) / N;
    for (int c = 0; c < C; c++) {
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) SB[a][b] += (mu[c][a] - g[a]) * (mu[c][b] - g[b]) / C;
        for (int f = 0; f < P; f++) trsb += (mu[c][f] - g[f]) * (mu[c][f] - g[f]) / C;
    }
    double det = SB[0][0] * SB[1][1] - SB[0][1] * SB[1][0];
    double Bi[2][2] = {{SB[1][1] / det, -SB[0][1] / det}, {-SB[1][0] / det, SB[0][0] / det}};
    double tr = 0.0, trsw = 0.0;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) tr += SW[a][b] * Bi[b][a];
    for (int a = 0; a < P; a++) trsw += SW[a][a];
    assert_true(tr > 0.01);

    float W[C * P];
    for (int i = 0; i < C * P; i++) W[i] = (float)(i % 5) - 2.0f;
    /* logits that disagree with the nearest class centre on two examples */
    float z[N * C];
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++) z[i * C + c] = c == y[i] ? 1.0f : 0.0f;
    z[0 * C + 0] = -1.0f;
    z[7 * C + 2] = 5.0f;
    mg_collapse nc;
    assert_int_equal(mg_neural_collapse(h, N, P, y, C, W, z, &nc), MG_OK);
    assert_int_equal(nc.sb_rank, 2);
    CLOSE(nc.nc1, tr / C, 1e-12);
    CLOSE(nc.tr_sw, trsw, 1e-12);
    CLOSE(nc.tr_sb, trsb, 1e-12);
    CLOSE(nc.ncc_accuracy, 1.0, 0); /* deviations are small next to the mean gaps */
    CLOSE(nc.nc4, (N - 2.0) / N, 1e-15);
}

/* ---------------------------------------------------------------- npy */

static void test_npy_header_bytes(void **state)
{
    (void)state;
    const float a[6] = {1, 2, 3, 4, 5, 6.5f};
    const int64_t shape[2] = {3, 2};
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(mg_npy_write_f32(f, a, 2, shape), MG_OK);
    assert_int_equal(ftell(f), 128 + 24);
    rewind(f);
    unsigned char got[152];
    assert_int_equal(fread(got, 1, sizeof got, f), sizeof got);
    /* numpy.save(np.arange(...).reshape(3, 2).astype('<f4')): header length
     * 118 (0x76): dict, 20 spare blanks (21 - len("3")), blanks, '\n'. */
    char want[129];
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
    memset(want + 10, ' ', 118);
    memcpy(want + 10, dict, strlen(dict));
    want[127] = '\n';
    assert_memory_equal(got, want, 128);
    float back[6];
    memcpy(back, got + 128, sizeof back);
    assert_memory_equal(back, a, sizeof a);
    fclose(f);

    /* 1-d shape "(5,)" and 0-d "()" */
    const int32_t v[5] = {-1, 0, 1, 2, 2147483647};
    const int64_t s1[1] = {5};
    f = tmpfile();
    assert_int_equal(mg_npy_write_i32(f, v, 1, s1), MG_OK);
    rewind(f);
    assert_int_equal(fread(got, 1, 128, f), 128);
    const char *d1 = "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }";
    assert_memory_equal(got + 10, d1, strlen(d1));
    assert_int_equal(got[10 + strlen(d1)], ' ');
    assert_int_equal(got[127], '\n');
    fclose(f);
    const double sc = 2.5;
    f = tmpfile();
    assert_int_equal(mg_npy_write_f64(f, &sc, 0, NULL), MG_OK);
    assert_int_equal(ftell(f), 128 + 8);
    rewind(f);
    assert_int_equal(fread(got, 1, 128, f), 128);
    const char *d0 = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
    assert_memory_equal(got + 10, d0, strlen(d0));
    fclose(f);
}

static void test_npy_round_trip(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mg_npy_XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    assert_non_null(mkdtemp(dir));
    char path[600];
    snprintf(path, sizeof path, "%s/a.npy", dir);

    enum { R = 70000, K = 3 };
    float *a = malloc(sizeof(float) * R * K);
    for (int i = 0; i < R * K; i++) a[i] = (float)i * 0.5f - 7.25f;
    const int64_t shape[2] = {R, K};
    assert_int_equal(mg_npy_save(path, MG_NPY_F32, a, 2, shape), MG_OK);
    mg_npy_array arr;
    assert_int_equal(mg_npy_load(path, &arr), MG_OK);
    assert_int_equal(arr.type, MG_NPY_F32);
    assert_int_equal(arr.ndim, 2);
    assert_int_equal(arr.shape[0], R);
    assert_int_equal(arr.shape[1], K);
    assert_int_equal(arr.count, (size_t)R * K);
    assert_memory_equal(arr.data, a, sizeof(float) * R * K);
    mg_npy_array_free(&arr);

    const int32_t v[4] = {3, -4, 5, 0};
    const int64_t s4[3] = {1, 4, 1};
    assert_int_equal(mg_npy_save(path, MG_NPY_I32, v, 3, s4), MG_OK);
    assert_int_equal(mg_npy_load(path, &arr), MG_OK);
    assert_int_equal(arr.type, MG_NPY_I32);
    assert_int_equal(arr.ndim, 3);
    assert_memory_equal(arr.data, v, sizeof v);
    mg_npy_array_free(&arr);

    /* truncated data and a wrong magic are format errors */
    FILE *f = fopen(path, "wb");
    assert_int_equal(mg_npy_write_header(f, MG_NPY_F64, 1, (const int64_t[]){4}), MG_OK);
    double two[2] = {1, 2};
    assert_int_equal(fwrite(two, sizeof(double), 2, f), 2);
    fclose(f);
    assert_int_equal(mg_npy_load(path, &arr), MG_ERR_FORMAT);
    assert_non_null(strstr(mg_errmsg(), "truncated"));
    f = fopen(path, "wb");
    fputs("PK\x03\x04 not numpy at all", f);
    fclose(f);
    assert_int_equal(mg_npy_load(path, &arr), MG_ERR_FORMAT);
    assert_non_null(strstr(mg_errmsg(), "magic"));

    free(a);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibration_perfect),
        cmocka_unit_test(test_calibration_hand),
        cmocka_unit_test(test_calibration_floor_and_errors),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_auroc),
        cmocka_unit_test(test_logit_margins),
        cmocka_unit_test(test_penultimate_margins),
        cmocka_unit_test(test_quantiles_histograms),
        cmocka_unit_test(test_nc_simplex_etf),
        cmocka_unit_test(test_nc1_known),
        cmocka_unit_test(test_npy_header_bytes),
        cmocka_unit_test(test_npy_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
