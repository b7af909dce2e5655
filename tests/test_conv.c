/* test_conv.c - convolution, 2-D batch norm and pooling kernels (src/conv.h).
 *
 * Fast vs reference: every conv algorithm (im2col, shifted views, mixed) and
 * several chunk sizes against the naive direct loops (double accumulation),
 * forward, weight/bias gradients and input gradient (also with grads NULL:
 * the same dx bit for bit), over kernel sizes 1, 3, 5, strides 1 and 2,
 * paddings 0..2, non-square inputs and kernels, batches that are not a
 * multiple of the chunk.  Workspaces are allocated at exactly
 * mg_conv2d_workspace() floats and filled with NaN before each call, so an
 * overrun (ASan) or a read of stale workspace (NaN in the result) fails.
 *
 * Finite differences: objective F = sum_i w_i y_i (w random, accumulated in
 * double), central differences on sampled coordinates of weights, bias,
 * gamma/beta and inputs, compared relative to the gradient's scale; every
 * check asserts that the analytic gradient is not vacuous.  Coordinates
 * where a ReLU kink or a max-pool switch lies within +-h (the one-sided
 * slopes disagree) are skipped, and the test asserts that few are.
 *
 * Known answers: BN2d output moments per channel and running statistics
 * after one step, eval-mode output; pooling on small hand-made inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "buffers.h"

/* ---------------------------------------------------------------- helpers */

static int close_rel(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (fabs(a) + fabs(b) + 1e-12);
}

typedef double (*objective_fn)(void *ctx);

/* Compare the analytic gradient g of F w.r.t. the array v on up to `checks`
 * coordinates by central differences of step h.  Returns the number of
 * coordinates skipped at a kink; fails on a mismatch or a vacuous gradient. */
static int fd_check(objective_fn F, void *ctx, float *v, const float *g, size_t count, double h,
                    int checks, double tol, const char *what)
{
    double gn = 0.0;
    for (size_t i = 0; i < count; i++) gn += (double)g[i] * g[i];
    gn = sqrt(gn);
    if (!(gn > 1e-4)) {
        printf("  %s: vacuous gradient (norm %.3g)\n", what, gn);
        fail();
    }
    double scale = gn / sqrt((double)count);
    double f0 = F(ctx);
    size_t step = count > (size_t)checks ? count / (size_t)checks : 1;
    int bad = 0, skipped = 0, checked = 0;
    for (size_t i = (count * 7) % step; i < count; i += step) {
        float old = v[i];
        v[i] = (float)(old + h);
        double hp = (double)v[i] - old;
        double fp = F(ctx);
        v[i] = (float)(old - h);
        double hm = old - (double)v[i];
        double fm = F(ctx);
        v[i] = old;
        double num = (fp - fm) / (hp + hm);
        double fwd = (fp - f0) / hp, bwd = (f0 - fm) / hm;
        double t = tol * (fabs(num) + fabs(g[i]) + scale);
        checked++;
        if (fabs(fwd - bwd) > 4 * t) {
            skipped++;
            continue;
        }
        if (fabs(num - g[i]) > t) {
            if (bad < 5)
                printf("  %s[%zu]: analytic %.7g numeric %.7g\n", what, i, (double)g[i], num);
            bad++;
        }
    }
    assert_true(checked >= (count < 5 ? (int)count : 5));
    assert_int_equal(bad, 0);
    return skipped;
}

/* ---------------------------------------------------------------- conv: fast vs reference */

typedef struct {
    int cin, cout, h, w, kh, kw, stride, pad, bias, n;
} conv_case;

static const conv_case conv_cases[] = {
    /* cin cout  h   w kh kw st pad bias n */
    {3, 4, 7, 9, 3, 3, 1, 1, 1, 5},      /* the pre-activation 3x3, non-square input */
    {2, 5, 8, 6, 1, 1, 1, 0, 0, 5},      /* pointwise                                */
    {3, 2, 9, 7, 5, 5, 1, 2, 1, 4},      /* 5x5 "same"                               */
    {4, 3, 10, 11, 3, 3, 2, 1, 0, 5},    /* stride 2, odd width                      */
    {2, 3, 9, 8, 1, 1, 2, 0, 1, 5},      /* 1x1 stride-2 projection shortcut          */
    {3, 4, 8, 8, 5, 5, 2, 2, 1, 3},      /* 5x5 stride 2                             */
    {2, 3, 6, 7, 3, 3, 1, 0, 1, 5},      /* valid (no padding)                       */
    {1, 4, 7, 7, 3, 3, 1, 2, 0, 3},      /* pad 2 with a 3x3: output grows           */
    {3, 2, 7, 10, 3, 5, 1, 1, 1, 4},     /* non-square kernel                        */
    {2, 3, 5, 5, 5, 5, 1, 0, 1, 3},      /* 1x1 output                               */
    {2, 2, 9, 9, 3, 3, 3, 1, 0, 3},      /* stride 3                                 */
    {3, 2, 5, 6, 1, 1, 1, 1, 1, 3},      /* pad beyond the kernel: a zero border     */
    {2, 3, 6, 5, 3, 3, 2, 3, 0, 2},      /* pad 3 > k/2 with stride 2                */
    {16, 16, 10, 10, 3, 3, 1, 1, 1, 70}, /* chunk 64 + a partial chunk; dW split    */
    {16, 16, 28, 28, 3, 3, 1, 1, 0, 3}   /* stage-1 size of the target network       */
};

/* Run the fast kernels with the given algorithms and compare with the
 * reference outputs yr, gradients gr (params layout) and dxr. */
static void check_fast(const mg_conv2d_shape *s0, const conv_case *c, mg_conv_algo fwd,
                       mg_conv_algo dw, mg_conv_algo dx_algo, int chunk, int dw_cols,
                       const float *params, const float *x, const float *dy, const float *yr,
                       const float *gr, const float *dxr)
{
    mg_conv2d_shape s = *s0;
    if (!mg_conv2d_set_algo(&s, fwd, dw, dx_algo, chunk, dw_cols)) return;
    size_t np = mg_conv2d_n_params(&s);
    size_t ny = (size_t)c->n * s.cout * s.ho * s.wo, nx = (size_t)c->n * s.cin * s.h * s.w;
    size_t nws = mg_conv2d_workspace(&s, c->n);
    float *ws = falloc(nws), *y = falloc(ny), *g = falloc(np), *g2 = falloc(np), *dx = falloc(nx);
    float *dx2 = falloc(nx);
    char what[160];
    snprintf(what, sizeof what, "conv %dx%dx%d->%d k%dx%d s%d p%d algo %d/%d/%d chunk %d/%d",
             c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->stride, c->pad, fwd, dw, dx_algo, chunk,
             dw_cols);
    double tol = 2e-5 * sqrt((double)s.cin * s.kh * s.kw);

    fill_nan(ws, nws);
    fill_nan(y, ny);
    mg_conv2d_forward(&s, params, x, y, c->n, ws);
    assert_close_arrays(y, yr, ny, tol, 1e-3, what);

    /* gradients accumulate: start from 1 and compare against ref + 1 */
    for (size_t i = 0; i < np; i++) g[i] = g2[i] = 1.0f;
    fill_nan(ws, nws);
    fill_nan(dx, nx);
    mg_conv2d_backward(&s, params, g, x, dy, dx, c->n, ws);
    float *gr1 = falloc(np);
    for (size_t i = 0; i < np; i++) gr1[i] = gr[i] + 1.0f;
    assert_close_arrays(g, gr1, np, tol * sqrt((double)c->n * s.ho * s.wo), 1.0, what);
    assert_close_arrays(dx, dxr, nx, tol * sqrt((double)s.cout), 1e-3, what);

    /* without dx: the same parameter gradients, bit for bit */
    fill_nan(ws, nws);
    mg_conv2d_backward(&s, params, g2, x, dy, NULL, c->n, ws);
    assert_memory_equal(g, g2, sizeof(float) * np);

    /* without grads (input gradient only): the same dx, bit for bit, from a
     * NaN workspace (so dx reads nothing that only the skipped weight-gradient
     * work would have written) */
    fill_nan(ws, nws);
    fill_nan(dx2, nx);
    mg_conv2d_backward(&s, params, NULL, x, dy, dx2, c->n, ws);
    assert_memory_equal(dx, dx2, sizeof(float) * nx);
    free(gr1);
    free(ws);
    free(y);
    free(g);
    free(g2);
    free(dx);
    free(dx2);
}

static void test_conv_fast_vs_reference(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 11);
    int cases = (int)(sizeof conv_cases / sizeof conv_cases[0]);
    for (int k = 0; k < cases; k++) {
        const conv_case *c = &conv_cases[k];
        mg_conv2d_shape s;
        assert_int_equal(mg_conv2d_shape_init(&s, c->cin, c->h, c->w, c->cout, c->kh, c->kw,
                                              c->stride, c->pad, c->bias),
                         MG_OK);
        assert_int_equal(s.ho, (c->h + 2 * c->pad - c->kh) / c->stride + 1);
        assert_int_equal(s.wo, (c->w + 2 * c->pad - c->kw) / c->stride + 1);
        size_t np = mg_conv2d_n_params(&s);
        assert_int_equal(np, (size_t)c->cout * c->cin * c->kh * c->kw + (c->bias ? c->cout : 0));
        size_t ny = (size_t)c->n * s.cout * s.ho * s.wo, nx = (size_t)c->n * s.cin * s.h * s.w;
        float *params = falloc(np), *x = falloc(nx), *dy = falloc(ny);
        float *yr = falloc(ny), *gr = falloc(np), *dxr = falloc(nx);
        fill_normal(params, np, &r, 1.0);
        fill_normal(x, nx, &r, 1.0);
        fill_normal(dy, ny, &r, 1.0);
        mg_conv2d_forward_ref(&s, params, x, yr, c->n);
        memset(gr, 0, sizeof(float) * np);
        mg_conv2d_backward_ref(&s, params, gr, x, dy, dxr, c->n);
        if (k == 0) { /* the reference takes grads NULL as well */
            float *dxn = falloc(nx);
            mg_conv2d_backward_ref(&s, params, NULL, x, dy, dxn, c->n);
            assert_memory_equal(dxn, dxr, sizeof(float) * nx);
            free(dxn);
        }

        /* the default choice, then every combination and a few chunks */
        check_fast(&s, c, s.fwd, s.dw, s.dx, s.chunk, s.dw_cols, params, x, dy, yr, gr, dxr);
        const int chunks[] = {1, 2, 3, 8, 64};
        for (int f = 0; f < 3; f++)
            for (int w = 0; w < 3; w++)
                for (int d = 0; d < 3; d++)
                    for (int ch = 0; ch < 5; ch++) {
                        /* keep it quick: big cases with a few chunks only */
                        if (c->h * c->w > 200 && ch != 1) continue;
                        if (c->n > 8 && ch != 1 && ch != 4) continue;
                        /* dW split into ragged pieces of 7 or 1000 columns */
                        int dwc = ch == 2 ? 7 : ch == 4 ? 1000 : 0;
                        check_fast(&s, c, (mg_conv_algo)f, (mg_conv_algo)w, (mg_conv_algo)d,
                                   chunks[ch], dwc, params, x, dy, yr, gr, dxr);
                    }
        free(params);
        free(x);
        free(dy);
        free(yr);
        free(gr);
        free(dxr);
    }
}

/* The reference itself against hand-computed values: a 1-channel 3x3 input,
 * 2x2 kernel of ones, stride 1, pad 0 gives the 2x2 window sums; pad 1 with
 * stride 2 picks the corners' windows. */
static void test_conv_reference_known(void **state)
{
    (void)state;
    mg_conv2d_shape s;
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float p[5] = {1, 1, 1, 1, 0.5f};
    float y[4];
    assert_int_equal(mg_conv2d_shape_init(&s, 1, 3, 3, 1, 2, 2, 1, 0, 1), MG_OK);
    mg_conv2d_forward_ref(&s, p, x, y, 1);
    const float want[4] = {12.5f, 16.5f, 24.5f, 28.5f};
    assert_memory_equal(y, want, sizeof want);
    assert_int_equal(mg_conv2d_shape_init(&s, 1, 3, 3, 1, 2, 2, 2, 1, 1), MG_OK);
    assert_int_equal(s.ho, 2);
    mg_conv2d_forward_ref(&s, p, x, y, 1);
    /* windows: {x00}, {x01 x02}, {x10 x20}, {x11 x12 x21 x22} */
    const float want2[4] = {1.5f, 5.5f, 11.5f, 28.5f};
    assert_memory_equal(y, want2, sizeof want2);
}

static void test_conv_shape_errors(void **state)
{
    (void)state;
    mg_conv2d_shape s;
    assert_int_equal(mg_conv2d_shape_init(&s, 0, 8, 8, 4, 3, 3, 1, 1, 0), MG_ERR_CONFIG);
    assert_int_equal(mg_conv2d_shape_init(&s, 1, 8, 8, 4, 3, 3, 0, 1, 0), MG_ERR_CONFIG);
    assert_int_equal(mg_conv2d_shape_init(&s, 1, 8, 8, 4, 3, 3, 1, -1, 0), MG_ERR_CONFIG);
    assert_int_equal(mg_conv2d_shape_init(&s, 1, 8, 8, 0, 3, 3, 1, 1, 0), MG_ERR_CONFIG);
    assert_int_equal(mg_conv2d_shape_init(&s, 1, 2, 8, 4, 5, 5, 1, 1, 0), MG_ERR_CONFIG);
    assert_true(strstr(mg_errmsg(), "kernel") != NULL);
    /* SHIFT refuses stride 2 */
    assert_int_equal(mg_conv2d_shape_init(&s, 4, 8, 8, 4, 3, 3, 2, 1, 0), MG_OK);
    assert_int_equal(s.fwd, MG_CONV_IM2COL);
    assert_int_equal(mg_conv2d_set_algo(&s, MG_CONV_SHIFT, MG_CONV_IM2COL, MG_CONV_IM2COL, 1, 0),
                     0);
    assert_int_equal(mg_conv2d_set_algo(&s, MG_CONV_IM2COL, MG_CONV_IM2COL, MG_CONV_IM2COL, 0, 0),
                     0);
    assert_int_equal(mg_conv2d_set_algo(&s, MG_CONV_IM2COL, MG_CONV_IM2COL, MG_CONV_IM2COL, 1, -1),
                     0);
    mg_pool_shape ps;
    assert_int_equal(mg_pool_shape_init(&ps, 2, 8, 8, 2, 2, 2, 2), MG_ERR_CONFIG);
    assert_int_equal(mg_pool_shape_init(&ps, 2, 8, 8, 3, 3, 2, 1), MG_OK);
    assert_int_equal(ps.ho, 4);
}

static void test_conv_init_he(void **state)
{
    (void)state;
    mg_conv2d_shape s;
    assert_int_equal(mg_conv2d_shape_init(&s, 16, 8, 8, 32, 3, 3, 1, 1, 1), MG_OK);
    size_t np = mg_conv2d_n_params(&s), nw = np - 32;
    float *p = falloc(np);
    mg_rng r;
    mg_rng_seed(&r, 3);
    fill_nan(p, np);
    mg_conv2d_init_he(&s, p, 2.0f, &r);
    double ss = 0.0, m = 0.0;
    for (size_t i = 0; i < nw; i++) {
        ss += (double)p[i] * p[i];
        m += p[i];
    }
    double var = ss / nw, want = 2.0 / (16 * 9);
    assert_true(fabs(var - want) < 0.1 * want); /* 4608 draws: sd of var ~ 2% */
    assert_true(fabs(m / nw) < 0.1 * sqrt(want));
    for (size_t i = nw; i < np; i++) assert_true(p[i] == 0.0f);
    free(p);
}

/* ---------------------------------------------------------------- conv: finite differences */

typedef struct {
    const mg_conv2d_shape *s;
    const float *params, *x;
    const double *w;
    float *y, *ws;
    int n;
    size_t ny;
} conv_ctx;

static double conv_objective(void *p)
{
    conv_ctx *c = p;
    mg_conv2d_forward(c->s, c->params, c->x, c->y, c->n, c->ws);
    double F = 0.0;
    for (size_t i = 0; i < c->ny; i++) F += c->w[i] * c->y[i];
    return F;
}

static void conv_fd_case(const conv_case *c, mg_conv_algo algo, int chunk)
{
    mg_rng r;
    mg_rng_seed(&r, 99);
    mg_conv2d_shape s;
    assert_int_equal(mg_conv2d_shape_init(&s, c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->stride,
                                          c->pad, c->bias),
                     MG_OK);
    if (!mg_conv2d_set_algo(&s, algo, algo, algo, chunk, chunk > 1 ? 5 : 0)) return;
    size_t np = mg_conv2d_n_params(&s);
    size_t ny = (size_t)c->n * s.cout * s.ho * s.wo, nx = (size_t)c->n * s.cin * s.h * s.w;
    size_t nws = mg_conv2d_workspace(&s, c->n);
    float *params = falloc(np), *x = falloc(nx), *y = falloc(ny), *ws = falloc(nws);
    float *g = falloc(np), *dx = falloc(nx), *dyf = falloc(ny);
    double *w = malloc(sizeof(double) * ny);
    assert_non_null(w);
    fill_normal(params, np, &r, 0.5);
    fill_normal(x, nx, &r, 1.0);
    for (size_t i = 0; i < ny; i++) {
        w[i] = mg_rng_normal(&r);
        dyf[i] = (float)w[i];
    }
    memset(g, 0, sizeof(float) * np);
    mg_conv2d_forward(&s, params, x, y, c->n, ws);
    mg_conv2d_backward(&s, params, g, x, dyf, dx, c->n, ws);
    conv_ctx ctx = {&s, params, x, w, y, ws, c->n, ny};
    /* F is linear in W, b and x: a large step has no truncation error */
    size_t nw = (size_t)s.cout * s.cin * s.kh * s.kw;
    assert_int_equal(fd_check(conv_objective, &ctx, params, g, nw, 0.25, 40, 1e-3, "conv dW"), 0);
    if (s.bias)
        assert_int_equal(fd_check(conv_objective, &ctx, params + nw, g + nw, (size_t)s.cout, 0.25,
                                  10, 1e-3, "conv db"),
                         0);
    assert_int_equal(fd_check(conv_objective, &ctx, x, dx, nx, 0.25, 40, 1e-3, "conv dx"), 0);
    free(params);
    free(x);
    free(y);
    free(ws);
    free(g);
    free(dx);
    free(dyf);
    free(w);
}

static void test_conv_finite_differences(void **state)
{
    (void)state;
    const conv_case fd[] = {
        {3, 4, 7, 9, 3, 3, 1, 1, 1, 3},   {3, 2, 9, 7, 5, 5, 1, 2, 1, 2},
        {4, 3, 10, 11, 3, 3, 2, 1, 1, 3}, {2, 3, 9, 8, 1, 1, 2, 0, 1, 3},
        {2, 3, 6, 7, 3, 3, 1, 0, 0, 3},   {2, 5, 8, 6, 1, 1, 1, 0, 1, 2},
    };
    for (size_t k = 0; k < sizeof fd / sizeof fd[0]; k++) {
        conv_fd_case(&fd[k], MG_CONV_IM2COL, 2);
        conv_fd_case(&fd[k], MG_CONV_SHIFT, 2);
        conv_fd_case(&fd[k], MG_CONV_WINOGRAD, 2);
    }
}

/* ---------------------------------------------------------------- bn2d */

typedef struct {
    int c, hw, n, train, relu;
    const float *params, *x;
    float *buffers, *y, *stats;
    const float *buf0; /* running stats restored before every forward */
    const double *w;
} bn_ctx;

static double bn_objective(void *p)
{
    bn_ctx *b = p;
    memcpy(b->buffers, b->buf0, sizeof(float) * 2 * b->c);
    mg_bn2d_forward(b->c, b->hw, b->n, b->params, b->buffers, b->x, b->y, b->stats, b->train,
                    b->relu);
    double F = 0.0;
    size_t ny = (size_t)b->n * b->c * b->hw;
    for (size_t i = 0; i < ny; i++) F += b->w[i] * b->y[i];
    return F;
}

static void bn_fd_case(int train, int relu)
{
    const int C = 3, HW = 10, N = 4;
    mg_rng r;
    mg_rng_seed(&r, 5 + train * 2 + relu);
    size_t ny = (size_t)N * C * HW;
    float params[6], grads[6], buffers[6], buf0[6], stats[6];
    float *x = falloc(ny), *y = falloc(ny), *dx = falloc(ny), *dyf = falloc(ny);
    double *w = malloc(sizeof(double) * ny);
    assert_non_null(w);
    for (int j = 0; j < C; j++) {
        params[j] = (float)(1.0 + 0.3 * mg_rng_normal(&r));
        params[C + j] = (float)(0.2 * mg_rng_normal(&r));
        buf0[j] = (float)(0.5 * mg_rng_normal(&r));      /* running mean */
        buf0[C + j] = (float)(0.5 + mg_rng_uniform(&r)); /* running var  */
    }
    for (int e = 0; e < N; e++)
        for (int j = 0; j < C; j++)
            for (int i = 0; i < HW; i++)
                x[((size_t)e * C + j) * HW + i] = (float)(j - 1.0 + (0.5 + j) * mg_rng_normal(&r));
    for (size_t i = 0; i < ny; i++) {
        w[i] = mg_rng_normal(&r);
        dyf[i] = (float)w[i];
    }
    bn_ctx ctx = {C, HW, N, train, relu, params, x, buffers, y, stats, buf0, w};
    bn_objective(&ctx);
    memset(grads, 0, sizeof grads);
    mg_bn2d_backward(C, HW, N, params, grads, x, y, stats, dyf, dx, train, relu);
    char what[64];
    snprintf(what, sizeof what, "bn2d train %d relu %d", train, relu);
    int skipped = fd_check(bn_objective, &ctx, params, grads, 6, 1e-3, 6, 2e-3, what);
    skipped += fd_check(bn_objective, &ctx, x, dx, ny, 1e-3, 60, 2e-3, what);
    assert_true(skipped <= 6);
    free(x);
    free(y);
    free(dx);
    free(dyf);
    free(w);
}

static void test_bn2d_finite_differences(void **state)
{
    (void)state;
    for (int train = 0; train < 2; train++)
        for (int relu = 0; relu < 2; relu++) bn_fd_case(train, relu);
}

static void test_bn2d_known_answer(void **state)
{
    (void)state;
    const int C = 4, HW = 49, N = 6;
    size_t ny = (size_t)N * C * HW, m = (size_t)N * HW;
    mg_rng r;
    mg_rng_seed(&r, 21);
    float *x = falloc(ny), *y = falloc(ny), *yr = falloc(ny), params[8], buffers[8], stats[8];
    /* channel j: mean 100 j - 50, sd 0.1 .. 10: a large mean must not hide the variance */
    for (int e = 0; e < N; e++)
        for (int j = 0; j < C; j++)
            for (int i = 0; i < HW; i++)
                x[((size_t)e * C + j) * HW + i] =
                    (float)(100.0 * j - 50.0 + pow(10.0, j - 1.0) * mg_rng_normal(&r));
    mg_bn2d_init(C, params, buffers);
    for (int j = 0; j < C; j++) {
        assert_true(params[j] == 1.0f && params[C + j] == 0.0f);
        assert_true(buffers[j] == 0.0f && buffers[C + j] == 1.0f);
    }
    mg_bn2d_forward(C, HW, N, params, buffers, x, y, stats, 1, 0);
    for (int j = 0; j < C; j++) {
        double s = 0.0, ss = 0.0, xs = 0.0, xss = 0.0;
        for (int e = 0; e < N; e++)
            for (int i = 0; i < HW; i++) {
                double v = y[((size_t)e * C + j) * HW + i];
                s += v;
                ss += v * v;
                xs += x[((size_t)e * C + j) * HW + i];
            }
        double mu = s / m, var = ss / m - mu * mu, xmu = xs / m;
        for (int e = 0; e < N; e++)
            for (int i = 0; i < HW; i++) {
                double d = x[((size_t)e * C + j) * HW + i] - xmu;
                xss += d * d;
            }
        double xvar = xss / m;
        assert_true(fabs(mu) < 1e-4);
        /* the eps in the denominator: var(y) = var / (var + eps) */
        assert_true(close_rel(var, xvar / (xvar + 1e-5), 1e-3));
        assert_true(close_rel(stats[j], xmu, 1e-6));
        assert_true(close_rel(buffers[j], 0.1 * xmu, 1e-5));
        assert_true(close_rel(buffers[C + j], 0.9 + 0.1 * xss / (m - 1), 1e-4));
    }
    /* gamma, beta and the fused ReLU */
    for (int j = 0; j < C; j++) {
        params[j] = 0.5f + j;
        params[C + j] = 0.25f * j - 0.3f;
    }
    float buf2[8];
    memcpy(buf2, buffers, sizeof buf2);
    mg_bn2d_forward(C, HW, N, params, buf2, x, yr, stats, 1, 1);
    memcpy(buf2, buffers, sizeof buf2);
    mg_bn2d_forward(C, HW, N, params, buf2, x, y, stats, 1, 0);
    for (size_t i = 0; i < ny; i++) assert_true(yr[i] == (y[i] > 0.0f ? y[i] : 0.0f));
    /* eval: (x - rmean) / sqrt(rvar + eps) * gamma + beta, buffers untouched */
    memcpy(buf2, buffers, sizeof buf2);
    mg_bn2d_forward(C, HW, N, params, buffers, x, y, stats, 0, 0);
    assert_memory_equal(buf2, buffers, sizeof buf2);
    for (int e = 0; e < N; e++)
        for (int j = 0; j < C; j++)
            for (int i = 0; i < HW; i++) {
                size_t o = ((size_t)e * C + j) * HW + i;
                double want =
                    (x[o] - (double)buffers[j]) / sqrt((double)buffers[C + j] + 1e-5) * params[j] +
                    params[C + j];
                assert_true(fabs(y[o] - want) <= 1e-4 * (fabs(want) + 1.0));
            }
    free(x);
    free(y);
    free(yr);
}

/* Channel ranges (for callers that split the channels over threads) give
 * exactly the whole call's results; without grads, the same dx. */
static void test_bn2d_channel_ranges(void **state)
{
    (void)state;
    const int C = 5, HW = 12, N = 3;
    size_t ny = (size_t)N * C * HW;
    mg_rng r;
    mg_rng_seed(&r, 8);
    float *x = falloc(ny), *y1 = falloc(ny), *y2 = falloc(ny), *dy = falloc(ny);
    float *dx1 = falloc(ny), *dx2 = falloc(ny);
    float p[10], b1[10], b2[10], s1[10], s2[10], g1[10] = {0}, g2[10] = {0};
    fill_normal(x, ny, &r, 2.0);
    fill_normal(dy, ny, &r, 1.0);
    fill_normal(p, 10, &r, 1.0);
    mg_bn2d_init(C, g1, b1); /* g1 only as scratch for the init */
    memset(g1, 0, sizeof g1);
    memcpy(b2, b1, sizeof b1);
    for (int train = 1; train >= 0; train--) {
        mg_bn2d_forward(C, HW, N, p, b1, x, y1, s1, train, 1);
        mg_bn2d_forward_channels(C, 0, 2, HW, N, p, b2, x, y2, s2, train, 1);
        mg_bn2d_forward_channels(C, 2, C, HW, N, p, b2, x, y2, s2, train, 1);
        assert_memory_equal(y1, y2, sizeof(float) * ny);
        assert_memory_equal(b1, b2, sizeof b1);
        mg_bn2d_backward(C, HW, N, p, g1, x, y1, s1, dy, dx1, train, 1);
        mg_bn2d_backward_channels(C, 3, C, HW, N, p, g2, x, y2, s2, dy, dx2, train, 1);
        mg_bn2d_backward_channels(C, 0, 3, HW, N, p, g2, x, y2, s2, dy, dx2, train, 1);
        assert_memory_equal(dx1, dx2, sizeof(float) * ny);
        assert_memory_equal(g1, g2, sizeof g1);
        /* grads NULL (input gradient only): the same dx, bit for bit */
        fill_nan(dx2, ny);
        mg_bn2d_backward_channels(C, 2, C, HW, N, p, NULL, x, y2, s2, dy, dx2, train, 1);
        mg_bn2d_backward_channels(C, 0, 2, HW, N, p, NULL, x, y2, s2, dy, dx2, train, 1);
        assert_memory_equal(dx1, dx2, sizeof(float) * ny);
        fill_nan(dx2, ny);
        mg_bn2d_backward(C, HW, N, p, NULL, x, y2, s2, dy, dx2, train, 1);
        assert_memory_equal(dx1, dx2, sizeof(float) * ny);
        mg_bn2d_backward(C, HW, N, p, NULL, x, y2, s2, dy, NULL, train, 1); /* a no-op */
    }
    free(x);
    free(y1);
    free(y2);
    free(dy);
    free(dx1);
    free(dx2);
}

/* ---------------------------------------------------------------- pooling */

static void test_pool_known_answers(void **state)
{
    (void)state;
    mg_pool_shape s;
    float x[16], y[4], dx[16];
    int32_t am[4];
    for (int i = 0; i < 16; i++) x[i] = (float)((i * 7) % 16); /* 0 7 14 5 / 12 3 10 1 / ... */
    assert_int_equal(mg_pool_shape_init(&s, 1, 4, 4, 2, 2, 2, 0), MG_OK);
    mg_maxpool_forward(&s, x, y, am, 1);
    /* rows: 0 7 14 5 | 12 3 10 1 | 8 15 6 13 | 4 11 2 9 */
    const float wmax[4] = {12, 14, 15, 13};
    const int32_t wam[4] = {4, 2, 9, 11};
    assert_memory_equal(y, wmax, sizeof wmax);
    assert_memory_equal(am, wam, sizeof wam);
    const float g[4] = {1, 2, 3, 4};
    mg_maxpool_backward(&s, am, g, dx, 1);
    for (int i = 0; i < 16; i++) {
        float want = i == 4 ? 1 : i == 2 ? 2 : i == 9 ? 3 : i == 11 ? 4 : 0;
        assert_true(dx[i] == want);
    }
    mg_avgpool_forward(&s, x, y, 1);
    const float wavg[4] = {5.5f, 7.5f, 9.5f, 7.5f};
    assert_memory_equal(y, wavg, sizeof wavg);
    /* 3x3 stride 2 pad 1 on 4x4: 2x2 outputs; padding excluded from max,
     * included in the average's divisor (count_include_pad) */
    assert_int_equal(mg_pool_shape_init(&s, 1, 4, 4, 3, 3, 2, 1), MG_OK);
    assert_int_equal(s.ho, 2);
    for (int i = 0; i < 16; i++) x[i] = -(float)(i + 1); /* all negative */
    mg_maxpool_forward(&s, x, y, am, 1);
    const float wmax2[4] = {-1, -2, -5, -6};
    assert_memory_equal(y, wmax2, sizeof wmax2);
    mg_avgpool_forward(&s, x, y, 1);
    /* window (0,0): rows 0-1, cols 0-1: -(1+2+5+6) / 9 */
    assert_true(fabs(y[0] - (-14.0f / 9.0f)) < 1e-6);
    /* global average pooling */
    float gx[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, gy[3], gdx[12];
    mg_gap_forward(3, 4, 1, gx, gy);
    const float wg[3] = {2.5f, 6.5f, 10.5f};
    assert_memory_equal(gy, wg, sizeof wg);
    const float gg[3] = {4, 8, -4};
    mg_gap_backward(3, 4, 1, gg, gdx);
    for (int i = 0; i < 12; i++) assert_true(gdx[i] == gg[i / 4] / 4.0f);
}

typedef struct {
    int kind; /* 0 max, 1 avg, 2 global */
    const mg_pool_shape *s;
    const float *x;
    float *y;
    int32_t *am;
    const double *w;
    int n;
    size_t ny;
} pool_ctx;

static double pool_objective(void *p)
{
    pool_ctx *c = p;
    if (c->kind == 0) mg_maxpool_forward(c->s, c->x, c->y, c->am, c->n);
    if (c->kind == 1) mg_avgpool_forward(c->s, c->x, c->y, c->n);
    if (c->kind == 2) mg_gap_forward(c->s->c, c->s->h * c->s->w, c->n, c->x, c->y);
    double F = 0.0;
    for (size_t i = 0; i < c->ny; i++) F += c->w[i] * c->y[i];
    return F;
}

static void pool_fd_case(int kind, int c, int h, int w, int k, int stride, int pad, int n)
{
    mg_pool_shape s;
    assert_int_equal(mg_pool_shape_init(&s, c, h, w, k, k, stride, pad), MG_OK);
    size_t nx = (size_t)n * c * h * w;
    size_t ny = kind == 2 ? (size_t)n * c : (size_t)n * c * s.ho * s.wo;
    float *x = falloc(nx), *y = falloc(ny), *dx = falloc(nx), *dyf = falloc(ny);
    int32_t *am = malloc(sizeof(int32_t) * ny);
    double *wt = malloc(sizeof(double) * ny);
    assert_non_null(am);
    assert_non_null(wt);
    mg_rng r;
    mg_rng_seed(&r, 31 + kind);
    /* distinct values spaced 0.05 apart (a shuffled ladder): no ties, and a
     * step of 0.02 never changes a window's maximum */
    int *perm = malloc(sizeof(int) * nx);
    assert_non_null(perm);
    mg_rng_permutation(&r, perm, (int)nx);
    for (size_t i = 0; i < nx; i++) x[i] = 0.05f * (float)(perm[i] - (int)nx / 2);
    for (size_t i = 0; i < ny; i++) {
        wt[i] = mg_rng_normal(&r);
        dyf[i] = (float)wt[i];
    }
    pool_ctx ctx = {kind, &s, x, y, am, wt, n, ny};
    pool_objective(&ctx);
    if (kind == 0) mg_maxpool_backward(&s, am, dyf, dx, n);
    if (kind == 1) mg_avgpool_backward(&s, dyf, dx, n);
    if (kind == 2) mg_gap_backward(c, h * w, n, dyf, dx);
    const char *names[3] = {"maxpool dx", "avgpool dx", "gap dx"};
    int skipped = fd_check(pool_objective, &ctx, x, dx, nx, 0.02, 80, 2e-3, names[kind]);
    assert_int_equal(skipped, 0);
    free(x);
    free(y);
    free(dx);
    free(dyf);
    free(am);
    free(wt);
    free(perm);
}

static void test_pool_finite_differences(void **state)
{
    (void)state;
    pool_fd_case(0, 2, 6, 7, 2, 2, 0, 3);
    pool_fd_case(0, 2, 7, 7, 3, 2, 1, 2); /* overlapping windows with padding */
    pool_fd_case(0, 1, 5, 8, 3, 1, 1, 2);
    pool_fd_case(1, 2, 6, 7, 2, 2, 0, 3);
    pool_fd_case(1, 2, 7, 7, 3, 2, 1, 2);
    pool_fd_case(2, 3, 5, 6, 1, 1, 0, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_reference_known),
        cmocka_unit_test(test_conv_shape_errors),
        cmocka_unit_test(test_conv_init_he),
        cmocka_unit_test(test_conv_fast_vs_reference),
        cmocka_unit_test(test_conv_finite_differences),
        cmocka_unit_test(test_bn2d_finite_differences),
        cmocka_unit_test(test_bn2d_known_answer),
        cmocka_unit_test(test_bn2d_channel_ranges),
        cmocka_unit_test(test_pool_known_answers),
        cmocka_unit_test(test_pool_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
