/* test_loss.c - softmax, the CE and BCE losses (values by hand, gradients by
 * central finite differences of an independent double-precision loss), and
 * the mixup operation: forward by hand, the adjoint identity, finite
 * differences through the backward, soft targets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixgeo.h"

/* |got - want| <= rel |want| + abs_floor, with a message naming the quantity. */
static void expect_close(const char *what, double got, double want, double rel, double abs_floor)
{
    if (!(fabs(got - want) <= rel * fabs(want) + abs_floor)) {
        print_error("%s: got %.12g, want %.12g (rel %.3g, abs %.3g)\n", what, got, want, rel,
                    abs_floor);
        fail();
    }
}

/* ------------------------------------------------------------ reference loss */

/* The losses written out plainly in double, from the definitions:
 * p = softmax(z); CE = mean_rows -sum t log p;
 * BCE = mean_{rows x classes} -[t max(log p, -100) + (1-t) max(log(1-p), -100)],
 * with log(1 - p_j) = log(sum_{k != j} e^{z_k}) - log(sum_k e^{z_k}). */
static double ref_loss(mg_loss_kind kind, const double *z, const float *t, int n, int c)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const double *zi = z + (size_t)i * c;
        const float *ti = t + (size_t)i * c;
        double m = zi[0];
        for (int j = 1; j < c; j++) m = fmax(m, zi[j]);
        double s = 0.0;
        for (int j = 0; j < c; j++) s += exp(zi[j] - m);
        for (int j = 0; j < c; j++) {
            double lp = zi[j] - m - log(s);
            if (kind == MG_LOSS_CE) {
                total -= ti[j] * lp;
                continue;
            }
            double others = 0.0;
            for (int k = 0; k < c; k++)
                if (k != j) others += exp(zi[k] - m);
            double l1p = log(others) - log(s);
            total -= ti[j] * fmax(lp, -100.0) + (1.0 - ti[j]) * fmax(l1p, -100.0);
        }
    }
    return total / (kind == MG_LOSS_CE ? n : (double)n * c);
}

/* Checks mg_loss's value against ref_loss and its gradient against central
 * differences of ref_loss, element by element; the gradient must not be ~0. */
static void check_loss_and_gradient(const char *name, mg_loss_kind kind, const float *z,
                                    const float *t, int n, int c)
{
    size_t len = (size_t)n * c;
    float *dz = malloc(len * sizeof *dz);
    double *zd = malloc(len * sizeof *zd);
    assert_non_null(dz);
    assert_non_null(zd);
    for (size_t i = 0; i < len; i++) zd[i] = z[i];
    double got = mg_loss(kind, z, t, n, c, dz);
    char what[160];
    snprintf(what, sizeof what, "%s %s value", name, mg_loss_name(kind));
    expect_close(what, got, ref_loss(kind, zd, t, n, c), 1e-9, 1e-12);
    /* The loss without dz is the same number. */
    assert_true(mg_loss(kind, z, t, n, c, NULL) == got);
    double norm2 = 0.0;
    for (size_t i = 0; i < len; i++) {
        double h = 1e-5 * fmax(1.0, fabs(zd[i]));
        double keep = zd[i];
        zd[i] = keep + h;
        double up = ref_loss(kind, zd, t, n, c);
        zd[i] = keep - h;
        double down = ref_loss(kind, zd, t, n, c);
        zd[i] = keep;
        double fd = (up - down) / (2.0 * h);
        snprintf(what, sizeof what, "%s %s d/dz[%zu]", name, mg_loss_name(kind), i);
        expect_close(what, dz[i], fd, 1e-3, 1e-6);
        norm2 += fd * fd;
    }
    if (!(sqrt(norm2) > 1e-3)) {
        print_error("%s %s: gradient norm %.3g is ~0, the check proves nothing\n", name,
                    mg_loss_name(kind), sqrt(norm2));
        fail();
    }
    free(dz);
    free(zd);
}

static void random_logits(mg_rng *r, float *z, size_t len, double scale)
{
    for (size_t i = 0; i < len; i++) z[i] = (float)(scale * mg_rng_normal(r));
}

/* ------------------------------------------------------------ loss tests */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mg_loss_name(MG_LOSS_CE), "ce");
    assert_string_equal(mg_loss_name(MG_LOSS_BCE), "bce");
}

static void test_softmax(void **state)
{
    (void)state;
    /* [0, ln 2, ln 3] -> [1/6, 2/6, 3/6]; shifting a row changes nothing. */
    float z[9] = {0.0f, logf(2.0f), logf(3.0f), 100.0f, 100.0f + logf(2.0f),
                  100.0f + logf(3.0f), 1000.0f, 0.0f, -1000.0f};
    float p[9];
    mg_softmax(z, p, 3, 3);
    for (int r = 0; r < 2; r++) {
        /* Row 1 carries the float rounding of 100 + ln 2 (~4e-6). */
        double rel = r == 0 ? 1e-6 : 2e-5;
        expect_close("softmax 1/6", p[3 * r + 0], 1.0 / 6.0, rel, 0.0);
        expect_close("softmax 2/6", p[3 * r + 1], 2.0 / 6.0, rel, 0.0);
        expect_close("softmax 3/6", p[3 * r + 2], 3.0 / 6.0, rel, 0.0);
    }
    /* Huge logits: no overflow. */
    assert_true(p[6] == 1.0f && p[7] == 0.0f && p[8] == 0.0f);
    /* In place. */
    mg_softmax(z, z, 3, 3);
    assert_memory_equal(z, p, sizeof p);
    /* A NaN anywhere in a row poisons that row only. */
    float w[6] = {0.0f, NAN, 1.0f, 0.0f, 0.0f, 0.0f};
    mg_softmax(w, w, 2, 3);
    assert_true(isnan(w[0]) && isnan(w[1]) && isnan(w[2]));
    expect_close("softmax uniform", w[4], 1.0 / 3.0, 1e-6, 0.0);
}

static void test_known_values(void **state)
{
    (void)state;
    enum { N = 3, C = 4 };
    float z[N * C];
    float onehot[N * C] = {0}, soft[N * C] = {0};
    float dz[N * C];
    for (int i = 0; i < N * C; i++) z[i] = 1.75f; /* uniform logits: p = 1/4 */
    onehot[0 * C + 1] = onehot[1 * C + 3] = onehot[2 * C + 0] = 1.0f;
    soft[0] = 0.25f, soft[1] = 0.75f;
    soft[C + 2] = 1.0f;
    soft[2 * C + 0] = 0.1f, soft[2 * C + 1] = 0.2f, soft[2 * C + 2] = 0.3f, soft[2 * C + 3] = 0.4f;
    /* CE at uniform logits is ln C for any targets summing to 1. */
    expect_close("CE uniform one-hot", mg_loss(MG_LOSS_CE, z, onehot, N, C, dz), log(4.0), 1e-12,
                 0);
    for (int i = 0; i < N * C; i++)
        expect_close("CE uniform gradient", dz[i], (0.25 - onehot[i]) / N, 1e-6, 1e-9);
    expect_close("CE uniform soft", mg_loss(MG_LOSS_CE, z, soft, N, C, NULL), log(4.0), 1e-7, 0);
    /* BCE at p = 1/4: per row -[log(1/4) + 3 log(3/4)], divided by C. */
    double bce_uniform = (log(4.0) + 3.0 * log(4.0 / 3.0)) / C;
    expect_close("BCE uniform one-hot", mg_loss(MG_LOSS_BCE, z, onehot, N, C, NULL),
                 bce_uniform, 1e-12, 0);
    expect_close("BCE uniform soft", mg_loss(MG_LOSS_BCE, z, soft, N, C, NULL), bce_uniform, 1e-7,
                 0);

    /* By hand: z = [0, ln 2, ln 3] -> p = [1/6, 1/3, 1/2], t = [1/2, 0, 1/2]. */
    float z3[3] = {0.0f, (float)log(2.0), (float)log(3.0)};
    float t3[3] = {0.5f, 0.0f, 0.5f};
    double ce = -(0.5 * log(1.0 / 6.0) + 0.5 * log(0.5));
    double bce = (-(0.5 * log(1.0 / 6.0) + 0.5 * log(5.0 / 6.0)) /* class 0 */
                  - log(2.0 / 3.0)                              /* class 1: t = 0 */
                  - (0.5 * log(0.5) + 0.5 * log(0.5)))          /* class 2 */
                 / 3.0;
    expect_close("CE by hand", mg_loss(MG_LOSS_CE, z3, t3, 1, 3, NULL), ce, 1e-6, 0);
    expect_close("BCE by hand", mg_loss(MG_LOSS_BCE, z3, t3, 1, 3, NULL), bce, 1e-6, 0);
    /* CE gradient = p - t here (one row, targets sum to 1). */
    float d3[3];
    mg_loss(MG_LOSS_CE, z3, t3, 1, 3, d3);
    expect_close("CE grad 0", d3[0], 1.0 / 6.0 - 0.5, 1e-6, 1e-8);
    expect_close("CE grad 1", d3[1], 1.0 / 3.0, 1e-6, 1e-8);
    expect_close("CE grad 2", d3[2], 0.0, 1e-6, 1e-7);
}

static void test_gradients_random(void **state)
{
    (void)state;
    enum { N = 6, C = 5 };
    mg_rng r;
    mg_rng_seed(&r, 2718);
    float z[N * C], t[N * C];
    int32_t y[N];
    int perm[N];
    for (int trial = 0; trial < 3; trial++) {
        random_logits(&r, z, N * C, 1.0 + 2.0 * trial);
        for (int i = 0; i < N; i++) y[i] = (int32_t)mg_rng_below(&r, C);
        mg_rng_permutation(&r, perm, N);
        for (int kind = MG_LOSS_CE; kind <= MG_LOSS_BCE; kind++) {
            mg_mix_targets(y, N, C, 1.0f, NULL, t);
            check_loss_and_gradient("one-hot", (mg_loss_kind)kind, z, t, N, C);
            mg_mix_targets(y, N, C, 0.3f, perm, t);
            check_loss_and_gradient("mixed", (mg_loss_kind)kind, z, t, N, C);
            /* Arbitrary soft targets in (0, 1), rows normalised. */
            for (int i = 0; i < N; i++) {
                double s = 0.0;
                for (int j = 0; j < C; j++) s += t[i * C + j] = (float)(0.05 + mg_rng_uniform(&r));
                for (int j = 0; j < C; j++) t[i * C + j] = (float)(t[i * C + j] / s);
            }
            check_loss_and_gradient("soft", (mg_loss_kind)kind, z, t, N, C);
            /* Targets that do not sum to 1: CE's gradient is p sum(t) - t. */
            for (int j = 0; j < N * C; j++) t[j] *= 0.7f;
            check_loss_and_gradient("unnormalised", (mg_loss_kind)kind, z, t, N, C);
        }
    }
}

static void test_confident_and_clamped(void **state)
{
    (void)state;
    enum { C = 4 };
    /* Row 0: p_0 rounds to 1 in float (e^-40); BCE must use the exact
     * log(1 - p_0) ~ -40 + ln 3, not log(0) clamped to -100.
     * Row 1: p_1 ~ e^-150 < e^-100, so log p_1 is clamped (flat). */
    float z[2 * C] = {40.0f, 0.0f, 0.0f, 0.0f, 0.0f, -150.0f, 0.5f, -0.5f};
    float t[2 * C] = {0.0f, 1.0f, 0.0f, 0.0f, 0.1f, 0.6f, 0.3f, 0.0f};
    float p[2 * C];
    mg_softmax(z, p, 2, C);
    assert_true(p[0] == 1.0f); /* the float trap is real */
    for (int kind = MG_LOSS_CE; kind <= MG_LOSS_BCE; kind++) {
        double v = mg_loss((mg_loss_kind)kind, z, t, 2, C, NULL);
        assert_true(isfinite(v));
        check_loss_and_gradient("confident", (mg_loss_kind)kind, z, t, 2, C);
    }
    /* Row 0 alone, BCE, against the closed form: class 0 (t = 0) costs
     * -log(1 - p_0) = 40 + log(1 + 3e^-40) - log 3; class 1 (t = 1) costs
     * -log p_1 = 40 + log(1 + 3e^-40); classes 2, 3 cost -log(1 - p) ~ e^-40. */
    double lse = 40.0 + log1p(3.0 * exp(-40.0));
    double want = ((lse - log(3.0)) + lse + 2.0 * -log1p(-exp(-lse))) / C;
    expect_close("BCE confident row", mg_loss(MG_LOSS_BCE, z, t, 1, C, NULL), want, 1e-9, 0);
}

static void test_ce_minus_entropy_nonnegative(void **state)
{
    (void)state;
    enum { N = 8, C = 6 };
    mg_rng r;
    mg_rng_seed(&r, 55);
    float z[N * C], t[N * C];
    for (int trial = 0; trial < 20; trial++) {
        random_logits(&r, z, N * C, 2.0);
        double h = 0.0;
        for (int i = 0; i < N; i++) {
            double s = 0.0;
            for (int j = 0; j < C; j++) s += t[i * C + j] = (float)mg_rng_uniform(&r);
            for (int j = 0; j < C; j++) {
                t[i * C + j] = (float)(t[i * C + j] / s);
                if (t[i * C + j] > 0) h -= t[i * C + j] * log(t[i * C + j]);
            }
        }
        h /= N;
        /* KL(t || softmax z) = CE - H(t) >= 0 ... */
        assert_true(mg_loss(MG_LOSS_CE, z, t, N, C, NULL) - h >= -1e-6);
        /* ... and = 0 at z = log t: loss(u, u) = 0 after the entropy. */
        for (int j = 0; j < N * C; j++) z[j] = logf(t[j]);
        expect_close("CE - H at z = log t", mg_loss(MG_LOSS_CE, z, t, N, C, NULL) - h, 0.0, 0,
                     1e-6);
    }
}

static void test_nonfinite_logits(void **state)
{
    (void)state;
    enum { N = 2, C = 3 };
    const float bad[] = {NAN, INFINITY, -INFINITY};
    float t[N * C] = {1, 0, 0, 0, 0, 1};
    for (int b = 0; b < 3; b++) {
        for (int pos = 0; pos < N * C; pos++) {
            float z[N * C] = {0.1f, -0.2f, 0.3f, 1.0f, 2.0f, -1.0f};
            z[pos] = bad[b];
            float dz[N * C];
            for (int kind = MG_LOSS_CE; kind <= MG_LOSS_BCE; kind++) {
                double v = mg_loss((mg_loss_kind)kind, z, t, N, C, dz);
                if (isfinite(v)) {
                    print_error("%s with %g at %d gave finite %g\n",
                                mg_loss_name((mg_loss_kind)kind), bad[b], pos, v);
                    fail();
                }
            }
        }
    }
}

/* ------------------------------------------------------------ mixup tests */

static void test_mix_forward_by_hand(void **state)
{
    (void)state;
    const float h[] = {1, 2, 3, 4, 5, 6}; /* 3 rows of 2 */
    const int perm[] = {2, 1, 0};
    float out[6];
    mg_mix_forward(h, out, 3, 2, 0.25f, perm);
    const float want[] = {0.25f * 1 + 0.75f * 5, 0.25f * 2 + 0.75f * 6, 3, 4,
                          0.25f * 5 + 0.75f * 1, 0.25f * 6 + 0.75f * 2};
    for (int i = 0; i < 6; i++) expect_close("mix forward", out[i], want[i], 1e-7, 0);
    /* lambda = 1 is the identity, lambda = 0 the permutation, exactly. */
    mg_mix_forward(h, out, 3, 2, 1.0f, perm);
    assert_memory_equal(out, h, sizeof out);
    mg_mix_forward(h, out, 3, 2, 0.0f, perm);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) assert_true(out[i * 2 + j] == h[perm[i] * 2 + j]);
}

enum { MN = 6, MD = 5 };
/* Maps tried: identity (all fixed points); a random-looking permutation; pairs
 * that meet each other (2-cycles) with fixed points; not a permutation at
 * all (many rows take the same partner). */
static const int g_perms[][MN] = {{0, 1, 2, 3, 4, 5}, {3, 5, 0, 1, 2, 4}, {1, 0, 2, 4, 3, 5},
                                  {0, 0, 0, 2, 2, 5}};

static void test_mix_adjoint(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 123);
    float h[MN * MD], g[MN * MD], out[MN * MD], dh[MN * MD];
    const float lambdas[] = {0.0f, 0.37f, 1.0f, 0.9f};
    for (size_t p = 0; p < sizeof g_perms / sizeof g_perms[0]; p++) {
        for (size_t l = 0; l < sizeof lambdas / sizeof lambdas[0]; l++) {
            random_logits(&r, h, MN * MD, 1.0);
            random_logits(&r, g, MN * MD, 1.0);
            mg_mix_forward(h, out, MN, MD, lambdas[l], g_perms[p]);
            /* Accumulation: start dh at 1 and subtract it afterwards. */
            for (int i = 0; i < MN * MD; i++) dh[i] = 1.0f;
            mg_mix_backward(g, dh, MN, MD, lambdas[l], g_perms[p]);
            double lhs = 0.0, rhs = 0.0, scale = 0.0;
            for (int i = 0; i < MN * MD; i++) {
                lhs += (double)out[i] * g[i];
                rhs += (double)h[i] * (dh[i] - 1.0);
                scale += fabs((double)out[i] * g[i]);
            }
            expect_close("<mix h, g> = <h, mix^T g>", lhs, rhs, 0.0, 1e-5 * scale);
        }
    }
}

static void test_mix_backward_finite_differences(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 321);
    float h[MN * MD], w[MN * MD], out[MN * MD], dh[MN * MD];
    const float lambda = 0.3f;
    for (size_t p = 0; p < sizeof g_perms / sizeof g_perms[0]; p++) {
        random_logits(&r, h, MN * MD, 1.0);
        random_logits(&r, w, MN * MD, 1.0);
        memset(dh, 0, sizeof dh);
        mg_mix_backward(w, dh, MN, MD, lambda, g_perms[p]);
        double norm2 = 0.0;
        for (int i = 0; i < MN * MD; i++) {
            /* f(h) = sum w .* mix(h), in double from the float outputs. */
            const float step = 1e-2f;
            double f[2];
            float keep = h[i];
            for (int s = 0; s < 2; s++) {
                h[i] = keep + (s ? -step : step);
                mg_mix_forward(h, out, MN, MD, lambda, g_perms[p]);
                f[s] = 0.0;
                for (int j = 0; j < MN * MD; j++) f[s] += (double)w[j] * out[j];
            }
            h[i] = keep;
            double fd = (f[0] - f[1]) / (2.0 * step);
            expect_close("d sum(w mix(h)) / dh", dh[i], fd, 1e-3, 1e-4);
            norm2 += fd * fd;
        }
        assert_true(sqrt(norm2) > 0.1);
    }
}

static void test_mix_targets(void **state)
{
    (void)state;
    enum { N = 4, C = 3 };
    const int32_t y[N] = {0, 2, 2, 1};
    const int perm[N] = {1, 2, 3, 3};
    float t[N * C];
    for (int i = 0; i < N * C; i++) t[i] = 99.0f; /* overwritten */
    mg_mix_targets(y, N, C, 0.3f, perm, t);
    const float want[N * C] = {
        0.3f, 0.0f, 0.7f, /* 0 meets 1: classes 0 and 2 */
        0.0f, 0.0f, 1.0f, /* 1 meets 2: both class 2    */
        0.0f, 0.7f, 0.3f, /* 2 meets 3: classes 2 and 1 */
        0.0f, 1.0f, 0.0f, /* 3 meets itself             */
    };
    for (int i = 0; i < N * C; i++) expect_close("mixed target", t[i], want[i], 1e-7, 0);
    for (int i = 0; i < N; i++) {
        double s = 0.0;
        for (int j = 0; j < C; j++) s += t[i * C + j];
        expect_close("target row sum", s, 1.0, 1e-7, 0);
    }
    assert_true(t[1 * C + 2] == 1.0f && t[3 * C + 1] == 1.0f);
    /* perm = NULL: plain one-hot whatever lambda is. */
    mg_mix_targets(y, N, C, 0.3f, NULL, t);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) assert_true(t[i * C + j] == (j == y[i] ? 1.0f : 0.0f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_gradients_random),
        cmocka_unit_test(test_confident_and_clamped),
        cmocka_unit_test(test_ce_minus_entropy_nonnegative),
        cmocka_unit_test(test_nonfinite_logits),
        cmocka_unit_test(test_mix_forward_by_hand),
        cmocka_unit_test(test_mix_adjoint),
        cmocka_unit_test(test_mix_backward_finite_differences),
        cmocka_unit_test(test_mix_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
