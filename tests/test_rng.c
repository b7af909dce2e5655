/* test_rng.c - mg_rng: known outputs, determinism, stream separation, and the
 * moments of every distribution checked against 5-standard-error bounds
 * (seeds are fixed, so each check is deterministic yet able to fail). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixgeo.h"

#define N_DRAWS 200000

/* |got - want| <= tol, with a message naming the quantity. */
static void expect_near(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%s: got %.9g, want %.9g (tolerance %.3g)\n", what, got, want, tol);
        fail();
    }
}

/* Sample moments of a batch of draws: mean, variance and the standard errors
 * of both (the variance's from the sample fourth central moment). */
typedef struct {
    double mean, var, se_mean, se_var;
} moments;

static moments moments_of(const double *x, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    double mean = s / n;
    double m2 = 0.0, m4 = 0.0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - mean;
        m2 += d * d;
        m4 += d * d * d * d;
    }
    m2 /= n;
    m4 /= n;
    moments r = {mean, m2 * n / (n - 1), sqrt(m2 / n), sqrt(fabs(m4 - m2 * m2) / n)};
    return r;
}

/* Check mean and variance against theory at 5 standard errors. */
static void check_moments(const char *name, const double *x, int n, double mean, double var)
{
    moments m = moments_of(x, n);
    char what[128];
    snprintf(what, sizeof what, "%s mean", name);
    expect_near(what, m.mean, mean, 5.0 * m.se_mean);
    snprintf(what, sizeof what, "%s variance", name);
    expect_near(what, m.var, var, 5.0 * m.se_var);
}

/* Upper chi-square quantile at p = 1e-4 (Wilson-Hilferty; z = 3.719). */
static double chi2_crit(int df)
{
    double a = 2.0 / (9.0 * df);
    double b = 1.0 - a + 3.719 * sqrt(a);
    return df * b * b * b;
}

static void test_known_outputs(void **state)
{
    (void)state;
    /* splitmix64 seeding of 0 and the first xoshiro256** outputs, from an
     * independent transcription of the reference algorithms. */
    mg_rng r;
    mg_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    assert_true(r.s[1] == 0x6e789e6aa1b965f4ULL);
    assert_true(r.s[2] == 0x06c45d188009454fULL);
    assert_true(r.s[3] == 0xf88bb8a8724c81ecULL);
    assert_true(mg_rng_u64(&r) == 0x99ec5f36cb75f2b4ULL);
    assert_true(mg_rng_u64(&r) == 0xbf6e1f784956452aULL);
    assert_true(mg_rng_u64(&r) == 0x1a5f849d4933e6e0ULL);
    assert_true(mg_rng_u64(&r) == 0x6aa594f1262d2d2cULL);
    mg_rng_seed(&r, 42);
    assert_true(mg_rng_u64(&r) == 0x15780b2e0c2ec716ULL);
    assert_true(mg_rng_u64(&r) == 0x6104d9866d113a7eULL);
}

static void test_determinism_and_fork(void **state)
{
    (void)state;
    mg_rng a, b;
    mg_rng_seed(&a, 12345);
    mg_rng_seed(&b, 12345);
    for (int i = 0; i < 1000; i++) assert_true(mg_rng_u64(&a) == mg_rng_u64(&b));
    /* A copy of the struct is a fork: the same future draws, of every kind. */
    mg_rng c = a;
    for (int i = 0; i < 100; i++) {
        assert_true(mg_rng_normal(&a) == mg_rng_normal(&c));
        assert_true(mg_rng_beta(&a, 0.3, 2.0) == mg_rng_beta(&c, 0.3, 2.0));
        assert_true(mg_rng_gamma(&a, 0.5) == mg_rng_gamma(&c, 0.5));
        assert_true(mg_rng_below(&a, 7) == mg_rng_below(&c, 7));
    }
    assert_memory_equal(&a, &c, sizeof a);
    /* Different seeds give different streams. */
    mg_rng_seed(&a, 1);
    mg_rng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++) same += mg_rng_u64(&a) == mg_rng_u64(&b);
    assert_int_equal(same, 0);
}

static void test_seed3_streams(void **state)
{
    (void)state;
    const uint64_t keys[][3] = {{7, 4, 0}, {7, 4, 1}, {7, 4, 2}, {7, 3, 0}, {8, 4, 0},
                                {7, 0, 4}, {0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {1, 0, 0}};
    enum { K = sizeof keys / sizeof keys[0], LEN = 4096 };
    static double draws[K][LEN];
    for (int k = 0; k < K; k++) {
        mg_rng r, again;
        mg_rng_seed3(&r, keys[k][0], keys[k][1], keys[k][2]);
        mg_rng_seed3(&again, keys[k][0], keys[k][1], keys[k][2]);
        assert_memory_equal(&r, &again, sizeof r); /* deterministic */
        for (int i = 0; i < LEN; i++) draws[k][i] = mg_rng_uniform(&r);
    }
    /* Every pair of streams differs and is uncorrelated (|rho| < 5/sqrt(LEN)). */
    for (int a = 0; a < K; a++) {
        for (int b = a + 1; b < K; b++) {
            double sab = 0.0;
            int equal = 0;
            for (int i = 0; i < LEN; i++) {
                sab += (draws[a][i] - 0.5) * (draws[b][i] - 0.5);
                equal += draws[a][i] == draws[b][i];
            }
            double rho = sab / LEN * 12.0;
            assert_int_equal(equal, 0);
            char what[64];
            snprintf(what, sizeof what, "correlation of streams %d and %d", a, b);
            expect_near(what, rho, 0.0, 5.0 / sqrt((double)LEN));
        }
    }
    /* The (seed, a, b) streams are not the plain seed stream. */
    mg_rng plain, s3;
    mg_rng_seed(&plain, 7);
    mg_rng_seed3(&s3, 7, 0, 0);
    assert_true(mg_rng_u64(&plain) != mg_rng_u64(&s3));
}

static void test_uniform(void **state)
{
    (void)state;
    double *x = malloc(N_DRAWS * sizeof *x);
    assert_non_null(x);
    mg_rng r;
    mg_rng_seed(&r, 2024);
    for (int i = 0; i < N_DRAWS; i++) {
        x[i] = mg_rng_uniform(&r);
        assert_true(x[i] >= 0.0 && x[i] < 1.0);
    }
    check_moments("uniform", x, N_DRAWS, 0.5, 1.0 / 12.0);
    /* 20 equal bins, chi-square with 19 degrees of freedom. */
    int bins[20] = {0};
    for (int i = 0; i < N_DRAWS; i++) bins[(int)(x[i] * 20)]++;
    double chi2 = 0.0, expct = N_DRAWS / 20.0;
    for (int b = 0; b < 20; b++) chi2 += (bins[b] - expct) * (bins[b] - expct) / expct;
    assert_true(chi2 < chi2_crit(19));
    free(x);
}

static void test_below(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 99);
    /* Small n: every value hit uniformly (chi-square), never out of range. */
    const uint32_t ns[] = {1, 2, 3, 7, 10};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        uint32_t n = ns[t];
        int counts[10] = {0};
        const int draws = 50000;
        for (int i = 0; i < draws; i++) {
            uint32_t v = mg_rng_below(&r, n);
            assert_true(v < n);
            counts[v]++;
        }
        if (n == 1) continue;
        double chi2 = 0.0, e = (double)draws / n;
        for (uint32_t v = 0; v < n; v++) chi2 += (counts[v] - e) * (counts[v] - e) / e;
        assert_true(chi2 < chi2_crit((int)n - 1));
    }
    /* n = 3 * 2^30: a biased method shows here.  Plain multiply-shift gives
     * values = 0 (mod 3) with probability 1/2, plain modulo gives values below
     * 2^30 with probability 1/2; the unbiased answer is 1/3 for both. */
    const uint32_t big = 3u << 30;
    const int draws = 60000;
    int mod0 = 0, low = 0;
    for (int i = 0; i < draws; i++) {
        uint32_t v = mg_rng_below(&r, big);
        assert_true(v < big);
        mod0 += v % 3 == 0;
        low += v < (1u << 30);
    }
    double se = sqrt((1.0 / 3.0) * (2.0 / 3.0) / draws);
    expect_near("P(v = 0 mod 3) for n = 3*2^30", (double)mod0 / draws, 1.0 / 3.0, 5 * se);
    expect_near("P(v < 2^30) for n = 3*2^30", (double)low / draws, 1.0 / 3.0, 5 * se);
    /* The largest n works too. */
    for (int i = 0; i < 100; i++) assert_true(mg_rng_below(&r, UINT32_MAX) < UINT32_MAX);
}

static void test_normal(void **state)
{
    (void)state;
    double *x = malloc(N_DRAWS * sizeof *x);
    assert_non_null(x);
    mg_rng r;
    mg_rng_seed(&r, 31337);
    for (int i = 0; i < N_DRAWS; i++) {
        x[i] = mg_rng_normal(&r);
        assert_true(isfinite(x[i]));
    }
    check_moments("normal", x, N_DRAWS, 0.0, 1.0);
    /* Shape: P(|x| < 1) = 0.682689, P(|x| < 2) = 0.954500. */
    int in1 = 0, in2 = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        in1 += fabs(x[i]) < 1.0;
        in2 += fabs(x[i]) < 2.0;
    }
    expect_near("P(|z| < 1)", (double)in1 / N_DRAWS, 0.682689, 5 * sqrt(0.2167 / N_DRAWS));
    expect_near("P(|z| < 2)", (double)in2 / N_DRAWS, 0.954500, 5 * sqrt(0.0434 / N_DRAWS));
    free(x);
}

static void test_gamma(void **state)
{
    (void)state;
    double *x = malloc(N_DRAWS * sizeof *x);
    assert_non_null(x);
    const double shapes[] = {0.05, 0.3, 1.0, 2.5, 7.0};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        mg_rng r;
        mg_rng_seed3(&r, 5, 1, t);
        for (int i = 0; i < N_DRAWS; i++) {
            x[i] = mg_rng_gamma(&r, shapes[t]);
            assert_true(x[i] >= 0.0 && isfinite(x[i]));
        }
        char name[64];
        snprintf(name, sizeof name, "Gamma(%g)", shapes[t]);
        /* Gamma(k, 1): mean k, variance k. */
        check_moments(name, x, N_DRAWS, shapes[t], shapes[t]);
    }
    free(x);
}

static void test_beta(void **state)
{
    (void)state;
    double *x = malloc(N_DRAWS * sizeof *x);
    assert_non_null(x);
    const double ab[][2] = {{0.2, 0.2}, {1.0, 1.0}, {2.0, 2.0}, {2.0, 5.0}, {0.5, 3.0}};
    for (size_t t = 0; t < sizeof ab / sizeof ab[0]; t++) {
        double a = ab[t][0], b = ab[t][1];
        mg_rng r;
        mg_rng_seed3(&r, 6, 2, t);
        for (int i = 0; i < N_DRAWS; i++) {
            x[i] = mg_rng_beta(&r, a, b);
            assert_true(x[i] >= 0.0 && x[i] <= 1.0);
        }
        char name[64];
        snprintf(name, sizeof name, "Beta(%g, %g)", a, b);
        double s = a + b;
        check_moments(name, x, N_DRAWS, a / s, a * b / (s * s * (s + 1.0)));
    }
    /* Beta(1, 1) is U(0, 1): ten bins, chi-square with 9 degrees of freedom. */
    mg_rng r;
    mg_rng_seed(&r, 77);
    int bins[10] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
        double v = mg_rng_beta(&r, 1.0, 1.0);
        bins[v >= 1.0 ? 9 : (int)(v * 10)]++;
    }
    double chi2 = 0.0, e = N_DRAWS / 10.0;
    for (int k = 0; k < 10; k++) chi2 += (bins[k] - e) * (bins[k] - e) / e;
    assert_true(chi2 < chi2_crit(9));
    /* A tiny shape piles the mass at both ends but never produces NaN. */
    for (int i = 0; i < 10000; i++) {
        double v = mg_rng_beta(&r, 0.01, 0.01);
        assert_true(v >= 0.0 && v <= 1.0);
    }
    free(x);
}

static int is_permutation(const int *p, int n)
{
    char *seen = calloc((size_t)n + 1, 1);
    if (!seen) return 0;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) ok = 0;
        else seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_permutation(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 4242);
    const int sizes[] = {0, 1, 2, 3, 10, 1000};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int n = sizes[t];
        int *p = malloc(((size_t)n + 1) * sizeof *p);
        assert_non_null(p);
        for (int k = 0; k < 20; k++) {
            mg_rng_permutation(&r, p, n);
            assert_true(is_permutation(p, n));
        }
        free(p);
    }
    /* n = 5: position-of-element counts (16 degrees of freedom: rows and
     * columns both sum to the draw count) and all 120 orders (119). */
    enum { N = 5, DRAWS = 120000 };
    int pos[N][N] = {{0}};
    static int order[120];
    memset(order, 0, sizeof order);
    for (int d = 0; d < DRAWS; d++) {
        int p[N];
        mg_rng_permutation(&r, p, N);
        for (int i = 0; i < N; i++) pos[p[i]][i]++;
        /* Lehmer code -> index 0..119. */
        int code = 0;
        for (int i = 0; i < N; i++) {
            int smaller = 0;
            for (int j = i + 1; j < N; j++) smaller += p[j] < p[i];
            code = code * (N - i) + smaller;
        }
        order[code]++;
    }
    double chi2 = 0.0, e = (double)DRAWS / N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) chi2 += (pos[i][j] - e) * (pos[i][j] - e) / e;
    if (!(chi2 < chi2_crit(16))) {
        print_error("position chi-square %.3f >= %.3f\n", chi2, chi2_crit(16));
        fail();
    }
    chi2 = 0.0;
    e = DRAWS / 120.0;
    for (int k = 0; k < 120; k++) chi2 += (order[k] - e) * (order[k] - e) / e;
    if (!(chi2 < chi2_crit(119))) {
        print_error("order chi-square %.3f >= %.3f\n", chi2, chi2_crit(119));
        fail();
    }
}

static void test_shuffle_int(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 8);
    int v[50];
    for (int i = 0; i < 50; i++) v[i] = 1000 + 3 * i;
    mg_rng_shuffle_int(&r, v, 50);
    /* Same multiset, different order. */
    int moved = 0;
    for (int i = 0; i < 50; i++) moved += v[i] != 1000 + 3 * i;
    assert_true(moved > 0);
    for (int i = 0; i < 50; i++) {
        int found = 0;
        for (int j = 0; j < 50; j++) found += v[j] == 1000 + 3 * i;
        assert_int_equal(found, 1);
    }
    /* mg_rng_permutation is the shuffle of the identity. */
    mg_rng a, b;
    mg_rng_seed(&a, 9);
    b = a;
    int p[31], q[31];
    for (int i = 0; i < 31; i++) q[i] = i;
    mg_rng_permutation(&a, p, 31);
    mg_rng_shuffle_int(&b, q, 31);
    assert_memory_equal(p, q, sizeof p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_outputs),  cmocka_unit_test(test_determinism_and_fork),
        cmocka_unit_test(test_seed3_streams),  cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_below),          cmocka_unit_test(test_normal),
        cmocka_unit_test(test_gamma),          cmocka_unit_test(test_beta),
        cmocka_unit_test(test_permutation),    cmocka_unit_test(test_shuffle_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
