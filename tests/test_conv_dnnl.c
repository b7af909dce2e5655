/* test_conv_dnnl.c - the oneDNN convolutions (src/conv_dnnl.h) against the
 * naive references of conv.h (direct loops, double accumulation).
 *
 * Fast vs reference: every conv shape of the PreActResNet 16-32-64x2 of the
 * speed issue (stem, 3x3 stride 1 and 2, 1x1 stride-2 projections) at a
 * small batch, plus odd ones (batch 1 and 3, no padding, bias, non-square
 * inputs and kernels, 5x5, stride 3, a 1x1 output), both layouts (plain
 * NCHW, blocked with reorders), one and two threads; forward, weight (and
 * bias) gradients accumulated onto ones, input gradient; grads NULL gives
 * the same dx bit for bit and dx NULL the same gradients.  Outputs are
 * filled with NaN before each call, so an element left unwritten fails.
 * Tolerance as tests/test_conv.c: 2e-5 sqrt(terms) relative to the largest
 * reference value.
 *
 * Determinism: every primitive repeated and compared byte for byte; batch
 * sizes beyond MG_CONV_DNNL_SLOTS (slots replaced and rebuilt) give the
 * same bytes again (also after the benchmarks' skip_reorders switch was on
 * and off again).  One against two threads: within the tolerance (the
 * test says whether they were identical).
 *
 * nChw8c tensors (MG_CONV_DNNL_BLK8): the same bytes as the blocked layout
 * with reorders, once the inputs are given and the outputs read in nChw8c
 * (the reorders are exact copies), for the PreActResNet's shapes with
 * channels in multiples of 8, 1x1 projections included.
 *
 * Errors: an inconsistent shape, a bad thread count, a bad batch size,
 * nChw8c with channels not in multiples of 8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_dnnl.h"
#include <oneapi/dnnl/dnnl.h>
#include "buffers.h"

typedef struct {
    int cin, cout, h, w, kh, kw, stride, pad, bias, n;
} conv_case;

static const conv_case cases[] = {
    /* cin cout  h   w kh kw st pad bias n */
    {1, 16, 28, 28, 3, 3, 1, 1, 0, 2},  /* the network: stem                    */
    {16, 16, 28, 28, 3, 3, 1, 1, 0, 3}, /* stage 1                              */
    {16, 32, 28, 28, 3, 3, 2, 1, 0, 2}, /* stage 2 downsampling                 */
    {32, 32, 14, 14, 3, 3, 1, 1, 0, 3}, /* stage 2                              */
    {16, 32, 28, 28, 1, 1, 2, 0, 0, 3}, /* stage 2 projection shortcut          */
    {32, 64, 14, 14, 3, 3, 2, 1, 0, 2}, /* stage 3 downsampling                 */
    {64, 64, 7, 7, 3, 3, 1, 1, 0, 4},   /* stage 3                              */
    {32, 64, 14, 14, 1, 1, 2, 0, 0, 1}, /* stage 3 projection, batch 1          */
    {3, 4, 7, 9, 3, 3, 1, 1, 1, 5},     /* non-square input, bias               */
    {2, 5, 8, 6, 1, 1, 1, 0, 1, 3},     /* pointwise stride 1, bias             */
    {3, 2, 9, 7, 5, 5, 1, 2, 1, 1},     /* 5x5 "same", batch 1                  */
    {4, 3, 10, 11, 3, 3, 2, 1, 0, 3},   /* stride 2, odd width                  */
    {2, 3, 9, 8, 1, 1, 2, 0, 1, 3},     /* 1x1 stride 2, odd height             */
    {2, 3, 6, 7, 3, 3, 1, 0, 1, 3},     /* no padding                           */
    {3, 2, 7, 10, 3, 5, 1, 1, 1, 2},    /* non-square kernel                    */
    {2, 3, 5, 5, 5, 5, 1, 0, 1, 3},     /* 1x1 output                           */
    {2, 2, 9, 9, 3, 3, 3, 1, 0, 3},     /* stride 3                             */
    {8, 8, 10, 10, 3, 3, 1, 1, 1, 17},  /* batch 17                             */
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

typedef struct {
    mg_conv2d_shape s;
    int n;
    size_t np, nx, ny;
    float *params, *x, *dy;
    float *yr, *gr, *dxr; /* reference: y, grads (from 0), dx */
} ref_case;

static void ref_init(ref_case *rc, const conv_case *c, mg_rng *r)
{
    assert_int_equal(mg_conv2d_shape_init(&rc->s, c->cin, c->h, c->w, c->cout, c->kh, c->kw,
                                          c->stride, c->pad, c->bias),
                     MG_OK);
    rc->n = c->n;
    rc->np = mg_conv2d_n_params(&rc->s);
    rc->nx = (size_t)c->n * c->cin * c->h * c->w;
    rc->ny = (size_t)c->n * c->cout * rc->s.ho * rc->s.wo;
    rc->params = falloc(rc->np);
    rc->x = falloc(rc->nx);
    rc->dy = falloc(rc->ny);
    rc->yr = falloc(rc->ny);
    rc->gr = falloc(rc->np);
    rc->dxr = falloc(rc->nx);
    fill_normal(rc->params, rc->np, r, 1.0);
    fill_normal(rc->x, rc->nx, r, 1.0);
    fill_normal(rc->dy, rc->ny, r, 1.0);
    mg_conv2d_forward_ref(&rc->s, rc->params, rc->x, rc->yr, rc->n);
    memset(rc->gr, 0, sizeof(float) * rc->np);
    mg_conv2d_backward_ref(&rc->s, rc->params, rc->gr, rc->x, rc->dy, rc->dxr, rc->n);
}

static void ref_free(ref_case *rc)
{
    free(rc->params);
    free(rc->x);
    free(rc->dy);
    free(rc->yr);
    free(rc->gr);
    free(rc->dxr);
}

/* The outputs of one object on one case: y, grads (accumulated onto 1), dx. */
typedef struct {
    float *y, *g, *dx;
} outputs;

static void outputs_alloc(outputs *o, const ref_case *rc)
{
    o->y = falloc(rc->ny);
    o->g = falloc(rc->np);
    o->dx = falloc(rc->nx);
}

static void outputs_free(outputs *o)
{
    free(o->y);
    free(o->g);
    free(o->dx);
}

static void run_all(mg_conv_dnnl *c, const ref_case *rc, outputs *o)
{
    fill_nan(o->y, rc->ny);
    fill_nan(o->dx, rc->nx);
    for (size_t i = 0; i < rc->np; i++) o->g[i] = 1.0f;
    assert_int_equal(mg_conv_dnnl_forward(c, rc->params, rc->x, o->y, rc->n), MG_OK);
    assert_int_equal(mg_conv_dnnl_backward(c, rc->params, o->g, rc->x, rc->dy, o->dx, rc->n),
                     MG_OK);
}

static void check_case(const ref_case *rc, const conv_case *cc, mg_conv_dnnl_layout layout,
                       int threads, outputs *keep)
{
    const mg_conv2d_shape *s = &rc->s;
    char what[160];
    snprintf(what, sizeof what, "dnnl conv %dx%dx%d->%d k%dx%d s%d p%d n%d layout %d threads %d",
             cc->cin, cc->h, cc->w, cc->cout, cc->kh, cc->kw, cc->stride, cc->pad, cc->n,
             (int)layout, threads);
    mg_conv_dnnl *c = NULL;
    if (mg_conv_dnnl_create(s, rc->n, threads, layout, &c) != MG_OK)
        printf("  %s: %s\n", what, mg_errmsg());
    assert_non_null(c);
    double tol = 2e-5 * sqrt((double)s->cin * s->kh * s->kw);

    outputs o;
    outputs_alloc(&o, rc);
    run_all(c, rc, &o);
    assert_close_arrays(o.y, rc->yr, rc->ny, tol, 1e-3, what);
    float *gr1 = falloc(rc->np);
    for (size_t i = 0; i < rc->np; i++) gr1[i] = rc->gr[i] + 1.0f;
    assert_close_arrays(o.g, gr1, rc->np, tol * sqrt((double)rc->n * s->ho * s->wo), 1.0, what);
    assert_close_arrays(o.dx, rc->dxr, rc->nx, tol * sqrt((double)s->cout), 1e-3, what);

    /* run to run: the same bytes, five more times */
    outputs o2;
    outputs_alloc(&o2, rc);
    for (int rep = 0; rep < 5; rep++) {
        run_all(c, rc, &o2);
        assert_memory_equal(o.y, o2.y, sizeof(float) * rc->ny);
        assert_memory_equal(o.g, o2.g, sizeof(float) * rc->np);
        assert_memory_equal(o.dx, o2.dx, sizeof(float) * rc->nx);
    }
    /* grads NULL: the same dx; dx NULL: the same gradients */
    fill_nan(o2.dx, rc->nx);
    assert_int_equal(mg_conv_dnnl_backward(c, rc->params, NULL, rc->x, rc->dy, o2.dx, rc->n),
                     MG_OK);
    assert_memory_equal(o.dx, o2.dx, sizeof(float) * rc->nx);
    for (size_t i = 0; i < rc->np; i++) o2.g[i] = 1.0f;
    assert_int_equal(mg_conv_dnnl_backward(c, rc->params, o2.g, rc->x, rc->dy, NULL, rc->n), MG_OK);
    assert_memory_equal(o.g, o2.g, sizeof(float) * rc->np);
    outputs_free(&o2);
    free(gr1);
    mg_conv_dnnl_free(c);
    if (keep)
        *keep = o;
    else
        outputs_free(&o);
}

static int g_thread_diff[2][2]; /* [layout]: cases where 1 and 2 threads differed: fwd/dx, dW */

static void test_dnnl_vs_reference(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 17);
    for (int k = 0; k < N_CASES; k++) {
        ref_case rc;
        ref_init(&rc, &cases[k], &r);
        for (int layout = 0; layout < 2; layout++) {
            outputs o1, o2;
            check_case(&rc, &cases[k], (mg_conv_dnnl_layout)layout, 1, &o1);
            check_case(&rc, &cases[k], (mg_conv_dnnl_layout)layout, 2, &o2);
            if (memcmp(o1.y, o2.y, sizeof(float) * rc.ny) ||
                memcmp(o1.dx, o2.dx, sizeof(float) * rc.nx))
                g_thread_diff[layout][0]++;
            if (memcmp(o1.g, o2.g, sizeof(float) * rc.np)) g_thread_diff[layout][1]++;
            outputs_free(&o1);
            outputs_free(&o2);
        }
        ref_free(&rc);
    }
    printf("  1 vs 2 threads, %d cases (within tolerance): plain layout: forward/dx differ in "
           "%d, dW in %d; blocked: forward/dx in %d, dW in %d\n",
           N_CASES, g_thread_diff[0][0], g_thread_diff[0][1], g_thread_diff[1][0],
           g_thread_diff[1][1]);
}

/* More batch sizes than slots: the replaced slots are rebuilt on demand and
 * give the same bytes as before. */
static void test_dnnl_batch_sizes(void **state)
{
    (void)state;
    mg_rng r;
    mg_rng_seed(&r, 5);
    const conv_case big = {16, 32, 12, 12, 3, 3, 2, 1, 1, 9};
    ref_case rc;
    ref_init(&rc, &big, &r);
    for (int layout = 0; layout < 2; layout++) {
        mg_conv_dnnl *c = NULL;
        assert_int_equal(mg_conv_dnnl_create(&rc.s, 9, 2, (mg_conv_dnnl_layout)layout, &c), MG_OK);
        assert_true(strlen(mg_conv_dnnl_impl(c, 9, 0)) > 0);
        assert_string_equal(mg_conv_dnnl_impl(c, 4, 0), "");
        assert_int_equal(mg_conv_dnnl_reserve(c, 4), MG_OK);
        assert_true(strlen(mg_conv_dnnl_impl(c, 4, 2)) > 0);
        /* batch 9 and the first n examples as batches 1..MG_CONV_DNNL_SLOTS+2 */
        outputs full, part;
        outputs_alloc(&full, &rc);
        outputs_alloc(&part, &rc);
        run_all(c, &rc, &full);
        ref_case sub = rc;
        for (int round = 0; round < 2; round++) {
            for (int n = 1; n <= MG_CONV_DNNL_SLOTS + 2; n++) {
                sub.n = n;
                sub.nx = rc.nx / 9 * n;
                sub.ny = rc.ny / 9 * n;
                run_all(c, &sub, &part);
                /* per-example outputs: as in the full batch, within rounding */
                assert_close_arrays(part.y, full.y, sub.ny, 1e-5, 1e-3, "batch subset y");
                assert_close_arrays(part.dx, full.dx, sub.nx, 1e-5, 1e-3, "batch subset dx");
                if (round == 1 && n == MG_CONV_DNNL_SLOTS + 2) {
                    outputs again;
                    outputs_alloc(&again, &rc);
                    run_all(c, &rc, &again); /* batch 9 was replaced: rebuilt */
                    assert_memory_equal(full.y, again.y, sizeof(float) * rc.ny);
                    assert_memory_equal(full.g, again.g, sizeof(float) * rc.np);
                    assert_memory_equal(full.dx, again.dx, sizeof(float) * rc.nx);
                    /* the benchmarks' switch: runs (values meaningless), and
                     * off again gives the right bytes */
                    mg_conv_dnnl_skip_reorders(c, 1);
                    run_all(c, &rc, &again);
                    mg_conv_dnnl_skip_reorders(c, 0);
                    run_all(c, &rc, &again);
                    assert_memory_equal(full.y, again.y, sizeof(float) * rc.ny);
                    assert_memory_equal(full.dx, again.dx, sizeof(float) * rc.nx);
                    outputs_free(&again);
                }
            }
        }
        outputs_free(&full);
        outputs_free(&part);
        mg_conv_dnnl_free(c);
    }
    ref_free(&rc);
}

static void test_dnnl_errors(void **state)
{
    (void)state;
    mg_conv2d_shape s;
    mg_conv_dnnl *c = (mg_conv_dnnl *)&s; /* must come back NULL */
    assert_int_equal(mg_conv2d_shape_init(&s, 4, 8, 8, 4, 3, 3, 1, 1, 0), MG_OK);
    mg_conv2d_shape bad = s;
    bad.ho = 9; /* not what the kernel, stride and padding give */
    assert_int_equal(mg_conv_dnnl_create(&bad, 2, 1, MG_CONV_DNNL_PLAIN, &c), MG_ERR_CONFIG);
    assert_null(c);
    assert_non_null(strstr(mg_errmsg(), "inconsistent shape"));
    bad = s;
    bad.kh = 11; /* the kernel does not fit the padded input */
    bad.ho = 0;
    assert_int_equal(mg_conv_dnnl_create(&bad, 2, 1, MG_CONV_DNNL_BLOCKED, &c), MG_ERR_CONFIG);
    assert_null(c);
    assert_int_equal(mg_conv_dnnl_create(&s, 2, 0, MG_CONV_DNNL_PLAIN, &c), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "threads"));
    assert_int_equal(mg_conv_dnnl_create(&s, 0, 1, MG_CONV_DNNL_PLAIN, &c), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "batch"));
    assert_null(c);
    assert_int_equal(mg_conv_dnnl_create(&s, 2, 1, (mg_conv_dnnl_layout)7, &c), MG_ERR_CONFIG);
    assert_int_equal(mg_conv_dnnl_create(&s, 2, 1, MG_CONV_DNNL_PLAIN, &c), MG_OK);
    float p[4 * 4 * 9] = {0}, x[4 * 64] = {0}, y[4 * 64];
    assert_int_equal(mg_conv_dnnl_forward(c, p, x, y, 0), MG_ERR_CONFIG);
    assert_int_equal(mg_conv_dnnl_forward(c, p, x, y, 1), MG_OK);
    for (int i = 0; i < 4 * 64; i++) assert_true(y[i] == 0.0f);
    mg_conv_dnnl_free(c);
    mg_conv_dnnl_free(NULL);
}

/* NCHW <-> nChw8c (c % 8 == 0), written out here independently of src/ */
static void to_blk8(const float *x, float *y, int n, int c, int hw)
{
    for (int e = 0; e < n; e++)
        for (int j = 0; j < c; j++)
            for (int p = 0; p < hw; p++)
                y[(size_t)e * c * hw + (size_t)(j / 8) * hw * 8 + (size_t)p * 8 + j % 8] =
                    x[(size_t)e * c * hw + (size_t)j * hw + p];
}

static void from_blk8(const float *x, float *y, int n, int c, int hw)
{
    for (int e = 0; e < n; e++)
        for (int j = 0; j < c; j++)
            for (int p = 0; p < hw; p++)
                y[(size_t)e * c * hw + (size_t)j * hw + p] =
                    x[(size_t)e * c * hw + (size_t)(j / 8) * hw * 8 + (size_t)p * 8 + j % 8];
}

static void test_dnnl_blk8(void **state)
{
    (void)state;
    /* cin, h, w, cout, k, stride, pad: the PreActResNet's convs past the stem */
    static const int shapes[][7] = {{16, 28, 28, 16, 3, 1, 1}, {16, 28, 28, 32, 3, 2, 1},
                                    {16, 28, 28, 32, 1, 2, 0}, {32, 14, 14, 64, 3, 2, 1},
                                    {64, 7, 7, 64, 3, 1, 1},   {8, 5, 5, 8, 3, 1, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int *q = shapes[k];
        const int n = 3;
        mg_conv2d_shape s;
        assert_int_equal(
            mg_conv2d_shape_init(&s, q[0], q[1], q[2], q[3], q[4], q[4], q[5], q[6], 0), MG_OK);
        int hw = s.h * s.w, ohw = s.ho * s.wo;
        size_t nx = (size_t)n * s.cin * hw, ny = (size_t)n * s.cout * ohw;
        size_t np = mg_conv2d_n_params(&s);
        float *x = falloc(nx), *dy = falloc(ny), *p = falloc(np);
        float *xb = falloc(nx), *dyb = falloc(ny);
        float *y1 = falloc(ny), *dx1 = falloc(nx), *g1 = falloc(np);
        float *y2 = falloc(ny), *dx2 = falloc(nx), *g2 = falloc(np), *t = falloc(nx > ny ? nx : ny);
        for (size_t i = 0; i < nx; i++) x[i] = (float)sin(0.37 * i);
        for (size_t i = 0; i < ny; i++) dy[i] = (float)cos(0.11 * i);
        for (size_t i = 0; i < np; i++) p[i] = (float)sin(1.3 * i + 0.5) * 0.2f;
        for (size_t i = 0; i < np; i++) g1[i] = g2[i] = 1.0f;
        mg_conv_dnnl *cr = NULL, *cb = NULL;
        assert_int_equal(mg_conv_dnnl_create(&s, n, 1, MG_CONV_DNNL_BLOCKED, &cr), MG_OK);
        assert_int_equal(mg_conv_dnnl_create(&s, n, 1, MG_CONV_DNNL_BLK8, &cb), MG_OK);
        assert_int_equal(mg_conv_dnnl_forward(cr, p, x, y1, n), MG_OK);
        assert_int_equal(mg_conv_dnnl_backward(cr, p, g1, x, dy, dx1, n), MG_OK);
        to_blk8(x, xb, n, s.cin, hw);
        to_blk8(dy, dyb, n, s.cout, ohw);
        fill_nan(t, ny);
        assert_int_equal(mg_conv_dnnl_forward(cb, p, xb, t, n), MG_OK);
        from_blk8(t, y2, n, s.cout, ohw);
        fill_nan(t, nx);
        assert_int_equal(mg_conv_dnnl_backward(cb, p, g2, xb, dyb, t, n), MG_OK);
        from_blk8(t, dx2, n, s.cin, hw);
        assert_memory_equal(y1, y2, sizeof(float) * ny);
        assert_memory_equal(dx1, dx2, sizeof(float) * nx);
        assert_memory_equal(g1, g2, sizeof(float) * np);
        mg_conv_dnnl_free(cr);
        mg_conv_dnnl_free(cb);
        free(x), free(dy), free(p), free(xb), free(dyb), free(y1), free(dx1), free(g1);
        free(y2), free(dx2), free(g2), free(t);
    }
    /* channels not in multiples of 8 */
    mg_conv2d_shape s;
    mg_conv_dnnl *c = NULL;
    assert_int_equal(mg_conv2d_shape_init(&s, 12, 6, 6, 16, 3, 3, 1, 1, 0), MG_OK);
    assert_int_equal(mg_conv_dnnl_create(&s, 2, 1, MG_CONV_DNNL_BLK8, &c), MG_ERR_CONFIG);
    assert_null(c);
    assert_non_null(strstr(mg_errmsg(), "multiples of 8"));
}

int main(void)
{
    /* The ISA the mixgeo program caps oneDNN at by default (portable kernels,
     * src/cli/main.c).  Above it (AVX-512) oneDNN's own blocked layout is
     * nChw16c, whose sums round differently from nChw8c's, and the bitwise
     * comparison of test_dnnl_blk8 holds only between equal layouts. */
    if (getenv("DNNL_MAX_CPU_ISA") == NULL) dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dnnl_errors),
        cmocka_unit_test(test_dnnl_vs_reference),
        cmocka_unit_test(test_dnnl_batch_sizes),
        cmocka_unit_test(test_dnnl_blk8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
