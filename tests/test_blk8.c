/* test_blk8.c - kernels over the blocked layout nChw8c (src/blk8.h).
 *
 * Conversions: a hand-written small case element by element, the layout
 * formula on every element of a larger one, round trips NCHW -> blk8 -> NCHW
 * and back exact (outputs filled with NaN first, so an element not written
 * fails), the team versions bit for bit the serial ones (teams of 1, 2, 3,
 * and none).
 *
 * Batch norm: the blk8 kernels against the NCHW kernels of layer_bn2d.c
 * through the conversions, train and eval, with and without the fused ReLU,
 * over c = 8..64, hw = 1..784, n = 1..32 and channel means far from zero:
 * forward output, batch statistics, running buffers (eval: untouched), and
 * backward (given the same x, y, stats, dy) dgamma / dbeta accumulated onto
 * non-zero initial values and dx, within a relative tolerance of the values'
 * scale (the summation orders differ; the largest differences seen are
 * printed).  Without grads: the same dx bit for bit; without dx: the same
 * grads bit for bit; neither: nothing written.  Channel ranges of whole
 * blocks and the team versions (1, 2, 3 workers) are bit-identical to the
 * whole serial call.
 *
 * Global average pooling: forward against mg_gap_forward (tolerance: the sum
 * order), backward bit for bit mg_gap_backward's after conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk8.h"
#include "buffers.h"

/* ---------------------------------------------------------------- helpers */

/* The largest |a - b| relative to max |b| (at least floor); fails when it
 * exceeds tol, or when floor is 0 and b is all zero (a vacuous comparison). */
static double rel_diff(const float *a, const float *b, size_t n, double tol, double floor,
                       const char *what)
{
    size_t worst;
    double maxb, maxd = max_abs_diff(a, b, n, &worst, &maxb);
    double rel = maxd / fmax(maxb, floor);
    if ((floor == 0.0 && !(maxb > 0.0)) || !(rel <= tol)) {
        printf("  %s: max diff %.3g at %zu (%.9g vs %.9g), scale %.3g: relative %.3g > %.3g\n",
               what, maxd, worst, (double)a[worst], (double)b[worst], maxb, rel, tol);
        fail();
    }
    return rel;
}

/* A team of nw workers (0: none) in *par; *team to free afterwards. */
static void par_make(int nw, mg_par *par, mg_team **team)
{
    memset(par, 0, sizeof *par);
    *team = NULL;
    if (nw > 0) assert_int_equal(mg_team_create(nw, team), MG_OK);
    par->team = *team;
    par->n = nw > 0 ? mg_team_size(*team) : 1;
}

static size_t blk8_index(int c, int hw, int e, int j, int s)
{
    return (size_t)e * c * hw + (size_t)(j / 8) * hw * 8 + (size_t)s * 8 + j % 8;
}

/* ---------------------------------------------------------------- conversions */

static void test_blk8_layout_known(void **state)
{
    (void)state;
    /* one example, 8 channels of 2 positions: NCHW (j, s) holds 10 j + s */
    float x[16], y[16], back[16];
    for (int j = 0; j < 8; j++)
        for (int s = 0; s < 2; s++) x[j * 2 + s] = (float)(10 * j + s);
    const float want[16] = {0, 10, 20, 30, 40, 50, 60, 70, 1, 11, 21, 31, 41, 51, 61, 71};
    mg_blk8_from_nchw(x, y, 1, 8, 2);
    assert_memory_equal(y, want, sizeof want);
    mg_blk8_to_nchw(y, back, 1, 8, 2);
    assert_memory_equal(back, x, sizeof x);

    /* the layout formula on every element: n 2, c 24, hw 5 */
    const int N = 2, C = 24, HW = 5;
    size_t total = (size_t)N * C * HW;
    float *a = falloc(total), *b = falloc(total);
    for (size_t i = 0; i < total; i++) a[i] = (float)i;
    fill_nan(b, total);
    mg_blk8_from_nchw(a, b, N, C, HW);
    for (int e = 0; e < N; e++)
        for (int j = 0; j < C; j++)
            for (int s = 0; s < HW; s++) {
                size_t nchw = ((size_t)e * C + j) * HW + s;
                assert_true(b[blk8_index(C, HW, e, j, s)] == a[nchw]);
            }
    free(a);
    free(b);
}

static void test_blk8_round_trip(void **state)
{
    (void)state;
    const int N = 3, cs[] = {8, 16, 24}, hws[] = {1, 7, 49};
    mg_rng r;
    mg_rng_seed(&r, 81);
    for (int ci = 0; ci < 3; ci++)
        for (int hi = 0; hi < 3; hi++) {
            int c = cs[ci], hw = hws[hi];
            size_t total = (size_t)N * c * hw;
            float *x = falloc(total), *b = falloc(total), *back = falloc(total);
            fill_normal(x, total, &r, 1.0);
            fill_nan(b, total);
            fill_nan(back, total);
            mg_blk8_from_nchw(x, b, N, c, hw);
            mg_blk8_to_nchw(b, back, N, c, hw);
            assert_memory_equal(back, x, sizeof(float) * total);
            /* and the other way round: x read as a blk8 tensor */
            fill_nan(b, total);
            fill_nan(back, total);
            mg_blk8_to_nchw(x, b, N, c, hw);
            mg_blk8_from_nchw(b, back, N, c, hw);
            assert_memory_equal(back, x, sizeof(float) * total);
            free(x);
            free(b);
            free(back);
        }
}

static void test_blk8_convert_team(void **state)
{
    (void)state;
    /* small (serial below the size threshold), one example, and large */
    const int shapes[][3] = {{3, 8, 7}, {1, 16, 784}, {5, 16, 784}, {7, 24, 196}};
    mg_rng r;
    mg_rng_seed(&r, 82);
    for (int k = 0; k < 4; k++) {
        int n = shapes[k][0], c = shapes[k][1], hw = shapes[k][2];
        size_t total = (size_t)n * c * hw;
        float *x = falloc(total), *ref = falloc(total), *ref2 = falloc(total);
        float *got = falloc(total);
        fill_normal(x, total, &r, 1.0);
        fill_nan(ref, total);
        fill_nan(ref2, total);
        mg_blk8_from_nchw(x, ref, n, c, hw);
        mg_blk8_to_nchw(x, ref2, n, c, hw);
        for (int nw = 0; nw <= 3; nw++) {
            mg_par par;
            mg_team *team;
            par_make(nw, &par, &team);
            fill_nan(got, total);
            mg_par_blk8_from_nchw(&par, x, got, n, c, hw);
            assert_memory_equal(got, ref, sizeof(float) * total);
            fill_nan(got, total);
            mg_par_blk8_to_nchw(&par, x, got, n, c, hw);
            assert_memory_equal(got, ref2, sizeof(float) * total);
            mg_team_free(team);
        }
        free(x);
        free(ref);
        free(ref2);
        free(got);
    }
}

/* ---------------------------------------------------------------- bn2d */

typedef struct {
    int c, hw, n;
} bn_shape;

/* Channel j: mean (j % 5 - 2) * 3 (channel 5 of each 8: 100, to test the
 * pivot), sd 0.5 .. 2; params, running stats, dy and the initial grads
 * random. */
static void bn_fill(const bn_shape *s, mg_rng *r, float *x, float *dy, float *params,
                    float *buffers, float *grads)
{
    int c = s->c;
    for (int e = 0; e < s->n; e++)
        for (int j = 0; j < c; j++) {
            double mu = j % 8 == 5 ? 100.0 : 3.0 * (j % 5 - 2), sd = 0.5 + 0.5 * (j % 4);
            for (int i = 0; i < s->hw; i++)
                x[((size_t)e * c + j) * s->hw + i] = (float)(mu + sd * mg_rng_normal(r));
        }
    fill_normal(dy, (size_t)s->n * c * s->hw, r, 1.0);
    for (int j = 0; j < c; j++) {
        params[j] = (float)(1.0 + 0.3 * mg_rng_normal(r));
        params[c + j] = (float)(0.2 * mg_rng_normal(r));
        buffers[j] = (float)(0.5 * mg_rng_normal(r));
        buffers[c + j] = (float)(0.5 + mg_rng_uniform(r));
        grads[j] = (float)mg_rng_normal(r);
        grads[c + j] = (float)mg_rng_normal(r);
    }
}

/* the largest relative differences seen, per quantity */
enum { D_Y, D_MEAN, D_ISTD, D_RMEAN, D_RVAR, D_DX, D_DGAMMA, D_DBETA, D_N };
static const char *const d_names[D_N] = {"y",           "mean", "istd",   "running mean",
                                         "running var", "dx",   "dgamma", "dbeta"};

#define BN_TOL 2e-5

static void bn_compare_case(const bn_shape *s, int train, int relu, mg_rng *r, double *dmax)
{
    int c = s->c, hw = s->hw, n = s->n;
    size_t total = (size_t)n * c * hw;
    float *x = falloc(total), *dy = falloc(total), *y = falloc(total), *dx = falloc(total);
    float *xb = falloc(total), *dyb = falloc(total), *yb = falloc(total), *dxb = falloc(total);
    float *t = falloc(total), *yref_b = falloc(total);
    float *params = falloc(2 * c), *buf = falloc(2 * c), *bufb = falloc(2 * c);
    float *buf0 = falloc(2 * c), *stats = falloc(2 * c), *statsb = falloc(2 * c);
    float *g = falloc(2 * c), *gb = falloc(2 * c), *g0 = falloc(2 * c);
    float *inc = falloc(2 * c), *incb = falloc(2 * c);
    bn_fill(s, r, x, dy, params, buf, g0);
    memcpy(buf0, buf, sizeof(float) * 2 * c);
    memcpy(bufb, buf, sizeof(float) * 2 * c);
    mg_blk8_from_nchw(x, xb, n, c, hw);
    mg_blk8_from_nchw(dy, dyb, n, c, hw);
    char what[96];
    double d;
#define CHECK(k, a, b, cnt, floor)                                                                 \
    do {                                                                                           \
        snprintf(what, sizeof what, "c %d hw %d n %d train %d relu %d: %s", c, hw, n, train, relu, \
                 d_names[k]);                                                                      \
        d = rel_diff((a), (b), (cnt), BN_TOL, (floor), what);                                      \
        if (d > dmax[k]) dmax[k] = d;                                                              \
    } while (0)

    /* forward */
    fill_nan(y, total);
    fill_nan(yb, total);
    mg_bn2d_forward(c, hw, n, params, buf, x, y, stats, train, relu);
    mg_bn2d_blk8_forward_channels(c, 0, c, hw, n, params, bufb, xb, yb, statsb, train, relu);
    mg_blk8_to_nchw(yb, t, n, c, hw);
    CHECK(D_Y, t, y, total, 0.0);
    CHECK(D_MEAN, statsb, stats, c, 0.0);
    CHECK(D_ISTD, statsb + c, stats + c, c, 0.0);
    CHECK(D_RMEAN, bufb, buf, c, 0.0);
    CHECK(D_RVAR, bufb + c, buf + c, c, 0.0);
    if (!train) {
        assert_memory_equal(bufb, buf0, sizeof(float) * 2 * c);
        assert_memory_equal(statsb, stats, sizeof(float) * 2 * c); /* the running stats */
    }

    /* backward, from the same x, y, stats and dy */
    mg_blk8_from_nchw(y, yref_b, n, c, hw);
    memcpy(g, g0, sizeof(float) * 2 * c);
    memcpy(gb, g0, sizeof(float) * 2 * c);
    fill_nan(dx, total);
    fill_nan(dxb, total);
    mg_bn2d_backward(c, hw, n, params, g, x, y, stats, dy, dx, train, relu);
    mg_bn2d_blk8_backward_channels(c, 0, c, hw, n, params, gb, xb, yref_b, stats, dyb, dxb, train,
                                   relu);
    mg_blk8_to_nchw(dxb, t, n, c, hw);
    /* one value per channel in train mode: dx and dgamma are 0 (up to
     * rounding), judged absolutely */
    double floor = train && n * hw == 1 ? 1.0 : 0.0;
    CHECK(D_DX, t, dx, total, floor);
    /* the increments, relative to the gradient's own scale */
    for (int i = 0; i < 2 * c; i++) inc[i] = g[i] - g0[i], incb[i] = gb[i] - g0[i];
    CHECK(D_DGAMMA, incb, inc, c, floor);
    CHECK(D_DBETA, incb + c, inc + c, c, 0.0);
#undef CHECK

    /* without grads: the same dx bit for bit; without dx: the same grads */
    memcpy(t, dxb, sizeof(float) * total);
    fill_nan(dxb, total);
    mg_bn2d_blk8_backward_channels(c, 0, c, hw, n, params, NULL, xb, yref_b, stats, dyb, dxb, train,
                                   relu);
    assert_memory_equal(dxb, t, sizeof(float) * total);
    memcpy(g, g0, sizeof(float) * 2 * c);
    mg_bn2d_blk8_backward_channels(c, 0, c, hw, n, params, g, xb, yref_b, stats, dyb, NULL, train,
                                   relu);
    assert_memory_equal(g, gb, sizeof(float) * 2 * c);
    /* neither: a no-op */
    memcpy(g, gb, sizeof(float) * 2 * c);
    mg_bn2d_blk8_backward_channels(c, 0, c, hw, n, params, NULL, xb, yref_b, stats, dyb, NULL,
                                   train, relu);
    assert_memory_equal(g, gb, sizeof(float) * 2 * c);

    float *bufs[] = {x,   dy,   y,    dx,    xb,     dyb, yb, dxb, t,   yref_b, params,
                     buf, bufb, buf0, stats, statsb, g,   gb, g0,  inc, incb};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
}

static void test_bn2d_blk8_vs_nchw(void **state)
{
    (void)state;
    const bn_shape shapes[] = {
        {8, 1, 1},   {8, 1, 5},    {8, 49, 1},    {8, 784, 5},  {16, 1, 32},
        {16, 49, 5}, {16, 784, 1}, {16, 784, 32}, {64, 49, 32}, {64, 1, 5},
    };
    double dmax[D_N] = {0};
    mg_rng r;
    mg_rng_seed(&r, 83);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int train = 0; train < 2; train++)
            for (int relu = 0; relu < 2; relu++) bn_compare_case(&shapes[k], train, relu, &r, dmax);
    printf("  blk8 vs NCHW bn2d, largest relative differences (tolerance %.0e):\n", BN_TOL);
    for (int k = 0; k < D_N; k++) printf("    %-13s %.3g\n", d_names[k], dmax[k]);
}

/* Channel ranges of whole blocks and the team versions give the whole
 * serial call's results bit for bit. */
static void test_bn2d_blk8_team(void **state)
{
    (void)state;
    const bn_shape shapes[] = {{8, 49, 5}, {24, 49, 5}, {64, 16, 7}};
    mg_rng r;
    mg_rng_seed(&r, 84);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int c = shapes[k].c, hw = shapes[k].hw, n = shapes[k].n;
        size_t total = (size_t)n * c * hw;
        float *x = falloc(total), *dy = falloc(total), *y = falloc(total), *dx = falloc(total);
        float *y2 = falloc(total), *dx2 = falloc(total);
        float *params = falloc(2 * c), *buf0 = falloc(2 * c), *g0 = falloc(2 * c);
        float *buf = falloc(2 * c), *buf2 = falloc(2 * c), *stats = falloc(2 * c);
        float *stats2 = falloc(2 * c), *g = falloc(2 * c), *g2 = falloc(2 * c);
        float *xn = falloc(total), *dyn = falloc(total);
        bn_fill(&shapes[k], &r, xn, dyn, params, buf0, g0);
        mg_blk8_from_nchw(xn, x, n, c, hw);
        mg_blk8_from_nchw(dyn, dy, n, c, hw);
        for (int train = 0; train < 2; train++)
            for (int relu = 0; relu < 2; relu++) {
                /* the serial whole call */
                memcpy(buf, buf0, sizeof(float) * 2 * c);
                memcpy(g, g0, sizeof(float) * 2 * c);
                mg_bn2d_blk8_forward_channels(c, 0, c, hw, n, params, buf, x, y, stats, train,
                                              relu);
                mg_bn2d_blk8_backward_channels(c, 0, c, hw, n, params, g, x, y, stats, dy, dx,
                                               train, relu);
                /* block ranges, the last block first */
                memcpy(buf2, buf0, sizeof(float) * 2 * c);
                memcpy(g2, g0, sizeof(float) * 2 * c);
                fill_nan(y2, total);
                fill_nan(dx2, total);
                int j = c - 8;
                mg_bn2d_blk8_forward_channels(c, j, c, hw, n, params, buf2, x, y2, stats2, train,
                                              relu);
                mg_bn2d_blk8_forward_channels(c, 0, j, hw, n, params, buf2, x, y2, stats2, train,
                                              relu);
                mg_bn2d_blk8_backward_channels(c, j, c, hw, n, params, g2, x, y2, stats2, dy, dx2,
                                               train, relu);
                mg_bn2d_blk8_backward_channels(c, 0, j, hw, n, params, g2, x, y2, stats2, dy, dx2,
                                               train, relu);
                assert_memory_equal(y2, y, sizeof(float) * total);
                assert_memory_equal(stats2, stats, sizeof(float) * 2 * c);
                assert_memory_equal(buf2, buf, sizeof(float) * 2 * c);
                assert_memory_equal(g2, g, sizeof(float) * 2 * c);
                assert_memory_equal(dx2, dx, sizeof(float) * total);
                for (int nw = 0; nw <= 3; nw++) {
                    mg_par par;
                    mg_team *team;
                    par_make(nw, &par, &team);
                    memcpy(buf2, buf0, sizeof(float) * 2 * c);
                    memcpy(g2, g0, sizeof(float) * 2 * c);
                    fill_nan(y2, total);
                    fill_nan(stats2, 2 * c);
                    mg_par_bn2d_blk8_forward(&par, c, hw, n, params, buf2, x, y2, stats2, train,
                                             relu);
                    assert_memory_equal(y2, y, sizeof(float) * total);
                    assert_memory_equal(stats2, stats, sizeof(float) * 2 * c);
                    assert_memory_equal(buf2, buf, sizeof(float) * 2 * c);
                    fill_nan(dx2, total);
                    mg_par_bn2d_blk8_backward(&par, c, hw, n, params, g2, x, y2, stats2, dy, dx2,
                                              train, relu);
                    assert_memory_equal(g2, g, sizeof(float) * 2 * c);
                    assert_memory_equal(dx2, dx, sizeof(float) * total);
                    /* input gradient only, then parameter gradients only */
                    fill_nan(dx2, total);
                    mg_par_bn2d_blk8_backward(&par, c, hw, n, params, NULL, x, y2, stats2, dy, dx2,
                                              train, relu);
                    assert_memory_equal(dx2, dx, sizeof(float) * total);
                    memcpy(g2, g0, sizeof(float) * 2 * c);
                    mg_par_bn2d_blk8_backward(&par, c, hw, n, params, g2, x, y2, stats2, dy, NULL,
                                              train, relu);
                    assert_memory_equal(g2, g, sizeof(float) * 2 * c);
                    mg_team_free(team);
                }
            }
        float *bufs[] = {x,   dy,   y,     dx,     y2, dx2, params, buf0, g0,
                         buf, buf2, stats, stats2, g,  g2,  xn,     dyn};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    }
}

/* ---------------------------------------------------------------- pooling */

static void test_gap_blk8_vs_nchw(void **state)
{
    (void)state;
    const int N = 3, cs[] = {8, 16, 64}, hws[] = {1, 7, 49, 784};
    mg_rng r;
    mg_rng_seed(&r, 85);
    double dmax = 0.0;
    for (int ci = 0; ci < 3; ci++)
        for (int hi = 0; hi < 4; hi++) {
            int c = cs[ci], hw = hws[hi];
            size_t total = (size_t)N * c * hw, out = (size_t)N * c;
            float *x = falloc(total), *xb = falloc(total), *dx = falloc(total);
            float *dxb = falloc(total), *t = falloc(total);
            float *y = falloc(out), *yb = falloc(out), *dy = falloc(out);
            /* a non-zero mean per plane, so that the mean is no rounding noise */
            for (size_t i = 0; i < total; i++)
                x[i] = (float)(1.0 + (double)(i / hw % 7) + mg_rng_normal(&r));
            fill_normal(dy, out, &r, 1.0);
            mg_blk8_from_nchw(x, xb, N, c, hw);
            fill_nan(yb, out);
            mg_gap_forward(c, hw, N, x, y);
            mg_gap_blk8_forward(c, hw, N, xb, yb);
            char what[64];
            snprintf(what, sizeof what, "gap c %d hw %d", c, hw);
            double d = rel_diff(yb, y, out, 1e-5, 0.0, what);
            if (d > dmax) dmax = d;
            fill_nan(dxb, total);
            mg_gap_backward(c, hw, N, dy, dx);
            mg_gap_blk8_backward(c, hw, N, dy, dxb);
            mg_blk8_to_nchw(dxb, t, N, c, hw);
            assert_memory_equal(t, dx, sizeof(float) * total);
            float *bufs[] = {x, xb, dx, dxb, t, y, yb, dy};
            for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
        }
    printf("  blk8 vs NCHW gap forward, largest relative difference %.3g\n", dmax);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blk8_layout_known), cmocka_unit_test(test_blk8_round_trip),
        cmocka_unit_test(test_blk8_convert_team), cmocka_unit_test(test_bn2d_blk8_vs_nchw),
        cmocka_unit_test(test_bn2d_blk8_team),    cmocka_unit_test(test_gap_blk8_vs_nchw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
